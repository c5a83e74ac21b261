//! The actix-web plumbing every PRM service shares: configuration, telemetry,
//! RFC 9457 problem+json errors, validated JSON, API-key auth, rate limits, health and
//! readiness, OpenAPI + Swagger UI, and the server lifecycle.

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod server;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{ConfigError, Env, Environment, Settings};
pub use error::{ApiError, FieldError};
pub use extract::ValidatedJson;
