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
            Some(token) if keys.verify(token) => Ok(()),
            Some(_) => Err(ApiError::unauthorized("The API key is not valid.")),
        },
    };
    match outcome {
        Ok(()) => {
            req.extensions_mut().insert(Authenticated);
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
    fn dev_keys_are_random_and_long() {
        let a = generate_dev_key();
        let b = generate_dev_key();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().len() >= 40);
    }
}
