//! The shared service runtime (ARCHITECTURE §2 `runtime/`): adding a service is writing
//! the service, not copying plumbing.
//!
//! * [`Backends`]: the store, state store, bus and clock, built once from `Settings`.
//! * [`ServiceSpec`] and [`Service`]: what a service declares (routes, OpenAPI document,
//!   outbox, readiness checks, event subscriptions, background tasks, body limits).
//! * [`Host`]: serves a list of services on one port, runs one outbox relay per declared
//!   outbox, subscribes the consumers and stops everything gracefully.
//! * [`cli`]: the command line every binary shares (`serve`, `migrate`, `healthcheck`,
//!   `--help`, `--version`), so each `main.rs` is one call.

mod backends;
pub mod cli;
mod host;
mod service;

pub use backends::Backends;
pub use cli::Binary;
pub use host::{Host, HostOptions, Running, api_doc};
pub use service::{AsAny, BuildFn, Overrides, Service, ServiceContext, ServiceSpec};
pub use tokio_util::sync::CancellationToken;
