//! The table of every error code the suite answers with (in the style of meilisearch's
//! `Code`): its stable machine-readable name, HTTP status, title and the detail it
//! carries when the caller gives none.
//!
//! Clients switch on `code`, so a code is never renamed or given another status; a new
//! failure gets a new row. Documentation examples are rendered from this table
//! ([`ErrorCode::example`]), so no documented problem can drift from what the server
//! sends.

use actix_web::http::StatusCode;
use serde_json::Value;

use super::ApiError;

/// The kind of failure a code belongs to: its status range, and whether trying again
/// later can succeed (bus consumers retry transient failures, dead-letter the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// The request cannot be read as sent (400, 405, 413, 415, 422 `validation_failed`).
    Request,
    /// No valid credentials (401).
    Unauthenticated,
    /// Credentials or signature present but refused (403).
    Forbidden,
    /// Nothing at this path or id (404).
    NotFound,
    /// The request collides with the records as they are (409).
    Conflict,
    /// Well-formed input that breaks a rule of the clinic (422).
    Rule,
    /// Too many requests from this client (429).
    RateLimited,
    /// A dependency does not answer (503).
    Unavailable,
    /// Our own failure (500).
    Internal,
}

impl Family {
    /// The statuses a code of this family may have.
    pub fn statuses(self) -> &'static [StatusCode] {
        match self {
            Family::Request => &[
                StatusCode::BAD_REQUEST,
                StatusCode::METHOD_NOT_ALLOWED,
                StatusCode::PAYLOAD_TOO_LARGE,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                StatusCode::UNPROCESSABLE_ENTITY,
            ],
            Family::Unauthenticated => &[StatusCode::UNAUTHORIZED],
            Family::Forbidden => &[StatusCode::FORBIDDEN],
            Family::NotFound => &[StatusCode::NOT_FOUND],
            Family::Conflict => &[StatusCode::CONFLICT],
            Family::Rule => &[StatusCode::UNPROCESSABLE_ENTITY],
            Family::RateLimited => &[StatusCode::TOO_MANY_REQUESTS],
            Family::Unavailable => &[StatusCode::SERVICE_UNAVAILABLE],
            Family::Internal => &[StatusCode::INTERNAL_SERVER_ERROR],
        }
    }
}

macro_rules! error_codes {
    ($(
        $(#[$doc:meta])*
        $variant:ident => ($code:literal, $status:ident, $family:ident, $title:literal, $detail:literal),
    )+) => {
        /// Every error the suite's HTTP APIs answer with. See the module docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )+
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The stable machine-readable name (`code` and the end of `type`).
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)+ }
            }

            pub const fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)+ }
            }

            pub const fn family(self) -> Family {
                match self { $(ErrorCode::$variant => Family::$family,)+ }
            }

            /// The problem's `title`: the same for every answer with this code.
            pub const fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)+ }
            }

            /// The `detail` when the answer names nothing more specific.
            pub const fn default_detail(self) -> &'static str {
                match self { $(ErrorCode::$variant => $detail,)+ }
            }
        }
    };
}

error_codes! {
    // ------------------------------------------------------------ the request itself
    BadRequest => ("bad_request", BAD_REQUEST, Request, "Bad request",
        "The request could not be read."),
    MalformedJson => ("malformed_json", BAD_REQUEST, Request, "Malformed JSON",
        "The request body is not valid JSON."),
    ValidationFailed => ("validation_failed", UNPROCESSABLE_ENTITY, Request, "Validation failed",
        "The request has invalid fields."),
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED, Request, "Method not allowed",
        "This route does not accept that method."),
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE, Request, "Payload too large",
        "The request body exceeds the limit."),
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, Request, "Unsupported media type",
        "Send the body as application/json."),

    // ------------------------------------------------------------ who is asking
    Unauthorized => ("unauthorized", UNAUTHORIZED, Unauthenticated, "Unauthorized",
        "Send an API key as `Authorization: Bearer <key>`."),
    /// A webhook's signature header does not match its body (or URL, for Twilio).
    InvalidSignature => ("invalid_signature", FORBIDDEN, Forbidden, "Forbidden",
        "The signature does not match the body."),
    /// Meta's subscription handshake with the wrong mode or verify token.
    VerificationFailed => ("verification_failed", FORBIDDEN, Forbidden, "Forbidden",
        "hub.mode or hub.verify_token is wrong."),

    // ------------------------------------------------------------ what is asked for
    NotFound => ("not_found", NOT_FOUND, NotFound, "Not found",
        "Resource not found."),
    RouteNotFound => ("route_not_found", NOT_FOUND, NotFound, "Not found",
        "No such route."),

    // ------------------------------------------------------------ conflicts with the records
    DuplicatePhone => ("duplicate_phone", CONFLICT, Conflict, "Conflict",
        "A patient with this phone number already exists."),
    ScheduleOverlap => ("schedule_overlap", CONFLICT, Conflict, "Conflict",
        "The practitioner already has a schedule overlapping these hours on this weekday."),
    SlotTaken => ("slot_taken", CONFLICT, Conflict, "Conflict",
        "The practitioner is no longer free at this time."),
    DuplicateBooking => ("duplicate_booking", CONFLICT, Conflict, "Conflict",
        "This booking request was already processed."),
    Duplicate => ("duplicate", CONFLICT, Conflict, "Conflict",
        "A record like this exists already."),
    /// Deadlock, serialization failure or a row that kept changing: nothing was written
    /// and the request is safe to repeat (docs/decisions/0004-double-booking-prevention.md).
    ConcurrentUpdate => ("concurrent_update", CONFLICT, Conflict, "Conflict",
        "Another request changed the same records at the same moment and nothing was saved. Send the request again."),
    InUse => ("in_use", CONFLICT, Conflict, "Conflict",
        "The record is still referenced by other records (schedules or appointments)."),
    InvalidTransition => ("invalid_transition", CONFLICT, Conflict, "Conflict",
        "The appointment's status does not allow this change."),

    // ------------------------------------------------------------ rules of the clinic
    UnknownReference => ("unknown_reference", UNPROCESSABLE_ENTITY, Rule, "Request cannot be processed",
        "A referenced record does not exist."),
    PatientRequired => ("patient_required", UNPROCESSABLE_ENTITY, Rule, "Request cannot be processed",
        "The offer was made without a patient_id; it cannot be booked."),
    InactivePractitioner => ("inactive_practitioner", UNPROCESSABLE_ENTITY, Rule, "Request cannot be processed",
        "The practitioner is not taking appointments."),
    OutsideSchedule => ("outside_schedule", UNPROCESSABLE_ENTITY, Rule, "Request cannot be processed",
        "The start is not one of the practitioner's slots at this location (see find-slots)."),
    TooSoon => ("too_soon", UNPROCESSABLE_ENTITY, Rule, "Request cannot be processed",
        "The slot is in the past or within the minimum notice."),

    // ------------------------------------------------------------ capacity and health
    RateLimited => ("rate_limited", TOO_MANY_REQUESTS, RateLimited, "Too many requests",
        "Too many requests from this client."),
    /// A dependency (database, state store, a configured channel) does not answer or is
    /// not configured; `Retry-After` says when to try again where that is known.
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE, Unavailable, "Service unavailable",
        "A service this request needs is not reachable; retry shortly."),
    /// `/ready`: a dependency does not answer.
    NotReady => ("not_ready", SERVICE_UNAVAILABLE, Unavailable, "Service unavailable",
        "Not ready."),
    InternalError => ("internal_error", INTERNAL_SERVER_ERROR, Internal, "Internal server error",
        "Something went wrong on our side. The error has been logged."),
}

impl ErrorCode {
    /// Whether the same request may succeed later without changing it: a dependency
    /// came back, or a concurrent writer finished. Bus consumers retry these.
    pub fn is_transient(self) -> bool {
        matches!(
            self.family(),
            Family::Unavailable | Family::RateLimited | Family::Internal
        ) || self == ErrorCode::ConcurrentUpdate
    }

    /// The problem+json body the server sends for this code with its default detail,
    /// for OpenAPI examples.
    pub fn example(self) -> Value {
        ApiError::new(self).example()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use actix_web::{ResponseError, body::to_bytes};

    use super::*;

    #[test]
    fn every_code_is_unique_and_snake_case() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "`{name}` twice");
            assert!(
                !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !name.starts_with('_')
                    && !name.ends_with('_'),
                "`{name}` is not snake_case"
            );
            assert!(!code.title().is_empty() && code.default_detail().ends_with('.'));
        }
    }

    #[test]
    fn every_status_matches_its_family() {
        for code in ErrorCode::ALL {
            assert!(
                code.family().statuses().contains(&code.status()),
                "{code}: {} is not a {:?} status",
                code.status(),
                code.family()
            );
        }
        // One title per family where clients might show it.
        for (family, title) in [
            (Family::Conflict, "Conflict"),
            (Family::Forbidden, "Forbidden"),
            (Family::Rule, "Request cannot be processed"),
            (Family::NotFound, "Not found"),
            (Family::Unavailable, "Service unavailable"),
        ] {
            for code in ErrorCode::ALL.iter().filter(|c| c.family() == family) {
                assert_eq!(code.title(), title, "{code}");
            }
        }
    }

    #[test]
    fn only_waiting_can_fix_a_transient_code() {
        let transient: Vec<_> = ErrorCode::ALL
            .iter()
            .filter(|c| c.is_transient())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            transient,
            [
                "concurrent_update",
                "rate_limited",
                "unavailable",
                "not_ready",
                "internal_error"
            ]
        );
    }

    #[actix_web::test]
    async fn each_example_is_what_the_server_renders() {
        for code in ErrorCode::ALL {
            let response = ApiError::new(*code).error_response();
            assert_eq!(response.status(), code.status(), "{code}");
            let rendered: Value =
                serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
            assert_eq!(rendered, code.example(), "{code}");
            assert_eq!(rendered["code"], code.as_str());
            assert_eq!(rendered["type"], format!("urn:prm:problem:{code}"));
            assert_eq!(rendered["status"], code.status().as_u16());
            assert_eq!(rendered["title"], code.title());
        }
    }
}
