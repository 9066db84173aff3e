//! Working a conversation: internal notes, saved replies, and replies sent from the inbox.

use crate::extract::{ApiJson, ApiUser};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use switchboard_service::handoff::HandoffInput;
use switchboard_service::inbox_work::{
    NoteInput, PresenceInput, ReplyInput, SavedReplyInput, SavedReplyPatch,
};

type ApiResult<T> = Result<T, ApiError>;

pub async fn list_notes(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
) -> ApiResult<Response> {
    let notes = state
        .app
        .list_notes(&user.actor(), &ws, &conversation)
        .await?;
    Ok(Json(json!({ "notes": notes })).into_response())
}

pub async fn add_note(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
    ApiJson(body): ApiJson<NoteInput>,
) -> ApiResult<Response> {
    let note = state
        .app
        .add_note(&user.actor(), &ws, &conversation, body)
        .await?;
    Ok((StatusCode::CREATED, Json(note)).into_response())
}

pub async fn list_replies(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
) -> ApiResult<Response> {
    let replies = state
        .app
        .list_replies(&user.actor(), &ws, &conversation)
        .await?;
    Ok(Json(json!({ "replies": replies })).into_response())
}

/// 201 with the queued reply; 200 with the existing one when the idempotency key was used.
pub async fn create_reply(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReplyInput>,
) -> ApiResult<Response> {
    let out = state
        .app
        .create_reply(&user.actor(), &ws, &conversation, body)
        .await?;
    let status = if out.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)).into_response())
}

pub async fn list_saved_replies(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let list = state.app.list_saved_replies(&user.actor(), &ws).await?;
    Ok(Json(json!({ "saved_replies": list })).into_response())
}

pub async fn create_saved_reply(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<SavedReplyInput>,
) -> ApiResult<Response> {
    let s = state
        .app
        .create_saved_reply(&user.actor(), &ws, body)
        .await?;
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

pub async fn get_saved_reply(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, reply)): Path<(String, String)>,
) -> ApiResult<Response> {
    let s = state
        .app
        .get_saved_reply(&user.actor(), &ws, &reply)
        .await?;
    Ok(Json(s).into_response())
}

pub async fn update_saved_reply(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, reply)): Path<(String, String)>,
    ApiJson(body): ApiJson<SavedReplyPatch>,
) -> ApiResult<Response> {
    let s = state
        .app
        .update_saved_reply(&user.actor(), &ws, &reply, body)
        .await?;
    Ok(Json(s).into_response())
}

pub async fn delete_saved_reply(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, reply)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .delete_saved_reply(&user.actor(), &ws, &reply)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A heartbeat `{"state": "viewing"|"replying"}`; answers who else is at the conversation.
pub async fn set_presence(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
    ApiJson(body): ApiJson<PresenceInput>,
) -> ApiResult<Response> {
    let others = state
        .app
        .set_presence(&user.actor(), &ws, &conversation, body)
        .await?;
    Ok(Json(json!({ "others": others })).into_response())
}

pub async fn get_presence(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
) -> ApiResult<Response> {
    let others = state
        .app
        .get_presence(&user.actor(), &ws, &conversation)
        .await?;
    Ok(Json(json!({ "others": others })).into_response())
}

pub async fn list_handoffs(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
) -> ApiResult<Response> {
    let handoffs = state
        .app
        .list_handoffs(&user.actor(), &ws, &conversation)
        .await?;
    Ok(Json(json!({ "handoffs": handoffs })).into_response())
}

/// 202: the hand-offs are queued (delivered by the job worker); pending ones are answered
/// again rather than sent twice.
pub async fn handoff(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, conversation)): Path<(String, String)>,
    ApiJson(body): ApiJson<HandoffInput>,
) -> ApiResult<Response> {
    let handoffs = state
        .app
        .handoff_conversation(&user.actor(), &ws, &conversation, body)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "handoffs": handoffs }))).into_response())
}
