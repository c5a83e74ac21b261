//! Appointments. Writes are operations of a transaction ([`Tx`]), so that the change
//! and the events announcing it commit together (`Store::write`).

use chrono::{DateTime, Utc};
use prm_domain::{Appointment, AppointmentStatus, Channel};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::{Conflict, Page, Paged, Store, StoreError, Tx, clinic, entities::appointment};

/// An appointment to create.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub id: Uuid,
    pub status: AppointmentStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub patient_id: Uuid,
    pub practitioner_id: Uuid,
    pub location_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub reason: Option<String>,
    pub notes: Option<String>,
    /// Idempotency key: a second booking with the same key is refused by the schema.
    pub booking_key: Option<String>,
    /// When it was booked, by the service's clock (what the reminder scheduler and the
    /// stats read; tests stand that clock still).
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct AppointmentFilter {
    pub patient_id: Option<Uuid>,
    pub practitioner_id: Option<Uuid>,
    pub location_id: Option<Uuid>,
    pub status: Option<AppointmentStatus>,
    /// Appointments starting at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Appointments starting before this instant.
    pub to: Option<DateTime<Utc>>,
}

pub(crate) fn appointment_from(m: appointment::Model) -> Result<Appointment, StoreError> {
    Ok(Appointment {
        id: m.id,
        status: m
            .status
            .parse()
            .map_err(|e| StoreError::corrupt("appointment status", e))?,
        start: m.start_at,
        end: m.end_at,
        patient_id: m.patient_id,
        practitioner_id: m.practitioner_id,
        location_id: m.location_id,
        conversation_id: m.conversation_id,
        channel: m
            .channel
            .map(|c| c.parse().map_err(|e| StoreError::corrupt("channel", e)))
            .transpose()?,
        reason: m.reason,
        notes: m.notes,
        cancellation_reason: m.cancel_reason,
        created_at: m.created_at,
        follow_up_date: m.follow_up_date,
        confirmed_at: m.confirmed_at,
    })
}

fn active_statuses() -> Vec<&'static str> {
    AppointmentStatus::ACTIVE
        .iter()
        .map(|s| s.as_str())
        .collect()
}

async fn insert(
    conn: &impl ConnectionTrait,
    a: &NewAppointment,
) -> Result<Appointment, StoreError> {
    let now = a.created_at;
    let row = appointment::ActiveModel {
        id: Set(a.id),
        status: Set(a.status.as_str().to_owned()),
        start_at: Set(a.start),
        end_at: Set(a.end),
        patient_id: Set(a.patient_id),
        practitioner_id: Set(a.practitioner_id),
        location_id: Set(a.location_id),
        conversation_id: Set(a.conversation_id),
        channel: Set(a.channel.map(|c| c.as_str().to_owned())),
        reason: Set(a.reason.clone()),
        notes: Set(a.notes.clone()),
        cancel_reason: Set(None),
        booking_key: Set(a.booking_key.clone()),
        follow_up_date: Set(None),
        confirmed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    appointment_from(row)
}

async fn update(
    conn: &impl ConnectionTrait,
    seen: &Appointment,
    next: &Appointment,
    cancel_reason: Option<String>,
) -> Result<Appointment, StoreError> {
    let existing = appointment::Entity::find_by_id(next.id)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound("appointment"))?;
    if appointment_from(existing.clone())? != *seen {
        return Err(StoreError::Conflict(Conflict::Stale));
    }
    let mut row = existing.into_active_model();
    row.status = Set(next.status.as_str().to_owned());
    row.start_at = Set(next.start);
    row.end_at = Set(next.end);
    row.location_id = Set(next.location_id);
    row.notes = Set(next.notes.clone());
    row.follow_up_date = Set(next.follow_up_date);
    row.confirmed_at = Set(next.confirmed_at);
    // A front-desk appointment joins the conversation of its patient that acted on it.
    row.conversation_id = Set(next.conversation_id);
    if cancel_reason.is_some() {
        row.cancel_reason = Set(cancel_reason);
    }
    row.updated_at = Set(Utc::now());
    appointment_from(row.update(conn).await?)
}

/// The appointments matching `f` (the list's and the export's filters).
pub(crate) fn filtered(f: &AppointmentFilter) -> sea_orm::Select<appointment::Entity> {
    let mut q = appointment::Entity::find();
    if let Some(id) = f.patient_id {
        q = q.filter(appointment::Column::PatientId.eq(id));
    }
    if let Some(id) = f.practitioner_id {
        q = q.filter(appointment::Column::PractitionerId.eq(id));
    }
    if let Some(id) = f.location_id {
        q = q.filter(appointment::Column::LocationId.eq(id));
    }
    if let Some(status) = f.status {
        q = q.filter(appointment::Column::Status.eq(status.as_str()));
    }
    if let Some(from) = f.from {
        q = q.filter(appointment::Column::StartAt.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(appointment::Column::StartAt.lt(to));
    }
    q
}

async fn get(conn: &impl ConnectionTrait, id: Uuid) -> Result<Appointment, StoreError> {
    let row = appointment::Entity::find_by_id(id).one(conn).await?;
    appointment_from(row.ok_or(StoreError::NotFound("appointment"))?)
}

impl Tx<'_> {
    /// Books `a`. An overlap with another active appointment of the practitioner is
    /// refused by the schema and reported as `Conflict::SlotTaken`; a second booking
    /// with the same `booking_key` as `Conflict::DuplicateBookingKey`.
    pub async fn insert_appointment(&self, a: &NewAppointment) -> Result<Appointment, StoreError> {
        self.check(insert(self.conn(), a).await)
    }

    /// Writes `next`'s status, times, location, notes, follow-up date, confirmation and
    /// conversation, provided the appointment
    /// still reads as `seen`, the version the caller decided on. The row is read under a
    /// lock (`FOR UPDATE` on PostgreSQL; SQLite has one writer at a time), so of two
    /// concurrent changes only one can pass this check: the other gets
    /// `Conflict::Stale` and must decide again on the fresh row. Without it, a notes edit
    /// racing a cancellation could write `booked` back over `cancelled`.
    pub async fn update_appointment(
        &self,
        seen: &Appointment,
        next: &Appointment,
        cancel_reason: Option<String>,
    ) -> Result<Appointment, StoreError> {
        self.check(update(self.conn(), seen, next, cancel_reason).await)
    }

    /// The appointment as this transaction sees it (for read-modify-write).
    pub async fn appointment(&self, id: Uuid) -> Result<Appointment, StoreError> {
        self.check(get(self.conn(), id).await)
    }
}

/// The transaction-taking operations that `Tx` replaces. They remain until the
/// appointments service writes through `Store::write`; new code must not use them.
impl Store {
    #[doc(hidden)]
    pub async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        Ok(self.db.begin().await?)
    }

    #[doc(hidden)]
    pub async fn insert_appointment(
        &self,
        txn: &DatabaseTransaction,
        a: &NewAppointment,
    ) -> Result<Appointment, StoreError> {
        insert(txn, a).await
    }

    #[doc(hidden)]
    pub async fn update_appointment(
        &self,
        txn: &DatabaseTransaction,
        seen: &Appointment,
        next: &Appointment,
        cancel_reason: Option<String>,
    ) -> Result<Appointment, StoreError> {
        update(txn, seen, next, cancel_reason).await
    }

    #[doc(hidden)]
    pub async fn get_appointment_in(
        &self,
        txn: &DatabaseTransaction,
        id: Uuid,
    ) -> Result<Appointment, StoreError> {
        get(txn, id).await
    }
}

impl Store {
    pub async fn get_appointment(&self, id: Uuid) -> Result<Appointment, StoreError> {
        get(&self.reads(), id).await
    }

    pub async fn appointment_by_booking_key(
        &self,
        key: &str,
    ) -> Result<Option<Appointment>, StoreError> {
        let row = appointment::Entity::find()
            .filter(appointment::Column::BookingKey.eq(key))
            .one(&self.reads())
            .await?;
        row.map(appointment_from).transpose()
    }

    pub async fn list_appointments(
        &self,
        f: &AppointmentFilter,
        page: Page,
    ) -> Result<Paged<Appointment>, StoreError> {
        let q = filtered(f)
            .order_by_asc(appointment::Column::StartAt)
            .order_by_asc(appointment::Column::Id);
        clinic::paged(&self.reads(), q, page, appointment_from).await
    }

    /// Active appointments of these practitioners that overlap [from, to): the time
    /// slot search must not offer.
    pub async fn active_appointments_between(
        &self,
        practitioner_ids: &[Uuid],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Appointment>, StoreError> {
        let rows = appointment::Entity::find()
            .filter(appointment::Column::PractitionerId.is_in(practitioner_ids.to_vec()))
            .filter(appointment::Column::Status.is_in(active_statuses()))
            .filter(appointment::Column::StartAt.lt(to))
            .filter(appointment::Column::EndAt.gt(from))
            .all(&self.reads())
            .await?;
        rows.into_iter().map(appointment_from).collect()
    }
}
