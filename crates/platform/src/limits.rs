//! How long the clinic's text fields may be, defined once: the request validation, the
//! `validator` attributes of request bodies, the schemas' `maxLength` and the database
//! columns agree on these (`services/prm/tests/openapi.rs` checks the schemas).
//! Lengths count characters (Unicode scalar values), not bytes.

/// Names of people and places: a location, practitioner or patient name; a city.
pub const NAME_CHARS: usize = 200;
/// A practitioner's specialty, and so a department searched for slots (1 to this).
pub const DEPARTMENT_CHARS: usize = 100;
/// A postal address.
pub const ADDRESS_CHARS: usize = 500;
/// A phone number as typed, before it is normalized.
pub const PHONE_CHARS: usize = 40;
/// The reason for a booking or a cancellation.
pub const REASON_CHARS: usize = 1000;
/// Notes on an appointment.
pub const NOTES_CHARS: usize = 4000;
/// A patient's answer to a slot offer ("the second one", "2pm"…).
pub const SELECTION_TEXT_CHARS: usize = 2000;
/// A text filter in a list's query string (`?name=…`).
pub const FILTER_CHARS: usize = 200;
