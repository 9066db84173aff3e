//! The JSON API under `/api/v1`. Every handler authenticates, then asks the service layer,
//! which checks the permission matrix; objects the caller cannot see answer 404.

use crate::extract::{is_secure, set_cookie, ApiJson, ApiUser, ClientIp, SESSION_COOKIE};
use crate::inbox_api;
use crate::inbox_work_api;
use crate::ingest_api;
use crate::listening_api;
use crate::sla_api;
use crate::webhooks_api;
use crate::{ApiError, AppState};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use switchboard_core::ErrorCode;
use switchboard_service::ops::{
    AddMember, AddTeamMember, CreateTeam, CreateWorkspace, UpdateMember, UpdateTeam,
    UpdateWorkspace,
};
use switchboard_service::Credential;

/// Every API route (method, path). The cross-organisation test walks this list, and a test
/// checks it against the router below so a new route cannot be left out.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/orgs/{org}/audit"),
    ("GET", "/api/v1/workspaces"),
    ("POST", "/api/v1/workspaces"),
    ("GET", "/api/v1/workspaces/{ws}"),
    ("PATCH", "/api/v1/workspaces/{ws}"),
    ("DELETE", "/api/v1/workspaces/{ws}"),
    ("GET", "/api/v1/workspaces/{ws}/audit"),
    ("GET", "/api/v1/workspaces/{ws}/teams"),
    ("POST", "/api/v1/workspaces/{ws}/teams"),
    ("GET", "/api/v1/workspaces/{ws}/teams/{team}"),
    ("PATCH", "/api/v1/workspaces/{ws}/teams/{team}"),
    ("DELETE", "/api/v1/workspaces/{ws}/teams/{team}"),
    ("POST", "/api/v1/workspaces/{ws}/teams/{team}/members"),
    (
        "DELETE",
        "/api/v1/workspaces/{ws}/teams/{team}/members/{user}",
    ),
    ("GET", "/api/v1/workspaces/{ws}/members"),
    ("POST", "/api/v1/workspaces/{ws}/members"),
    ("PATCH", "/api/v1/workspaces/{ws}/members/{user}"),
    ("DELETE", "/api/v1/workspaces/{ws}/members/{user}"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token}"),
    ("GET", "/api/v1/workspaces/{ws}/items"),
    ("GET", "/api/v1/workspaces/{ws}/items/{item}"),
    ("POST", "/api/v1/workspaces/{ws}/import"),
    ("GET", "/api/v1/workspaces/{ws}/ingest-sources"),
    ("POST", "/api/v1/workspaces/{ws}/ingest-sources"),
    ("DELETE", "/api/v1/workspaces/{ws}/ingest-sources/{source}"),
    ("POST", "/api/v1/workspaces/{ws}/ingest/{source}"),
    ("GET", "/api/v1/workspaces/{ws}/dictionary"),
    ("POST", "/api/v1/workspaces/{ws}/dictionary"),
    ("DELETE", "/api/v1/workspaces/{ws}/dictionary/{entry}"),
    ("GET", "/api/v1/workspaces/{ws}/channels"),
    ("POST", "/api/v1/workspaces/{ws}/channels"),
    ("DELETE", "/api/v1/workspaces/{ws}/channels/{channel}"),
    ("POST", "/api/v1/workspaces/{ws}/channels/{channel}/poll"),
    (
        "POST",
        "/api/v1/workspaces/{ws}/channels/{channel}/credentials",
    ),
    ("GET", "/api/v1/workspaces/{ws}/webhooks"),
    ("POST", "/api/v1/workspaces/{ws}/webhooks"),
    ("DELETE", "/api/v1/workspaces/{ws}/webhooks/{webhook}"),
    (
        "GET",
        "/api/v1/workspaces/{ws}/webhooks/{webhook}/deliveries",
    ),
    ("POST", "/api/v1/workspaces/{ws}/webhooks/{webhook}/test"),
    ("GET", "/api/v1/workspaces/{ws}/search"),
    ("GET", "/api/v1/workspaces/{ws}/analytics"),
    ("GET", "/api/v1/workspaces/{ws}/share-of-voice"),
    ("GET", "/api/v1/workspaces/{ws}/topics"),
    ("POST", "/api/v1/workspaces/{ws}/topics"),
    ("GET", "/api/v1/workspaces/{ws}/topics/{topic}"),
    ("PATCH", "/api/v1/workspaces/{ws}/topics/{topic}"),
    ("DELETE", "/api/v1/workspaces/{ws}/topics/{topic}"),
    ("GET", "/api/v1/workspaces/{ws}/annotations"),
    ("POST", "/api/v1/workspaces/{ws}/annotations"),
    ("DELETE", "/api/v1/workspaces/{ws}/annotations/{annotation}"),
    ("GET", "/api/v1/workspaces/{ws}/spikes"),
    ("POST", "/api/v1/workspaces/{ws}/spikes/{spike}/acknowledge"),
    ("GET", "/api/v1/workspaces/{ws}/conversations"),
    (
        "GET",
        "/api/v1/workspaces/{ws}/conversations/{conversation}",
    ),
    (
        "PATCH",
        "/api/v1/workspaces/{ws}/conversations/{conversation}",
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/assign",
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/status",
    ),
    ("GET", "/api/v1/workspaces/{ws}/routing-rules"),
    ("POST", "/api/v1/workspaces/{ws}/routing-rules"),
    ("POST", "/api/v1/workspaces/{ws}/routing-rules/preview"),
    ("PATCH", "/api/v1/workspaces/{ws}/routing-rules/{rule}"),
    ("DELETE", "/api/v1/workspaces/{ws}/routing-rules/{rule}"),
    ("POST", "/api/v1/workspaces/{ws}/routing/rerun"),
    ("GET", "/api/v1/workspaces/{ws}/sla-policies"),
    ("POST", "/api/v1/workspaces/{ws}/sla-policies"),
    ("GET", "/api/v1/workspaces/{ws}/sla-policies/{policy}"),
    ("PATCH", "/api/v1/workspaces/{ws}/sla-policies/{policy}"),
    ("DELETE", "/api/v1/workspaces/{ws}/sla-policies/{policy}"),
    ("GET", "/api/v1/workspaces/{ws}/sla/breaches"),
    (
        "GET",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/sla",
    ),
    ("GET", "/api/v1/workspaces/{ws}/inbox/metrics"),
    (
        "GET",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/notes",
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/notes",
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/replies",
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/replies",
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/handoffs",
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/handoffs",
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/presence",
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/conversations/{conversation}/presence",
    ),
    ("GET", "/api/v1/workspaces/{ws}/saved-replies"),
    ("POST", "/api/v1/workspaces/{ws}/saved-replies"),
    ("GET", "/api/v1/workspaces/{ws}/saved-replies/{reply}"),
    ("PATCH", "/api/v1/workspaces/{ws}/saved-replies/{reply}"),
    ("DELETE", "/api/v1/workspaces/{ws}/saved-replies/{reply}"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/orgs/{org}/audit", get(org_audit))
        .route("/workspaces", get(list_workspaces).post(create_workspace))
        .route(
            "/workspaces/{ws}",
            get(get_workspace)
                .patch(update_workspace)
                .delete(delete_workspace),
        )
        .route("/workspaces/{ws}/audit", get(workspace_audit))
        .route("/workspaces/{ws}/teams", get(list_teams).post(create_team))
        .route(
            "/workspaces/{ws}/teams/{team}",
            get(get_team).patch(update_team).delete(delete_team),
        )
        .route(
            "/workspaces/{ws}/teams/{team}/members",
            post(add_team_member),
        )
        .route(
            "/workspaces/{ws}/teams/{team}/members/{user}",
            delete(remove_team_member),
        )
        .route(
            "/workspaces/{ws}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/workspaces/{ws}/members/{user}",
            axum::routing::patch(update_member).delete(remove_member),
        )
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{token}", delete(revoke_token))
        .route("/workspaces/{ws}/items", get(ingest_api::list_items))
        .route("/workspaces/{ws}/items/{item}", get(ingest_api::get_item))
        .route(
            "/workspaces/{ws}/import",
            post(ingest_api::import).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/workspaces/{ws}/ingest-sources",
            get(ingest_api::list_sources).post(ingest_api::create_source),
        )
        .route(
            "/workspaces/{ws}/ingest-sources/{source}",
            delete(ingest_api::delete_source),
        )
        .route(
            "/workspaces/{ws}/ingest/{source}",
            post(ingest_api::webhook),
        )
        .route(
            "/workspaces/{ws}/dictionary",
            get(ingest_api::list_dictionary).post(ingest_api::add_dictionary_entry),
        )
        .route(
            "/workspaces/{ws}/dictionary/{entry}",
            delete(ingest_api::delete_dictionary_entry),
        )
        .route(
            "/workspaces/{ws}/channels",
            get(ingest_api::list_channels).post(ingest_api::create_channel),
        )
        .route(
            "/workspaces/{ws}/channels/{channel}",
            delete(ingest_api::delete_channel),
        )
        .route(
            "/workspaces/{ws}/channels/{channel}/poll",
            post(ingest_api::poll_channel),
        )
        .route(
            "/workspaces/{ws}/channels/{channel}/credentials",
            post(ingest_api::reconnect_channel),
        )
        .route(
            "/workspaces/{ws}/webhooks",
            get(webhooks_api::list).post(webhooks_api::create),
        )
        .route(
            "/workspaces/{ws}/webhooks/{webhook}",
            delete(webhooks_api::delete),
        )
        .route(
            "/workspaces/{ws}/webhooks/{webhook}/deliveries",
            get(webhooks_api::deliveries),
        )
        .route(
            "/workspaces/{ws}/webhooks/{webhook}/test",
            post(webhooks_api::test),
        )
        .route("/workspaces/{ws}/search", get(listening_api::search))
        .route("/workspaces/{ws}/analytics", get(listening_api::analytics))
        .route(
            "/workspaces/{ws}/share-of-voice",
            get(listening_api::share_of_voice),
        )
        .route(
            "/workspaces/{ws}/topics",
            get(listening_api::list_topics).post(listening_api::create_topic),
        )
        .route(
            "/workspaces/{ws}/topics/{topic}",
            get(listening_api::get_topic)
                .patch(listening_api::update_topic)
                .delete(listening_api::delete_topic),
        )
        .route(
            "/workspaces/{ws}/annotations",
            get(listening_api::list_annotations).post(listening_api::create_annotation),
        )
        .route(
            "/workspaces/{ws}/annotations/{annotation}",
            delete(listening_api::delete_annotation),
        )
        .route("/workspaces/{ws}/spikes", get(listening_api::list_spikes))
        .route(
            "/workspaces/{ws}/spikes/{spike}/acknowledge",
            post(listening_api::acknowledge_spike),
        )
        .route(
            "/workspaces/{ws}/conversations",
            get(inbox_api::list_conversations),
        )
        .route(
            "/workspaces/{ws}/conversations/{conversation}",
            get(inbox_api::get_conversation).patch(inbox_api::update_conversation),
        )
        .route(
            "/workspaces/{ws}/conversations/{conversation}/assign",
            post(inbox_api::assign),
        )
        .route(
            "/workspaces/{ws}/conversations/{conversation}/status",
            post(inbox_api::set_status),
        )
        .route(
            "/workspaces/{ws}/routing-rules",
            get(inbox_api::list_rules).post(inbox_api::create_rule),
        )
        .route(
            "/workspaces/{ws}/routing-rules/preview",
            post(inbox_api::preview_rule),
        )
        .route(
            "/workspaces/{ws}/routing-rules/{rule}",
            axum::routing::patch(inbox_api::update_rule).delete(inbox_api::delete_rule),
        )
        .route("/workspaces/{ws}/routing/rerun", post(inbox_api::rerun))
        .route(
            "/workspaces/{ws}/sla-policies",
            get(sla_api::list_policies).post(sla_api::create_policy),
        )
        .route(
            "/workspaces/{ws}/sla-policies/{policy}",
            get(sla_api::get_policy)
                .patch(sla_api::update_policy)
                .delete(sla_api::delete_policy),
        )
        .route("/workspaces/{ws}/sla/breaches", get(sla_api::breaches))
        .route(
            "/workspaces/{ws}/conversations/{conversation}/sla",
            get(sla_api::conversation_sla),
        )
        .route("/workspaces/{ws}/inbox/metrics", get(sla_api::metrics))
        .route(
            "/workspaces/{ws}/conversations/{conversation}/notes",
            get(inbox_work_api::list_notes).post(inbox_work_api::add_note),
        )
        .route(
            "/workspaces/{ws}/conversations/{conversation}/replies",
            get(inbox_work_api::list_replies).post(inbox_work_api::create_reply),
        )
        .route(
            "/workspaces/{ws}/conversations/{conversation}/handoffs",
            get(inbox_work_api::list_handoffs).post(inbox_work_api::handoff),
        )
        .route(
            "/workspaces/{ws}/conversations/{conversation}/presence",
            get(inbox_work_api::get_presence).post(inbox_work_api::set_presence),
        )
        .route(
            "/workspaces/{ws}/saved-replies",
            get(inbox_work_api::list_saved_replies).post(inbox_work_api::create_saved_reply),
        )
        .route(
            "/workspaces/{ws}/saved-replies/{reply}",
            get(inbox_work_api::get_saved_reply)
                .patch(inbox_work_api::update_saved_reply)
                .delete(inbox_work_api::delete_saved_reply),
        )
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let session = state.app.login(&body.email, &body.password, &ip).await?;
    let cookie = set_cookie(
        SESSION_COOKIE,
        &session.token,
        session.max_age.as_secs(),
        is_secure(&state, &headers),
    );
    let me = state.app.me(&session.user).await?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({ "user": me.user, "csrf_token": session.csrf_token })),
    )
        .into_response())
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiUser(user): ApiUser,
) -> ApiResult<Response> {
    if let Some(token) = crate::extract::cookie(&headers, SESSION_COOKIE) {
        state.app.logout(&token).await?;
    }
    let _ = user;
    let cookie = set_cookie(SESSION_COOKIE, "", 0, is_secure(&state, &headers));
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

async fn me(State(state): State<AppState>, ApiUser(user): ApiUser) -> ApiResult<Response> {
    let me = state.app.me(&user.user).await?;
    let mut body = serde_json::to_value(&me)
        .map_err(|e| ApiError::from(switchboard_service::ServiceError::internal(e)))?;
    if let Credential::Session { csrf_token, .. } = &user.credential {
        body["csrf_token"] = csrf_token.clone().into();
    }
    Ok(Json(body).into_response())
}

/// `?limit=` and `?before=` for the audit log, with errors naming the parameter.
fn page(q: &HashMap<String, String>) -> ApiResult<(Option<String>, i64)> {
    let limit = match q.get("limit") {
        None => 100,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                return Err(ApiError::field(
                    ErrorCode::InvalidQuery,
                    "limit",
                    "must be a whole number from 1 to 500",
                ))
            }
        },
    };
    for k in q.keys() {
        if k != "limit" && k != "before" {
            return Err(ApiError::field(
                ErrorCode::InvalidQuery,
                k.clone(),
                "unknown parameter; expected limit or before",
            ));
        }
    }
    Ok((q.get("before").cloned(), limit))
}

async fn org_audit(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(org): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (before, limit) = page(&q)?;
    let entries = state
        .app
        .org_audit(&user.actor(), &org, before.as_deref(), limit)
        .await?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

async fn workspace_audit(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (before, limit) = page(&q)?;
    let entries = state
        .app
        .workspace_audit(&user.actor(), &ws, before.as_deref(), limit)
        .await?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

async fn list_workspaces(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Response> {
    let workspaces = state.app.list_workspaces(&user.actor()).await?;
    Ok(Json(json!({ "workspaces": workspaces })).into_response())
}

async fn create_workspace(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<CreateWorkspace>,
) -> ApiResult<Response> {
    let w = state.app.create_workspace(&user.actor(), body).await?;
    Ok((StatusCode::CREATED, Json(w)).into_response())
}

async fn get_workspace(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(state.app.get_workspace(&user.actor(), &ws).await?).into_response())
}

async fn update_workspace(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<UpdateWorkspace>,
) -> ApiResult<Response> {
    Ok(Json(state.app.update_workspace(&user.actor(), &ws, body).await?).into_response())
}

async fn delete_workspace(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    state.app.delete_workspace(&user.actor(), &ws).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_teams(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let teams = state.app.list_teams(&user.actor(), &ws).await?;
    Ok(Json(json!({ "teams": teams })).into_response())
}

async fn create_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateTeam>,
) -> ApiResult<Response> {
    let t = state.app.create_team(&user.actor(), &ws, body).await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

async fn get_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, team)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(Json(state.app.get_team(&user.actor(), &ws, &team).await?).into_response())
}

async fn update_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, team)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateTeam>,
) -> ApiResult<Response> {
    Ok(Json(
        state
            .app
            .update_team(&user.actor(), &ws, &team, body)
            .await?,
    )
    .into_response())
}

async fn delete_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, team)): Path<(String, String)>,
) -> ApiResult<Response> {
    state.app.delete_team(&user.actor(), &ws, &team).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn add_team_member(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, team)): Path<(String, String)>,
    ApiJson(body): ApiJson<AddTeamMember>,
) -> ApiResult<Response> {
    Ok(Json(
        state
            .app
            .add_team_member(&user.actor(), &ws, &team, body)
            .await?,
    )
    .into_response())
}

async fn remove_team_member(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, team, member)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    state
        .app
        .remove_team_member(&user.actor(), &ws, &team, &member)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_members(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
) -> ApiResult<Response> {
    let members = state.app.list_members(&user.actor(), &ws).await?;
    Ok(Json(json!({ "members": members })).into_response())
}

async fn add_member(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<AddMember>,
) -> ApiResult<Response> {
    let m = state.app.add_member(&user.actor(), &ws, body).await?;
    Ok((StatusCode::CREATED, Json(m)).into_response())
}

async fn update_member(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, member)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> ApiResult<Response> {
    Ok(Json(
        state
            .app
            .update_member(&user.actor(), &ws, &member, body)
            .await?,
    )
    .into_response())
}

async fn remove_member(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((ws, member)): Path<(String, String)>,
) -> ApiResult<Response> {
    state.app.remove_member(&user.actor(), &ws, &member).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTokenBody {
    name: String,
}

async fn list_tokens(State(state): State<AppState>, ApiUser(user): ApiUser) -> ApiResult<Response> {
    let tokens = state.app.list_tokens(&user.user).await?;
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

async fn create_token(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> ApiResult<Response> {
    let (token, secret) = state.app.create_token(&user.user, &body.name).await?;
    let mut body = serde_json::to_value(&token)
        .map_err(|e| ApiError::from(switchboard_service::ServiceError::internal(e)))?;
    body["token"] = secret.into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(state.app.revoke_token(&user.user, &token).await?).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_table_lists_every_route_of_the_router() {
        let src = include_str!("api.rs");
        let router =
            &src[src.find("pub fn routes()").unwrap()..src.find("type ApiResult").unwrap()];
        // rustfmt may wrap a route over several lines; read the router without whitespace.
        let router: String = router.split_whitespace().collect();
        let mut registered = Vec::new();
        for seg in router.split(".route(\"").skip(1) {
            let (path, methods) = seg.split_once('"').unwrap();
            for (m, needle) in [
                ("GET", "get("),
                ("POST", "post("),
                ("PATCH", "patch("),
                ("DELETE", "delete("),
            ] {
                if methods.contains(needle) {
                    registered.push((m.to_string(), format!("/api/v1{path}")));
                }
            }
        }
        let mut listed: Vec<_> = super::ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        registered.sort();
        listed.sort();
        assert_eq!(registered, listed);
    }
}
