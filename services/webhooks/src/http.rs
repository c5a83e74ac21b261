//! Request plumbing of the webhook routes that is not shared with other services:
//! Twilio's TwiML answer and header reading. Raw-body reading and the `sha256=` signature
//! checks live in `prm_platform::{extract, signed}`; they are re-exported here for the
//! senders and tests that sign requests.

use actix_web::{HttpRequest, HttpResponse};
pub use prm_platform::{
    extract::read_body,
    signed::{sign_sha256, verify_sha256_signature},
};

/// A header as text; `None` when absent or not visible ASCII.
pub fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Twilio's expected answer: empty TwiML (replies go out through the REST API).
pub fn empty_twiml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(prm_twilio::twiml::CONTENT_TYPE)
        .body(prm_twilio::twiml::EMPTY_RESPONSE)
}
