//! Items in and out: listing, file upload import, webhook sources and signed deliveries.

use crate::extract::{ApiJson, ApiUser};
use crate::params::{limit, only, query_error};
use crate::{ApiError, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use switchboard_core::ErrorCode;
use switchboard_service::ingest::{ImportOptions, WebhookDelivery};
use switchboard_service::webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

type ApiResult<T> = Result<T, ApiError>;

/// Uploads may be far larger than the 1 MiB API body limit: they are streamed, never buffered.
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;

pub async fn list_items(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    only(&q, &["limit", "cursor"])?;
    let limit = limit(&q, 50, 500)? as i64;
    let page = state
        .app
        .list_items(
            &user.actor(),
            &ws,
            q.get("cursor").map(String::as_str),
            limit,
        )
        .await?;
    Ok(Json(page).into_response())
}

pub async fn get_item(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, item)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(Json(state.app.get_item(&user.actor(), &ws, &item).await?).into_response())
}

/// `POST /import?format=mastodon[&strict=true][&map=...&network=...][&account=...]` with the
/// file as the body, streamed through the same pipeline as `switchboard import`.
pub async fn import(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> ApiResult<Response> {
    only(&q, &["format", "strict", "map", "network", "account"])?;
    let name = q
        .get("format")
        .ok_or_else(|| query_error("format", "required, e.g. format=mastodon"))?;
    let format = switchboard_service::ingest::format_from(
        name,
        q.get("map").map(String::as_str),
        q.get("network").map(String::as_str),
        q.get("account").map(String::as_str),
    )
    .map_err(|e| match e {
        switchboard_service::ServiceError::Validation(v) => query_error(&v.field, v.message),
        e => e.into(),
    })?;
    let strict = match q.get("strict").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(query_error("strict", "must be true or false")),
    };
    let mut seen = 0u64;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > MAX_UPLOAD_BYTES {
            return Err(std::io::Error::other("upload larger than 1 GiB"));
        }
        Ok::<Bytes, std::io::Error>(chunk)
    });
    let reader = std::io::BufReader::with_capacity(
        256 * 1024,
        tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream)),
    );
    let report = state
        .app
        .import(
            &user.actor(),
            &ws,
            reader,
            format,
            ImportOptions { strict },
            |_| {},
        )
        .await?;
    let status = if report.rejected > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

pub async fn list_sources(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let sources = state.app.list_ingest_sources(&user.actor(), &ws).await?;
    Ok(Json(json!({ "sources": sources })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    name: String,
    #[serde(default = "ndjson")]
    format: String,
}

fn ndjson() -> String {
    "ndjson".into()
}

pub async fn create_source(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateSource>,
) -> ApiResult<Response> {
    let (source, secret) = state
        .app
        .create_ingest_source(&user.actor(), &ws, &body.name, &body.format)
        .await?;
    let mut v = serde_json::to_value(&source)
        .map_err(|e| ApiError::from(switchboard_service::ServiceError::internal(e)))?;
    v["secret"] = secret.into();
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn delete_source(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, source)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_ingest_source(&user.actor(), &ws, &source)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A signed delivery: no session or token, the source's secret proves the sender.
pub async fn webhook(
    State(state): State<AppState>,
    Path((ws, source)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let body = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::code(
                ErrorCode::PayloadTooLarge,
                "the body is larger than 1 MiB; split the delivery",
            )
        })?;
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let delivery = WebhookDelivery {
        timestamp: h(TIMESTAMP_HEADER),
        signature: h(SIGNATURE_HEADER),
        delivery_id: h(DELIVERY_HEADER),
        body: &body,
    };
    let outcome = state.app.webhook_ingest(&ws, &source, delivery).await?;
    Ok(Json(outcome).into_response())
}

pub async fn list_dictionary(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let entries = state.app.list_dictionary(&user.actor(), &ws).await?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

pub async fn add_dictionary_entry(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<switchboard_service::ingest::AddDictionaryEntry>,
) -> ApiResult<Response> {
    let entry = state
        .app
        .add_dictionary_entry(&user.actor(), &ws, body)
        .await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

pub async fn delete_dictionary_entry(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, entry)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_dictionary_entry(&user.actor(), &ws, &entry)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_channels(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let channels = state.app.list_channels(&user.actor(), &ws).await?;
    Ok(Json(json!({ "channels": channels })).into_response())
}

pub async fn create_channel(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<switchboard_service::channels::CreateChannel>,
) -> ApiResult<Response> {
    let channel = state.app.create_channel(&user.actor(), &ws, body).await?;
    Ok((StatusCode::CREATED, Json(channel)).into_response())
}

pub async fn delete_channel(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, channel)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_channel(&user.actor(), &ws, &channel)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn poll_channel(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, channel)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(Json(
        state
            .app
            .poll_channel_now(&user.actor(), &ws, &channel)
            .await?,
    )
    .into_response())
}

pub async fn reconnect_channel(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, channel)): Path<(String, String)>,
    ApiJson(body): ApiJson<switchboard_service::channels::Reconnect>,
) -> ApiResult<Response> {
    Ok(Json(
        state
            .app
            .reconnect_channel(&user.actor(), &ws, &channel, body)
            .await?,
    )
    .into_response())
}
