//! Reading appointments: one by id, or a page of them, with times in each location's
//! offset.

use std::collections::BTreeSet;

use prm_domain::Appointment;
use prm_platform::list::Page;
use prm_store::{AppointmentFilter, Paged};
use uuid::Uuid;

use crate::{
    AppState,
    booking::{BookingError, views::AppointmentView},
};

/// The appointment in its location's offset.
pub(super) async fn view(
    state: &AppState,
    a: Appointment,
) -> Result<AppointmentView, BookingError> {
    // The location gives the times their offset; a database that fails here fails the
    // request rather than answer in UTC as if nothing happened.
    let location = state.store.get_location(a.location_id).await?;
    Ok(AppointmentView::new(a, Some(&location)))
}

pub async fn get(state: &AppState, id: Uuid) -> Result<AppointmentView, BookingError> {
    let a = state.store.get_appointment(id).await?;
    view(state, a).await
}

pub async fn list(
    state: &AppState,
    filter: &AppointmentFilter,
    page: Page,
) -> Result<Paged<AppointmentView>, BookingError> {
    let paged = state
        .store
        .list_appointments(filter, crate::store_page(page))
        .await?;
    let ids: Vec<Uuid> = paged
        .items
        .iter()
        .map(|a| a.location_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let locations = state.store.locations_by_ids(&ids).await?;
    let items = paged
        .items
        .into_iter()
        .map(|a| {
            let location = locations.iter().find(|l| l.id == a.location_id);
            AppointmentView::new(a, location)
        })
        .collect();
    Ok(Paged {
        items,
        total: paged.total,
    })
}
