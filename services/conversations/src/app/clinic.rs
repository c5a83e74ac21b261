//! What the journey needs to know about the clinic (its departments and locations, its
//! date today) and about a patient it may already know. Read from the tables the
//! appointments service owns; conversations never writes them.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, NaiveDate, Utc};
use prm_ai::{ClinicContext, KnownPatient, LocationChoice};
use prm_domain::{Patient, PhoneNumber};
use prm_store::{LocationFilter, Page, PractitionerFilter, Store, StoreError};

/// How long a read of the clinic's set-up is reused: set-up changes are rare and a
/// turn should not cost two queries.
const FRESH_FOR: Duration = Duration::from_secs(30);
const MAX_ROWS: u64 = 500;

#[derive(Clone)]
struct Snapshot {
    context: ClinicContext,
    zone: Option<chrono_tz::Tz>,
    read_at: Instant,
}

#[derive(Default)]
pub struct ClinicCache {
    snapshot: Mutex<Option<Snapshot>>,
}

impl ClinicCache {
    /// The departments (active practitioners' specialties) and locations.
    pub async fn context(&self, store: &Store) -> Result<ClinicContext, StoreError> {
        Ok(self.snapshot(store).await?.context)
    }

    /// The clinic's date at `now`, in its (first) location's time zone: what "today",
    /// "mañana" and ages are read against.
    pub async fn today(&self, store: &Store, now: DateTime<Utc>) -> NaiveDate {
        match self.snapshot(store).await {
            Ok(Snapshot { zone: Some(tz), .. }) => now.with_timezone(&tz).date_naive(),
            _ => now.date_naive(),
        }
    }

    async fn snapshot(&self, store: &Store) -> Result<Snapshot, StoreError> {
        if let Some(s) = self.cached() {
            return Ok(s);
        }
        let page = Page {
            limit: MAX_ROWS,
            offset: 0,
        };
        let practitioners = store
            .list_practitioners(
                &PractitionerFilter {
                    active: Some(true),
                    ..PractitionerFilter::default()
                },
                page,
            )
            .await?;
        let mut departments: Vec<String> = Vec::new();
        for p in practitioners.items {
            let key = prm_domain::specialty_key(&p.specialty);
            if !departments
                .iter()
                .any(|d| prm_domain::specialty_key(d) == key)
            {
                departments.push(p.specialty);
            }
        }
        let locations = store
            .list_locations(&LocationFilter::default(), page)
            .await?;
        let zone = locations.items.first().map(|l| l.timezone.tz());
        let snapshot = Snapshot {
            context: ClinicContext {
                departments,
                locations: locations
                    .items
                    .into_iter()
                    .map(|l| LocationChoice {
                        id: l.id,
                        name: l.name,
                    })
                    .collect(),
            },
            zone,
            read_at: Instant::now(),
        };
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    fn cached(&self) -> Option<Snapshot> {
        let slot = self.snapshot.lock().ok()?;
        slot.as_ref()
            .filter(|s| s.read_at.elapsed() < FRESH_FOR)
            .cloned()
    }

    /// Forgets the snapshot (tests that change the clinic mid-way).
    pub fn invalidate(&self) {
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = None;
        }
    }
}

/// The patient the clinic knows by this phone, if any.
pub async fn known_patient(
    store: &Store,
    phone: &PhoneNumber,
) -> Result<Option<Patient>, StoreError> {
    store.find_patient_by_phone(phone).await
}

/// What the intake does not ask a known patient again.
pub fn as_known(patient: &Patient) -> KnownPatient {
    KnownPatient {
        name: patient.name.clone(),
        birth_date: patient.birth_date,
    }
}
