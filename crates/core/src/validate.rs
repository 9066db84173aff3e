//! Validation of user-supplied values. Each function names the field it rejects.

use crate::error::ValidationError;

pub const MIN_PASSWORD_LEN: usize = 10;

/// Trimmed display name, 1..=120 characters, no control characters.
pub fn name(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if v.chars().count() > 120 {
        return Err(ValidationError::new(
            field,
            "must be at most 120 characters",
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_string())
}

/// Lowercase ASCII letters, digits and single dashes; 2..=48 characters; not a UUID-like id
/// (so an id and a slug can never be confused where either is accepted).
pub fn slug(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    let bad = |m: &str| Err(ValidationError::new(field, m));
    if v.len() < 2 || v.len() > 48 {
        return bad("must be 2 to 48 characters");
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("may contain only lowercase letters a-z, digits and '-'");
    }
    if v.starts_with('-') || v.ends_with('-') || v.contains("--") {
        return bad("must not start or end with '-' or contain '--'");
    }
    if looks_like_id(v) {
        return bad("must not look like an id");
    }
    Ok(v.to_string())
}

/// A slug derived from a name: "Acme DE" -> "acme-de". Non-ASCII names fall back to `fallback`.
pub fn slugify(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out
        .trim_end_matches('-')
        .chars()
        .take(48)
        .collect::<String>();
    let out = out.trim_end_matches('-').to_string();
    if out.len() < 2 {
        fallback.to_string()
    } else {
        out
    }
}

/// True for the 36-character hyphenated UUID form used for public ids.
pub fn looks_like_id(v: &str) -> bool {
    v.len() == 36
        && v.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A plausible e-mail address, lowercased. Deliverability is not our concern; identity is.
pub fn email(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim().to_lowercase();
    let bad = || {
        Err(ValidationError::new(
            field,
            "must be an e-mail address like name@example.com",
        ))
    };
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad();
    }
    match v.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(v)
        }
        _ => bad(),
    }
}

pub fn password(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.chars().count() < MIN_PASSWORD_LEN {
        return Err(ValidationError::new(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if value.len() > 1024 {
        return Err(ValidationError::new(field, "must be at most 1024 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("slug", "acme-de").unwrap(), "acme-de");
        assert_eq!(slug("slug", "Acme").unwrap_err().field, "slug");
        assert!(slug("slug", "a").is_err());
        assert!(slug("slug", "-ab").is_err());
        assert!(slug("slug", "a--b").is_err());
        assert!(slug("slug", "0190f3a8-7c1e-7a3b-9c2d-1e2f3a4b5c6d").is_err());
        assert_eq!(slugify("Acme DE", "ws"), "acme-de");
        assert_eq!(slugify("  Acme -- Global!! ", "ws"), "acme-global");
        assert_eq!(slugify("한국", "ws"), "ws");
    }

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "ann@", "@x.com", "a b@x.com", "a@b@c", "a@.x"] {
            assert!(email("email", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_and_passwords() {
        assert_eq!(name("name", "  Support ").unwrap(), "Support");
        assert!(name("name", "   ").is_err());
        assert!(name("name", "a\u{0}b").is_err());
        assert!(password("password", "short").is_err());
        assert!(password("password", "long enough pw").is_ok());
    }
}
