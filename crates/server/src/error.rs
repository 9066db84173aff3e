//! One error type for the HTTP edge, answered as `{"error": {"code", "message", "field"}}`
//! with the status from the error-code table.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_core::ErrorCode;
use switchboard_service::ServiceError;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
    /// For query syntax errors: the 1-based column.
    pub position: Option<usize>,
}

impl ApiError {
    pub fn code(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            position: None,
        }
    }

    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: Some(field.into()),
            retry_after: None,
            position: None,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = e.code();
        let message = match code {
            // Details of internal failures go to the log, not to the caller.
            ErrorCode::Internal => {
                tracing::error!(error = %e, "request failed");
                "internal error; see the server log for this request id".to_string()
            }
            ErrorCode::Unavailable => {
                tracing::error!(error = %e, "database unavailable");
                "the database is not reachable".to_string()
            }
            ErrorCode::ValidationFailed => match &e {
                ServiceError::Validation(v) => v.message.clone(),
                _ => e.to_string(),
            },
            ErrorCode::QuerySyntax => match &e {
                ServiceError::QuerySyntax { message, .. } => message.clone(),
                _ => e.to_string(),
            },
            _ => e.to_string(),
        };
        let position = match &e {
            ServiceError::QuerySyntax { position, .. } => Some(*position),
            _ => None,
        };
        let retry_after = match e {
            ServiceError::RateLimited { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        ApiError {
            code,
            field: e.field().map(str::to_string),
            message,
            retry_after,
            position,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = serde_json::json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(f) = self.field {
            error["field"] = f.into();
        }
        if let Some(p) = self.position {
            error["position"] = p.into();
        }
        let mut res = (status, Json(serde_json::json!({ "error": error }))).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}
