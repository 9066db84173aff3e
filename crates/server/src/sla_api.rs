//! SLA policies of the unified inbox, the breach list, a conversation's SLA timers and the
//! inbox metrics.

use crate::extract::{ApiJson, ApiUser};
use crate::params;
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use switchboard_service::sla::{breach_state, metrics_range, SlaPolicyInput, SlaPolicyPatch};
use switchboard_service::ServiceError;

type ApiResult<T> = Result<T, ApiError>;

/// A query parameter the service refused: 400 `invalid_query` naming it, like every route.
fn query_err(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Validation(v) => params::query_error(&v.field, v.message),
        other => other.into(),
    }
}

pub async fn list_policies(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let policies = state.app.list_sla_policies(&user.actor(), &ws).await?;
    Ok(Json(json!({ "policies": policies })).into_response())
}

pub async fn create_policy(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<SlaPolicyInput>,
) -> ApiResult<Response> {
    let p = state
        .app
        .create_sla_policy(&user.actor(), &ws, body)
        .await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

pub async fn get_policy(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, policy)): Path<(String, String)>,
) -> ApiResult<Response> {
    let p = state
        .app
        .get_sla_policy(&user.actor(), &ws, &policy)
        .await?;
    Ok(Json(p).into_response())
}

pub async fn update_policy(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, policy)): Path<(String, String)>,
    ApiJson(body): ApiJson<SlaPolicyPatch>,
) -> ApiResult<Response> {
    let p = state
        .app
        .update_sla_policy(&user.actor(), &ws, &policy, body)
        .await?;
    Ok(Json(p).into_response())
}

pub async fn delete_policy(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, policy)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_sla_policy(&user.actor(), &ws, &policy)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `?state=breached|warning` (default `breached`).
pub async fn breaches(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    params::only(&q, &["state"])?;
    let want = breach_state(q.get("state").map(String::as_str)).map_err(query_err)?;
    let list = state.app.sla_breaches(&user.actor(), &ws, want).await?;
    Ok(Json(list).into_response())
}

/// `{"sla": null}` when no policy covers the conversation's team and priority.
pub async fn conversation_sla(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
) -> ApiResult<Response> {
    let sla = state
        .app
        .conversation_sla(&user.actor(), &ws, &conversation)
        .await?;
    Ok(Json(json!({ "conversation_id": conversation, "sla": sla })).into_response())
}

/// `?from=&to=` (RFC 3339 or YYYY-MM-DD; default the 30 days up to now).
pub async fn metrics(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    params::only(&q, &["from", "to"])?;
    let range = metrics_range(
        q.get("from").map(String::as_str),
        q.get("to").map(String::as_str),
    )
    .map_err(query_err)?;
    let m = state.app.inbox_metrics(&user.actor(), &ws, range).await?;
    Ok(Json(m).into_response())
}
