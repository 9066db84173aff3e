//! The one table of stable API error codes. `docs/api-errors.md` is generated from it and
//! a test keeps the two identical, so clients can rely on the codes.

use serde::Serialize;

macro_rules! error_codes {
    ($($variant:ident => $code:literal, $status:literal, $doc:literal;)*) => {
        /// A stable, machine-readable error code with its HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($variant),* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),* }
            }

            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),* }
            }

            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc),* }
            }
        }
    };
}

error_codes! {
    MalformedJson => "malformed_json", 400, "The body is not valid JSON.";
    InvalidQuery => "invalid_query", 400, "A query-string parameter is missing or invalid; `field` names it.";
    QuerySyntax => "query_syntax", 400, "The listening query (`q`, or a topic's `query`) has a syntax error; `position` is its 1-based column and `field` names the parameter.";
    UnsupportedMediaType => "unsupported_media_type", 415, "The body must be sent as `application/json` (or a form where the page expects one).";
    ValidationFailed => "validation_failed", 422, "A field is missing or has an invalid value; `field` names it.";
    PayloadTooLarge => "payload_too_large", 413, "The body is larger than 1 MiB.";
    Unauthenticated => "unauthenticated", 401, "No valid session cookie or bearer token was presented.";
    InvalidCredentials => "invalid_credentials", 401, "The e-mail address or password is wrong.";
    InvalidSignature => "invalid_signature", 401, "A signed webhook delivery's signature is missing or wrong, its source unknown, or its timestamp more than 300 s from now.";
    CsrfFailed => "csrf_failed", 403, "A cookie-authenticated write lacked a valid CSRF token (form field `csrf_token` or header `X-CSRF-Token`).";
    Forbidden => "forbidden", 403, "The caller can see the object but their role does not allow this action.";
    NotFound => "not_found", 404, "No such object, or it belongs to an organisation or workspace the caller cannot see.";
    MethodNotAllowed => "method_not_allowed", 405, "The route exists but not with this HTTP method.";
    Conflict => "conflict", 409, "The change conflicts with stored data, e.g. a slug or e-mail already in use; `field` names it.";
    RateLimited => "rate_limited", 429, "Too many attempts; retry after the number of seconds in the `Retry-After` header.";
    Internal => "internal", 500, "An unexpected server error; it is logged with the request id.";
    Unavailable => "unavailable", 503, "A dependency (the database) is not reachable.";
}

impl ErrorCode {
    /// Markdown for `docs/api-errors.md`.
    pub fn markdown_table() -> String {
        let mut out = String::from(
            "# API error codes\n\n\
             Generated from `crates/core/src/error.rs`; a test fails when this file differs.\n\n\
             Every error response has the body\n\
             `{\"error\": {\"code\": \"...\", \"message\": \"...\", \"field\": \"...\"}}`\n\
             where `field` is present only when one field is at fault (a JSON path such as `name` or `members[2].role`).\n\n\
             | code | HTTP status | meaning |\n| --- | --- | --- |\n",
        );
        for code in Self::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                code.as_str(),
                code.http_status(),
                code.description()
            ));
        }
        out
    }
}

/// A value rejected by domain validation, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
