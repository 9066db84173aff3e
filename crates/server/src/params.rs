//! Query-string parameters, checked the same way on every route: unknown names and bad values
//! answer 400 `invalid_query` naming the parameter.

use crate::ApiError;
use std::collections::HashMap;
use switchboard_core::ErrorCode;

pub(crate) fn query_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(ErrorCode::InvalidQuery, field, message)
}

/// Refuses parameters other than `allowed`, so a typo is not silently ignored.
pub(crate) fn only(q: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(query_error(
            k,
            format!("unknown parameter; expected one of: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `?limit=` from 1 to `max`, `default` when absent.
pub(crate) fn limit(
    q: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| query_error("limit", format!("must be a whole number from 1 to {max}"))),
    }
}
