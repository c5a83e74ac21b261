//! Bodies signed by their sender: `X-PRM-Signature: sha256=<hex HMAC-SHA256 of the raw
//! body>` keyed with a shared secret (the voice agent, n8n callbacks), or the same format
//! under another header (Meta's `X-Hub-Signature-256`).
//!
//! [`SignedBody`] reads the raw body (the signature covers the exact bytes, so it is
//! read before any parsing, within the route's body limit) and checks it, answering as
//! every signed webhook of the suite does:
//!
//! | what | answer |
//! | --- | --- |
//! | body over the route's limit | 413 `payload_too_large` |
//! | no secret configured | 503 `unavailable` (the route is off) |
//! | no signature header | 400 `bad_request` |
//! | signature that does not match (or is not `sha256=<hex>`) | 403 `invalid_signature` |
//! | with [`SignatureSecret::ACCEPTS_BEARER`]: a wrong bearer token | 401 `unauthorized` |

use std::{future::Future, marker::PhantomData, ops::Deref, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web::Bytes};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::{
    error::{ApiError, ErrorCode},
    extract::{parse_json, read_body},
};

/// The suite's own signature header.
pub const SIGNATURE_HEADER: &str = "X-PRM-Signature";

/// Where a signed route finds its secret and how it names itself; one implementation
/// per route (e.g. the voice agent's, keyed with `VOICE_AGENT_SECRET`).
pub trait SignatureSecret: 'static {
    /// The header carrying `sha256=<hex>`.
    const HEADER: &'static str = SIGNATURE_HEADER;
    /// Also accept `Authorization: Bearer <secret>`, for senders that cannot compute an
    /// HMAC (n8n's HTTP node). A signature, when sent, is still checked first.
    const ACCEPTS_BEARER: bool = false;
    /// What the logs call a refused request ("voice-agent call rejected").
    const REJECTED: &'static str;

    /// The secret, or why the route is off (the 503's detail, e.g. "The voice-agent
    /// webhook is off: VOICE_AGENT_SECRET is not configured.").
    fn secret(req: &HttpRequest) -> Result<SecretString, &'static str>;
}

/// The raw body of a request whose signature (or bearer secret) was checked.
pub struct SignedBody<S> {
    body: Bytes,
    secret: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for SignedBody<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the body: it may carry patient data.
        write!(f, "SignedBody({} bytes)", self.body.len())
    }
}

impl<S> SignedBody<S> {
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// The body as JSON: 400 `malformed_json` or 422 naming the field, as `ValidatedJson`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.body)
    }
}

impl<S> Deref for SignedBody<S> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.body
    }
}

impl<S: SignatureSecret> FromRequest for SignedBody<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let body = read_body(&req, payload).await?;
            check::<S>(&req, &body)?;
            Ok(SignedBody {
                body,
                secret: PhantomData,
            })
        })
    }
}

fn check<S: SignatureSecret>(req: &HttpRequest, body: &[u8]) -> Result<(), ApiError> {
    let secret = S::secret(req).map_err(|detail| {
        tracing::warn!("{}: {detail}", S::REJECTED);
        ApiError::unavailable(detail)
    })?;
    let secret = secret.expose_secret().as_bytes();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(signature) = header(S::HEADER) {
        if verify_sha256_signature(secret, body, signature) {
            return Ok(());
        }
        tracing::warn!(reason = "signature mismatch", "{}", S::REJECTED);
        return Err(ApiError::new(ErrorCode::InvalidSignature)
            .with_detail(format!("The {} does not match the body.", S::HEADER)));
    }
    if S::ACCEPTS_BEARER
        && let Some(token) = header("authorization").and_then(bearer)
    {
        if constant_time_eq(token.as_bytes(), secret) {
            return Ok(());
        }
        tracing::warn!(reason = "wrong bearer secret", "{}", S::REJECTED);
        return Err(ApiError::unauthorized("The bearer secret is not valid."));
    }
    tracing::warn!(reason = %format_args!("missing {}", S::HEADER), "{}", S::REJECTED);
    Err(ApiError::bad_request(if S::ACCEPTS_BEARER {
        format!(
            "The {} header is missing (or send Authorization: Bearer <secret>).",
            S::HEADER
        )
    } else {
        format!("The {} header is missing.", S::HEADER)
    }))
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Checks a `sha256=<hex HMAC-SHA256 of body>` value in constant time. The prefix is
/// case-insensitive, the hex either case.
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

/// `sha256=<hex>` for `body` (senders, tests and the docs' curl examples).
pub fn sign_sha256(secret: &[u8], body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// Equality in time independent of where the inputs differ (tokens, secrets).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The problem a refused signature gets, for OpenAPI examples of a route using
/// `header` (the same words [`SignedBody`] sends).
pub fn invalid_signature_example(header: &str) -> serde_json::Value {
    ApiError::new(ErrorCode::InvalidSignature)
        .with_detail(format!("The {header} does not match the body."))
        .example()
}

/// The problem a request without the signature header gets, for OpenAPI examples.
pub fn missing_signature_example(header: &str) -> serde_json::Value {
    ApiError::bad_request(format!("The {header} header is missing.")).example()
}

#[cfg(test)]
mod tests {
    use actix_web::{HttpMessage, test::TestRequest};

    use super::*;
    use crate::extract::BodyLimit;

    const SECRET: &str = "voice-secret";

    struct Voice;
    impl SignatureSecret for Voice {
        const REJECTED: &'static str = "test call rejected";
        fn secret(_: &HttpRequest) -> Result<SecretString, &'static str> {
            Ok(SecretString::from(SECRET))
        }
    }

    struct Hub;
    impl SignatureSecret for Hub {
        const HEADER: &'static str = "X-Hub-Signature-256";
        const REJECTED: &'static str = "test delivery rejected";
        fn secret(_: &HttpRequest) -> Result<SecretString, &'static str> {
            Ok(SecretString::from(SECRET))
        }
    }

    struct Callback;
    impl SignatureSecret for Callback {
        const ACCEPTS_BEARER: bool = true;
        const REJECTED: &'static str = "test callback rejected";
        fn secret(_: &HttpRequest) -> Result<SecretString, &'static str> {
            Ok(SecretString::from(SECRET))
        }
    }

    struct Off;
    impl SignatureSecret for Off {
        const REJECTED: &'static str = "test call refused";
        fn secret(_: &HttpRequest) -> Result<SecretString, &'static str> {
            Err("The test webhook is off: TEST_SECRET is not configured.")
        }
    }

    const BODY: &[u8] = br#"{"call_id":"c1"}"#;

    async fn extract<S: SignatureSecret>(
        headers: &[(&str, &str)],
        body: &'static [u8],
        limit: Option<usize>,
    ) -> Result<SignedBody<S>, ApiError> {
        let mut request = TestRequest::post().set_payload(body);
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        let (req, mut payload) = request.to_http_parts();
        if let Some(limit) = limit {
            req.extensions_mut().insert(BodyLimit(limit));
        }
        SignedBody::<S>::from_request(&req, &mut payload).await
    }

    fn refusal<T>(result: Result<T, ApiError>) -> (u16, &'static str, String) {
        match result {
            Ok(_) => panic!("accepted"),
            Err(e) => (e.status().as_u16(), e.code(), e.detail().to_owned()),
        }
    }

    #[actix_web::test]
    async fn the_right_signature_passes_the_exact_body() {
        let signature = sign_sha256(SECRET.as_bytes(), BODY);
        let body = extract::<Voice>(&[(SIGNATURE_HEADER, &signature)], BODY, None)
            .await
            .expect("accepted");
        assert_eq!(&*body, BODY);
        #[derive(serde::Deserialize)]
        struct Call {
            call_id: String,
        }
        assert_eq!(
            body.json::<Call>().map(|c| c.call_id).ok().as_deref(),
            Some("c1")
        );
        // The prefix is case-insensitive and the hex either case.
        let shouted = signature.to_uppercase();
        assert!(
            extract::<Voice>(&[(SIGNATURE_HEADER, &shouted)], BODY, None)
                .await
                .is_ok()
        );
    }

    #[actix_web::test]
    async fn missing_malformed_and_wrong_signatures_are_refused_as_the_webhooks_do() {
        assert_eq!(
            refusal(extract::<Voice>(&[], BODY, None).await),
            (
                400,
                "bad_request",
                "The X-PRM-Signature header is missing.".to_owned()
            )
        );
        let mismatch = (
            403,
            "invalid_signature",
            "The X-PRM-Signature does not match the body.".to_owned(),
        );
        let right = sign_sha256(SECRET.as_bytes(), BODY);
        for wrong in [
            sign_sha256(b"another secret", BODY),
            sign_sha256(SECRET.as_bytes(), b"{\"call_id\":\"c2\"}"),
            right.trim_start_matches("sha256=").to_owned(),
            "sha256=zz".to_owned(),
            "sha1=abc".to_owned(),
        ] {
            assert_eq!(
                refusal(extract::<Voice>(&[(SIGNATURE_HEADER, &wrong)], BODY, None).await),
                mismatch,
                "{wrong}"
            );
        }
        // Another header name, same format (Meta).
        assert!(
            extract::<Hub>(&[("X-Hub-Signature-256", &right)], BODY, None)
                .await
                .is_ok()
        );
        assert_eq!(
            refusal(extract::<Hub>(&[(SIGNATURE_HEADER, &right)], BODY, None).await).2,
            "The X-Hub-Signature-256 header is missing."
        );
        // A bearer token is no signature where it is not accepted.
        let bearer = format!("Bearer {SECRET}");
        assert_eq!(
            refusal(extract::<Voice>(&[("Authorization", &bearer)], BODY, None).await).0,
            400
        );
    }

    #[actix_web::test]
    async fn a_bearer_secret_is_accepted_where_allowed() {
        let bearer = format!("Bearer {SECRET}");
        assert!(
            extract::<Callback>(&[("Authorization", &bearer)], BODY, None)
                .await
                .is_ok()
        );
        assert_eq!(
            refusal(extract::<Callback>(&[("Authorization", "Bearer nope")], BODY, None).await),
            (
                401,
                "unauthorized",
                "The bearer secret is not valid.".to_owned()
            )
        );
        // A wrong signature is not saved by a right bearer: the signature is checked first.
        let wrong = sign_sha256(b"other", BODY);
        assert_eq!(
            refusal(
                extract::<Callback>(
                    &[(SIGNATURE_HEADER, &wrong), ("Authorization", &bearer)],
                    BODY,
                    None
                )
                .await
            )
            .0,
            403
        );
        assert_eq!(refusal(extract::<Callback>(&[], BODY, None).await).0, 400);
    }

    #[actix_web::test]
    async fn a_body_over_the_limit_is_413_before_anything_else() {
        let signature = sign_sha256(SECRET.as_bytes(), BODY);
        assert_eq!(
            refusal(extract::<Voice>(&[(SIGNATURE_HEADER, &signature)], BODY, Some(8)).await),
            (
                413,
                "payload_too_large",
                "The request body exceeds the limit of 8 bytes.".to_owned()
            )
        );
        assert_eq!(refusal(extract::<Off>(&[], BODY, Some(8)).await).0, 413);
    }

    #[actix_web::test]
    async fn a_route_without_its_secret_is_off() {
        let signature = sign_sha256(SECRET.as_bytes(), BODY);
        assert_eq!(
            refusal(extract::<Off>(&[(SIGNATURE_HEADER, &signature)], BODY, None).await),
            (
                503,
                "unavailable",
                "The test webhook is off: TEST_SECRET is not configured.".to_owned()
            )
        );
    }

    #[test]
    fn examples_are_the_refusals() {
        assert_eq!(invalid_signature_example("X-PRM-Signature")["status"], 403);
        assert_eq!(
            missing_signature_example("X-PRM-Signature")["detail"],
            "The X-PRM-Signature header is missing."
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"abcd"));
    }
}
