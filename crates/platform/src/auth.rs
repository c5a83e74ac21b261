//! Bearer API-key authentication for clinic endpoints (`PRM_API_KEYS`).
//!
//! Health, docs and provider webhooks are not wrapped by this middleware:
//! webhooks authenticate with their providers' signatures instead.

use actix_web::{
    Error, HttpMessage,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web,
};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The accepted keys, kept only as SHA-256 digests so comparisons are
/// constant-time over fixed-length values and the keys never sit in memory twice.
#[derive(Clone)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

/// Marker put in request extensions once a caller is authenticated.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated;

/// Which API key a request was authenticated with, without revealing it: `key_` and the
/// first 12 hex characters of the key's SHA-256 (48 bits: distinct for any realistic
/// set of keys, and no help in guessing one). Put in request extensions by
/// [`require_api_key`]; handlers take it as an extractor, e.g. to name the actor of an
/// audit entry. Operators find a key's id with `printf %s "$KEY" | sha256sum | cut -c1-12`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyId(String);

impl ApiKeyId {
    pub fn of(key: &str) -> Self {
        Self(format!("key_{}", &hex::encode(digest(key))[..12]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl actix_web::FromRequest for ApiKeyId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // Only behind `require_api_key`: a route without it has no key to name.
        std::future::ready(
            req.extensions()
                .get::<Self>()
                .cloned()
                .ok_or_else(|| ApiError::unauthorized(MISSING_KEY_DETAIL)),
        )
    }
}

/// Who is calling a clinic endpoint: the key's id and the request's id
/// (`X-Request-Id`), for audit entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: ApiKeyId,
    pub request_id: Option<String>,
}

impl actix_web::FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let request_id = req
            .extensions()
            .get::<crate::request_id::RequestId>()
            .map(|r| r.0.clone());
        std::future::ready(
            ApiKeyId::from_request(req, payload)
                .into_inner()
                .map(|key_id| Self { key_id, request_id }),
        )
    }
}

impl ApiKeys {
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a SecretString>) -> Self {
        Self {
            digests: keys
                .into_iter()
                .map(|k| digest(k.expose_secret()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    pub fn verify(&self, presented: &str) -> bool {
        let presented = digest(presented);
        // Check every key so timing does not reveal which one matched.
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, d| {
                found | d.ct_eq(&presented)
            })
            .into()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A random key for development, printed at start when `PRM_API_KEYS` is unset.
pub fn generate_dev_key() -> SecretString {
    SecretString::from(format!(
        "prm_dev_{}",
        Alphanumeric.sample_string(&mut rand::rng(), 32)
    ))
}

/// The detail of the 401 for a request without a key.
pub const MISSING_KEY_DETAIL: &str = crate::error::ErrorCode::Unauthorized.default_detail();

/// Middleware: `Authorization: Bearer <key>` must carry one of the configured keys.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let outcome = match req.app_data::<web::Data<ApiKeys>>() {
        None => Err(ApiError::internal(anyhow::anyhow!(
            "ApiKeys missing from app data"
        ))),
        Some(keys) => match bearer_token(&req) {
            None => Err(ApiError::unauthorized(MISSING_KEY_DETAIL)),
            Some(token) if keys.verify(token) => Ok(ApiKeyId::of(token)),
            Some(_) => Err(ApiError::unauthorized("The API key is not valid.")),
        },
    };
    match outcome {
        Ok(key_id) => {
            req.extensions_mut().insert(Authenticated);
            req.extensions_mut().insert(key_id);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(err) => {
            tracing::info!(code = err.code(), "rejected unauthenticated request");
            Ok(req.error_response(err).map_into_right_body())
        }
    }
}

fn bearer_token(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_configured_keys() {
        let keys = [
            SecretString::from("key-one-0123456789"),
            SecretString::from("key-two-0123456789"),
        ];
        let api_keys = ApiKeys::new(&keys);
        assert!(api_keys.verify("key-one-0123456789"));
        assert!(api_keys.verify("key-two-0123456789"));
        assert!(!api_keys.verify("key-one-012345678"));
        assert!(!api_keys.verify(""));
        assert!(!ApiKeys::new(&[]).verify(""));
    }

    #[test]
    fn a_key_id_names_the_key_without_revealing_it() {
        let id = ApiKeyId::of("key-one-0123456789");
        assert_eq!(id, ApiKeyId::of("key-one-0123456789"));
        assert_ne!(id, ApiKeyId::of("key-two-0123456789"));
        let hex = id.as_str().strip_prefix("key_").unwrap_or_default();
        assert_eq!(hex.len(), 12);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        // `printf %s key-one-0123456789 | sha256sum | cut -c1-12`
        assert_eq!(hex, "0b20e0781328");
        assert!(!id.as_str().contains("key-one"));
    }

    #[test]
    fn dev_keys_are_random_and_long() {
        let a = generate_dev_key();
        let b = generate_dev_key();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().len() >= 40);
    }
}
