//! Signed webhook deliveries. A sender signs `"{timestamp}.{raw body}"` with HMAC-SHA256
//! under the source's secret and sends
//! `X-Switchboard-Timestamp: <unix seconds>`, `X-Switchboard-Delivery: <unique id>` and
//! `X-Switchboard-Signature: sha256=<hex>`. Outbound webhooks (alerts, hand-offs) use the same scheme.

use crate::{ServiceError, ServiceResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "x-switchboard-timestamp";
pub const DELIVERY_HEADER: &str = "x-switchboard-delivery";
pub const SIGNATURE_HEADER: &str = "x-switchboard-signature";

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> ServiceResult<Hmac<Sha256>> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(ServiceError::internal)?;
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    Ok(m)
}

/// The signature header value for a body sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> ServiceResult<String> {
    let m = mac(secret, &timestamp.to_string(), body)?;
    Ok(format!("sha256={}", hex::encode(m.finalize().into_bytes())))
}

/// The parts of a delivery's headers that can be checked without the secret: present,
/// well-formed, and a timestamp within `max_skew_secs` of `now` (so an old captured delivery
/// cannot be replayed later). Checked before the source is looked up, so that an unknown
/// source and a known one answer alike.
pub fn precheck<'a>(
    timestamp: Option<&'a str>,
    signature: Option<&str>,
    now: i64,
    max_skew_secs: i64,
) -> ServiceResult<(&'a str, Vec<u8>)> {
    let bad = |m: &str| Err(ServiceError::InvalidSignature(m.to_string()));
    let Some(ts) = timestamp.map(str::trim) else {
        return bad("missing X-Switchboard-Timestamp");
    };
    let Ok(ts_num) = ts.parse::<i64>() else {
        return bad("X-Switchboard-Timestamp must be unix seconds");
    };
    if (now - ts_num).abs() > max_skew_secs {
        return bad("X-Switchboard-Timestamp is too far from the current time");
    }
    let Some(sig) = signature.map(str::trim) else {
        return bad("missing X-Switchboard-Signature");
    };
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return bad("X-Switchboard-Signature must be sha256=<hex>");
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return bad("X-Switchboard-Signature must be sha256=<hex>");
    };
    Ok((ts, given))
}

/// Compares the signature with the expected one in constant time.
pub fn check(secret: &str, timestamp: &str, signature: &[u8], body: &[u8]) -> ServiceResult<()> {
    mac(secret, timestamp, body)?
        .verify_slice(signature)
        .map_err(|_| ServiceError::InvalidSignature("signature does not match".into()))
}

/// [`precheck`] and [`check`] together.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    max_skew_secs: i64,
) -> ServiceResult<()> {
    let (ts, sig) = precheck(timestamp, signature, now, max_skew_secs)?;
    check(secret, ts, &sig, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let body = br#"{"x":1}"#;
        let sig = sign("whsec_test", 1_000, body).unwrap();
        assert!(verify("whsec_test", Some("1000"), Some(&sig), body, 1_100, 300).is_ok());
        let wrong_body = verify(
            "whsec_test",
            Some("1000"),
            Some(&sig),
            b"{\"x\":2}",
            1_100,
            300,
        );
        assert!(matches!(wrong_body, Err(ServiceError::InvalidSignature(_))));
        assert!(verify("other", Some("1000"), Some(&sig), body, 1_100, 300).is_err());
        assert!(
            verify("whsec_test", Some("1001"), Some(&sig), body, 1_100, 300).is_err(),
            "timestamp is signed"
        );
        assert!(
            verify("whsec_test", Some("1000"), Some(&sig), body, 1_301, 300).is_err(),
            "skew"
        );
        assert!(
            verify("whsec_test", Some("1000"), Some(&sig), body, 699, 300).is_err(),
            "skew into the future"
        );
        assert!(verify("whsec_test", None, Some(&sig), body, 1_000, 300).is_err());
        assert!(verify("whsec_test", Some("1000"), None, body, 1_000, 300).is_err());
        assert!(verify(
            "whsec_test",
            Some("1000"),
            Some("sha256=zz"),
            body,
            1_000,
            300
        )
        .is_err());
    }
}
