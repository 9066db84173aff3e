//! Listening: search, topics, analytics, share of voice, annotations and spike alerts.

use crate::extract::{ApiJson, ApiUser};
use crate::params::{limit, only};
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use switchboard_service::listening::{AnalyticsParams, AnnotationInput, TopicInput};

type ApiResult<T> = Result<T, ApiError>;

/// `?q=QUERY&limit=&cursor=`: matching items newest first, with highlight ranges and the total.
pub async fn search(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    only(&q, &["q", "limit", "cursor"])?;
    let text = q.get("q").map(String::as_str).unwrap_or("");
    let page = state
        .app
        .search(
            &user.actor(),
            &ws,
            text,
            limit(&q, 50, 500)?,
            q.get("cursor").map(String::as_str),
        )
        .await?;
    Ok(Json(page).into_response())
}

fn analytics_params(q: &HashMap<String, String>) -> AnalyticsParams {
    AnalyticsParams {
        q: q.get("q").cloned(),
        topic: q.get("topic").cloned(),
        from: q.get("from").cloned(),
        to: q.get("to").cloned(),
        interval: q.get("interval").cloned(),
        tz: q.get("tz").cloned(),
    }
}

/// `?q=` or `?topic=`, `from`, `to`, `interval=hour|day|week`, `tz=Europe/Berlin`.
pub async fn analytics(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    only(&q, &["q", "topic", "from", "to", "interval", "tz"])?;
    let a = state
        .app
        .analytics(&user.actor(), &ws, &analytics_params(&q))
        .await?;
    Ok(Json(a).into_response())
}

/// `?topics=ID,ID` (default: all topics), `from`, `to`, `interval`, `tz`.
pub async fn share_of_voice(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    only(&q, &["topics", "from", "to", "interval", "tz"])?;
    let topics: Vec<String> = q
        .get("topics")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let sov = state
        .app
        .share_of_voice(&user.actor(), &ws, &topics, &analytics_params(&q))
        .await?;
    Ok(Json(sov).into_response())
}

pub async fn list_topics(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let topics = state.app.list_topics(&user.actor(), &ws).await?;
    Ok(Json(json!({ "topics": topics })).into_response())
}

pub async fn create_topic(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<TopicInput>,
) -> ApiResult<Response> {
    let t = state.app.create_topic(&user.actor(), &ws, body).await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

pub async fn get_topic(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, topic)): Path<(String, String)>,
) -> ApiResult<Response> {
    let t = state.app.get_topic(&user.actor(), &ws, &topic).await?;
    Ok(Json(t).into_response())
}

pub async fn update_topic(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, topic)): Path<(String, String)>,
    ApiJson(body): ApiJson<TopicInput>,
) -> ApiResult<Response> {
    let t = state
        .app
        .update_topic(&user.actor(), &ws, &topic, body)
        .await?;
    Ok(Json(t).into_response())
}

pub async fn delete_topic(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, topic)): Path<(String, String)>,
) -> ApiResult<Response> {
    state.app.delete_topic(&user.actor(), &ws, &topic).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_annotations(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let a = state.app.list_annotations(&user.actor(), &ws).await?;
    Ok(Json(json!({ "annotations": a })).into_response())
}

pub async fn create_annotation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<AnnotationInput>,
) -> ApiResult<Response> {
    let a = state
        .app
        .create_annotation(&user.actor(), &ws, body)
        .await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

pub async fn delete_annotation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, annotation)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_annotation(&user.actor(), &ws, &annotation)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Spikes are the alerts: newest first, `?limit=` up to 500.
pub async fn list_spikes(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    only(&q, &["limit"])?;
    let spikes = state
        .app
        .list_spikes(&user.actor(), &ws, limit(&q, 50, 500)? as i64)
        .await?;
    Ok(Json(json!({ "spikes": spikes })).into_response())
}

pub async fn acknowledge_spike(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, spike)): Path<(String, String)>,
) -> ApiResult<Response> {
    let s = state
        .app
        .acknowledge_spike(&user.actor(), &ws, &spike)
        .await?;
    Ok(Json(s).into_response())
}
