//! Outbound webhooks: create (the signing secret is in this answer only), list, delete, the
//! deliveries with their attempts, and a test event.

use crate::extract::{ApiJson, ApiUser};
use crate::params::{limit, only};
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use switchboard_service::outbound::CreateWebhook;

type ApiResult<T> = Result<T, ApiError>;

pub async fn list(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let webhooks = state.app.list_webhooks(&user.actor(), &ws).await?;
    Ok(Json(json!({ "webhooks": webhooks })).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<Response> {
    let created = state.app.create_webhook(&user.actor(), &ws, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, webhook)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_webhook(&user.actor(), &ws, &webhook)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `?limit=` (1 to 500, default 50), newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, webhook)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    only(&q, &["limit"])?;
    let limit = limit(&q, 50, 500)? as i64;
    let deliveries = state
        .app
        .list_webhook_deliveries(&user.actor(), &ws, &webhook, limit)
        .await?;
    Ok(Json(json!({ "deliveries": deliveries })).into_response())
}

/// Queues a `webhook.test` event for this webhook; 202 with the delivery to watch.
pub async fn test(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, webhook)): Path<(String, String)>,
) -> ApiResult<Response> {
    let delivery = state.app.test_webhook(&user.actor(), &ws, &webhook).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)).into_response())
}
