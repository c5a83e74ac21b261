//! Request plumbing shared by the webhook routes: bounded raw-body reading (signatures
//! are computed over the exact bytes), HMAC-SHA256 header checks, the TwiML answer.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use prm_platform::{ApiError, extract::BodyLimit};
use sha2::Sha256;

/// Reads the whole body, refusing more than the route's limit (set per path prefix by the
/// server's body-limit middleware) with 413, also for chunked bodies that declare no length.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<web::Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .copied()
        .or_else(|| req.app_data::<BodyLimit>().copied())
        .map_or(prm_platform::config::DEFAULT_MAX_BODY_BYTES, |l| l.0);
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("The request body could not be read."))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A header as text; `None` when absent or not visible ASCII.
pub fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks a `sha256=<hex HMAC-SHA256 of body>` header (Meta's `X-Hub-Signature-256`, our
/// `X-PRM-Signature`) in constant time. The prefix is case-insensitive, the hex either case.
pub fn verify_sha256_signature(secret: &[u8], body: &[u8], header_value: &str) -> bool {
    let value = header_value.trim();
    let Some(hex_digest) = value
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case("sha256="))
        .and_then(|_| value.get(7..))
    else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

/// `sha256=<hex>` for `body` (clients, tests and the docs' curl example).
pub fn sign_sha256(secret: &[u8], body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// Twilio's expected answer: empty TwiML (replies go out through the REST API).
pub fn empty_twiml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(prm_twilio::twiml::CONTENT_TYPE)
        .body(prm_twilio::twiml::EMPTY_RESPONSE)
}

/// Constant-time string equality (verify tokens).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_signatures_round_trip_and_reject_tampering() {
        let sig = sign_sha256(b"secret", b"{\"a\":1}");
        assert!(sig.starts_with("sha256="));
        assert!(verify_sha256_signature(b"secret", b"{\"a\":1}", &sig));
        assert!(verify_sha256_signature(
            b"secret",
            b"{\"a\":1}",
            &sig.to_uppercase().replacen("SHA256=", "sha256=", 1)
        ));
        assert!(!verify_sha256_signature(b"secret", b"{\"a\":2}", &sig));
        assert!(!verify_sha256_signature(b"other", b"{\"a\":1}", &sig));
        assert!(!verify_sha256_signature(
            b"secret",
            b"{\"a\":1}",
            sig.trim_start_matches("sha256=")
        ));
        assert!(!verify_sha256_signature(
            b"secret",
            b"{\"a\":1}",
            "sha256=zz"
        ));
        assert!(!verify_sha256_signature(b"secret", b"{\"a\":1}", ""));
        assert!(!verify_sha256_signature(
            b"secret",
            b"{\"a\":1}",
            "sha256=é"
        ));
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
