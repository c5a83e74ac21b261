//! The booking rules: one function per use case, callable from an HTTP handler or a
//! bus consumer alike (each returns a [`BookingError`]). Handlers call these and only
//! render.
//!
//! Depends on `views`, `events` and `offers` (which depend only on domain types), never
//! the other way round:
//!
//! * [`search`]: `find-slots`, and the search `select-slot` repeats on "none of these";
//! * [`selection`]: `select-slot`, reading the patient's answer to an offer;
//! * [`book`]: booking a slot, from an offer or the front desk;
//! * [`changes`]: rescheduling, notes, status moves and cancelling;
//! * [`listing`]: reading one appointment or a page of them;
//! * [`journey`]: the consumers of the booking choreography (ARCHITECTURE §8);
//! * [`waitlist`]: the waitlist, and offering it the slots that free up.
//!
//! Every "now" comes from the service's clock (`AppState::clock`), so a test can fix it.

mod book;
mod changes;
pub mod journey;
mod listing;
mod search;
mod selection;
pub mod waitlist;

pub use book::{BookingInput, book, book_explicit};
pub use changes::{cancel, update};
pub use listing::{get, list};
pub use search::find_slots;
pub use selection::{Selected, select_slot};

use prm_domain::{Location, Patient, Practitioner};
use prm_platform::fields::FieldErrors;
use prm_store::StoreError;
use uuid::Uuid;

use super::{BookingError, events::Parties};
use crate::AppState;

/// A referenced record: `Some` when found, `None` (with a field error) when unknown.
fn found<T>(
    result: Result<T, StoreError>,
    field: &str,
    what: &str,
    errors: &mut FieldErrors,
) -> Result<Option<T>, BookingError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound(_)) => {
            errors.push(field, format!("no {what} has this id"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Loads patient, practitioner and location, naming the request field of any that is unknown.
async fn parties(
    state: &AppState,
    patient_id: Uuid,
    practitioner_id: Uuid,
    location_id: Uuid,
) -> Result<Parties, BookingError> {
    let mut errors = FieldErrors::default();
    let patient: Option<Patient> = found(
        state.store.get_patient(patient_id).await,
        "patient_id",
        "patient",
        &mut errors,
    )?;
    let practitioner: Option<Practitioner> = found(
        state.store.get_practitioner(practitioner_id).await,
        "practitioner_id",
        "practitioner",
        &mut errors,
    )?;
    let location: Option<Location> = found(
        state.store.get_location(location_id).await,
        "location_id",
        "location",
        &mut errors,
    )?;
    match (patient, practitioner, location) {
        (Some(patient), Some(practitioner), Some(location)) if errors.is_empty() => Ok(Parties {
            patient,
            practitioner,
            location,
        }),
        _ => Err(errors.into()),
    }
}
