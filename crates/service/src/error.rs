use switchboard_core::{ErrorCode, ValidationError};
use switchboard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Also what the caller gets for objects in organisations or workspaces they cannot see.
    #[error("not found")]
    NotFound,
    #[error("your role does not allow this: {0}")]
    Forbidden(String),
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong e-mail address or password")]
    InvalidCredentials,
    #[error("{0}")]
    InvalidSignature(String),
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{message} (column {position})")]
    QuerySyntax {
        field: String,
        position: usize,
        message: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(StoreError),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ServiceError::Internal(e.to_string())
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Conflict {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Validation(ValidationError::new(field, message))
    }

    /// A query-language syntax error in the named parameter.
    pub fn query(field: &str, e: switchboard_search::ParseError) -> Self {
        ServiceError::QuerySyntax {
            field: field.to_string(),
            position: e.position,
            message: e.message,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::Validation(_) => ErrorCode::ValidationFailed,
            ServiceError::NotFound => ErrorCode::NotFound,
            ServiceError::Forbidden(_) => ErrorCode::Forbidden,
            ServiceError::Conflict { .. } => ErrorCode::Conflict,
            ServiceError::Unauthenticated => ErrorCode::Unauthenticated,
            ServiceError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ServiceError::InvalidSignature(_) => ErrorCode::InvalidSignature,
            ServiceError::RateLimited { .. } => ErrorCode::RateLimited,
            ServiceError::QuerySyntax { .. } => ErrorCode::QuerySyntax,
            ServiceError::Internal(_) => ErrorCode::Internal,
            ServiceError::Store(e) if e.is_unavailable() => ErrorCode::Unavailable,
            ServiceError::Store(_) => ErrorCode::Internal,
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ServiceError::Validation(v) => Some(&v.field),
            ServiceError::Conflict { field, .. } => field.as_deref(),
            ServiceError::QuerySyntax { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Unique violations become conflicts naming the field; other store errors stay internal.
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique { constraint } => {
                let field = ["email", "slug", "name"]
                    .into_iter()
                    .find(|f| constraint.contains(f))
                    .unwrap_or("id");
                ServiceError::conflict(field, format!("this {field} is already in use"))
            }
            other => ServiceError::Store(other),
        }
    }
}

impl From<switchboard_store::SqlxError> for ServiceError {
    fn from(e: switchboard_store::SqlxError) -> Self {
        ServiceError::Store(StoreError::Db(e))
    }
}
