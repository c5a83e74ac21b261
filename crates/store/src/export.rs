//! Appointments for export, one page at a time: keyset pagination on (start, id), so a
//! page costs the same however deep the export is, nothing is held between pages (no
//! cursor keeps SQLite's only connection), and each row comes with the names a
//! spreadsheet needs (patient, practitioner, location).

use std::collections::HashMap;

use prm_domain::{Appointment, Location, Patient, Practitioner};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::{
    AppointmentFilter, Store, StoreError,
    appointments::{appointment_from, filtered},
    clinic::patient_from,
    entities::{appointment, patient},
};

/// Where the next page starts: after this appointment (start, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportCursor {
    pub start: chrono::DateTime<chrono::Utc>,
    pub id: Uuid,
}

/// One appointment with its parties; `None` for a party that no longer exists.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    pub appointment: Appointment,
    pub patient: Option<Patient>,
    pub practitioner: Option<Practitioner>,
    pub location: Option<Location>,
}

impl ExportRow {
    /// The cursor that continues after this row.
    pub fn cursor(&self) -> ExportCursor {
        ExportCursor {
            start: self.appointment.start,
            id: self.appointment.id,
        }
    }
}

impl Store {
    /// Up to `limit` appointments matching `f`, by (start, id), after `after`.
    pub async fn export_appointments(
        &self,
        f: &AppointmentFilter,
        after: Option<ExportCursor>,
        limit: u64,
    ) -> Result<Vec<ExportRow>, StoreError> {
        let mut q = filtered(f);
        if let Some(after) = after {
            q = q.filter(
                Condition::any()
                    .add(appointment::Column::StartAt.gt(after.start))
                    .add(
                        Condition::all()
                            .add(appointment::Column::StartAt.eq(after.start))
                            .add(appointment::Column::Id.gt(after.id)),
                    ),
            );
        }
        let rows = q
            .order_by_asc(appointment::Column::StartAt)
            .order_by_asc(appointment::Column::Id)
            .limit(limit)
            .all(&self.reads())
            .await?;
        let appointments = rows
            .into_iter()
            .map(appointment_from)
            .collect::<Result<Vec<_>, _>>()?;
        let ids = |pick: fn(&Appointment) -> Uuid| {
            let mut ids: Vec<Uuid> = appointments.iter().map(pick).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let patients: HashMap<Uuid, Patient> = patient::Entity::find()
            .filter(patient::Column::Id.is_in(ids(|a| a.patient_id)))
            .all(&self.reads())
            .await?
            .into_iter()
            .map(|m| patient_from(m).map(|p| (p.id, p)))
            .collect::<Result<_, _>>()?;
        let practitioners: HashMap<Uuid, Practitioner> = self
            .practitioners_by_ids(&ids(|a| a.practitioner_id))
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let locations: HashMap<Uuid, Location> = self
            .locations_by_ids(&ids(|a| a.location_id))
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        Ok(appointments
            .into_iter()
            .map(|a| ExportRow {
                patient: patients.get(&a.patient_id).cloned(),
                practitioner: practitioners.get(&a.practitioner_id).cloned(),
                location: locations.get(&a.location_id).cloned(),
                appointment: a,
            })
            .collect())
    }
}
