//! Request extractors: JSON bodies with field-precise errors, and the authenticated caller.

use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use switchboard_core::ErrorCode;
use switchboard_service::{AuthUser, Credential, ServiceError};

pub const SESSION_COOKIE: &str = "sb_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A JSON body. Syntax errors answer 400 `malformed_json`; a missing or mistyped field
/// answers 422 `validation_failed` naming the field's path; over 1 MiB answers 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::code(
                ErrorCode::UnsupportedMediaType,
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::code(ErrorCode::PayloadTooLarge, "the body is larger than 1 MiB")
            } else {
                ApiError::code(
                    ErrorCode::MalformedJson,
                    format!("could not read the body: {rejection}"),
                )
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::code(
            ErrorCode::MalformedJson,
            "the body is empty; send a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = strip_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => {
                // "missing field `name`" is reported at the parent; name the field itself.
                let field = match text
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                {
                    Some(missing) if path == "." => missing.to_string(),
                    Some(missing) => format!("{path}.{missing}"),
                    None if text.starts_with("unknown field `") => text
                        .trim_start_matches("unknown field `")
                        .split('`')
                        .next()
                        .unwrap_or(".")
                        .to_string(),
                    None => path,
                };
                ApiError::field(ErrorCode::ValidationFailed, field, text)
            }
            _ => ApiError::code(ErrorCode::MalformedJson, format!("invalid JSON: {text}")),
        }
    })
}

/// serde_json appends " at line 1 column 7"; the field name says more to an API user.
fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Set-Cookie value: HttpOnly, SameSite=Lax, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

pub fn client_ip(state: &AppState, parts: &Parts) -> String {
    if state.config.trust_proxy {
        if let Some(ip) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            return ip.to_string();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client's address, for rate limiting.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(state, parts)))
    }
}

/// Who is calling, from a bearer token or the session cookie.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<AuthUser, ServiceError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| ServiceError::Unauthenticated)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(ServiceError::Unauthenticated)?;
        return state.app.authenticate_token(token.trim()).await;
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(session) if !session.is_empty() => state.app.authenticate_session(&session).await,
        _ => Err(ServiceError::Unauthenticated),
    }
}

/// An authenticated API caller. Cookie-authenticated writes must also send the session's
/// CSRF token in `X-CSRF-Token`; bearer tokens cannot be sent by a browser on its own.
pub struct ApiUser(pub AuthUser);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = authenticate(state, &parts.headers).await?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if let (false, Credential::Session { csrf_token, .. }) = (safe, &user.credential) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !switchboard_service::auth::constant_time_eq(sent, csrf_token) {
                return Err(ApiError::code(
                    ErrorCode::CsrfFailed,
                    "send the session's CSRF token (from /api/v1/me or the login answer) in X-CSRF-Token",
                ));
            }
        }
        Ok(ApiUser(user))
    }
}
