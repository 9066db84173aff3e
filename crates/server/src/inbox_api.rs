//! The unified inbox: conversations, assignment and status, routing rules, preview, re-run.

use crate::extract::{ApiJson, ApiUser};
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use switchboard_core::ErrorCode;
use switchboard_service::inbox::{
    AssignInput, ConversationPatch, ConversationQuery, RerunInput, RuleInput, RulePatch,
    StatusInput,
};

type ApiResult<T> = Result<T, ApiError>;

const LIST_PARAMS: &[&str] = &[
    "view",
    "status",
    "network",
    "intent",
    "sentiment",
    "lang",
    "assignee",
    "tag",
    "q",
    "sla",
    "limit",
    "cursor",
];

/// `?view=all|mine|unassigned|team:{team}&status=&network=&intent=&sentiment=&lang=&assignee=&tag=&q=&sla=&limit=&cursor=`
pub async fn list_conversations(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    if let Some(k) = q.keys().find(|k| !LIST_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::field(
            ErrorCode::InvalidQuery,
            k,
            format!(
                "unknown parameter; expected one of: {}",
                LIST_PARAMS.join(", ")
            ),
        ));
    }
    let limit = match q.get("limit") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| {
                    ApiError::field(
                        ErrorCode::InvalidQuery,
                        "limit",
                        "must be a whole number from 1 to 200",
                    )
                })?,
        ),
    };
    let get = |k: &str| q.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let query = ConversationQuery {
        view: get("view"),
        status: get("status"),
        network: get("network"),
        intent: get("intent"),
        sentiment: get("sentiment"),
        lang: get("lang"),
        assignee: get("assignee"),
        tag: get("tag"),
        q: get("q"),
        sla: get("sla"),
        limit,
        cursor: get("cursor"),
    };
    let page = state
        .app
        .list_conversations(&user.actor(), &ws, query)
        .await?;
    Ok(Json(page).into_response())
}

pub async fn get_conversation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
) -> ApiResult<Response> {
    let c = state
        .app
        .get_conversation(&user.actor(), &ws, &conversation)
        .await?;
    Ok(Json(c).into_response())
}

pub async fn assign(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
    ApiJson(body): ApiJson<AssignInput>,
) -> ApiResult<Response> {
    let c = state
        .app
        .assign_conversation(&user.actor(), &ws, &conversation, body)
        .await?;
    Ok(Json(c).into_response())
}

pub async fn set_status(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
    ApiJson(body): ApiJson<StatusInput>,
) -> ApiResult<Response> {
    let c = state
        .app
        .set_conversation_status(&user.actor(), &ws, &conversation, body)
        .await?;
    Ok(Json(c).into_response())
}

/// `{"priority"?, "tags"?}`: set by hand.
pub async fn update_conversation(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
    ApiJson(body): ApiJson<ConversationPatch>,
) -> ApiResult<Response> {
    let c = state
        .app
        .update_conversation(&user.actor(), &ws, &conversation, body)
        .await?;
    Ok(Json(c).into_response())
}

pub async fn list_rules(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let rules = state.app.list_routing_rules(&user.actor(), &ws).await?;
    Ok(Json(json!({ "rules": rules })).into_response())
}

pub async fn create_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<RuleInput>,
) -> ApiResult<Response> {
    let r = state
        .app
        .create_routing_rule(&user.actor(), &ws, body)
        .await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

pub async fn update_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, rule)): Path<(String, String)>,
    ApiJson(body): ApiJson<RulePatch>,
) -> ApiResult<Response> {
    let r = state
        .app
        .update_routing_rule(&user.actor(), &ws, &rule, body)
        .await?;
    Ok(Json(r).into_response())
}

pub async fn delete_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, rule)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_routing_rule(&user.actor(), &ws, &rule)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn preview_rule(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<RuleInput>,
) -> ApiResult<Response> {
    let p = state.app.preview_rule(&user.actor(), &ws, body).await?;
    Ok(Json(p).into_response())
}

pub async fn rerun(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<RerunInput>,
) -> ApiResult<Response> {
    let r = state
        .app
        .rerun_routing(&user.actor(), &ws, &body.from, &body.to)
        .await?;
    Ok(Json(r).into_response())
}
