//! Outbound webhooks: create (the signing secret is in this answer only), list, delete, the
//! deliveries with their attempts, and a test event.

use crate::extract::{ApiJson, ApiUser};
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use switchboard_core::ErrorCode;
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
    if let Some(k) = q.keys().find(|k| k.as_str() != "limit") {
        return Err(ApiError::field(
            ErrorCode::InvalidQuery,
            k.clone(),
            "unknown parameter; expected limit",
        ));
    }
    let limit = match q.get("limit") {
        None => 50,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    ErrorCode::InvalidQuery,
                    "limit",
                    "must be a whole number from 1 to 500",
                )
            })?,
    };
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
