//! The actix-web plumbing every PRM service shares: configuration, telemetry,
//! RFC 9457 problem+json errors from one table of codes, validated JSON, signed bodies,
//! field rules and lists, API-key auth, rate limits, health and readiness, OpenAPI +
//! Swagger UI, and the server lifecycle.

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod fields;
pub mod health;
pub mod limits;
pub mod list;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod signed;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{ConfigError, Env, Environment, Settings};
pub use error::{ApiError, ErrorCode, FieldError};
pub use extract::ValidatedJson;
