//! The demo clinic `prm --demo` seeds: 3 locations in America/Bogota, 8
//! practitioners across four departments, with weekly schedules. Fixed ids make
//! seeding idempotent: running it again changes nothing.
//!
//! Every record is checked on its own, so seeding also repairs a partial seed (a run
//! stopped half-way, e.g. a practitioner written but not yet their schedules): what is
//! missing is added, what exists is left as the clinic may have edited it.

use chrono::NaiveTime;
use prm_domain::{Location, Practitioner, PractitionerSchedule, TimeZone, Weekday};
use prm_store::{Conflict, Store, StoreError};
use uuid::Uuid;

const LOCATIONS: [(u128, &str, &str, &str); 3] = [
    (
        0x0193_0000_0000_7000_8000_0000_0000_0001,
        "Sede Norte",
        "Calle 127 # 15-20",
        "Bogotá",
    ),
    (
        0x0193_0000_0000_7000_8000_0000_0000_0002,
        "Sede Centro",
        "Carrera 7 # 32-16",
        "Bogotá",
    ),
    (
        0x0193_0000_0000_7000_8000_0000_0000_0003,
        "Sede Sur",
        "Avenida 1 de Mayo # 68-40",
        "Bogotá",
    ),
];

/// A demo practitioner and their weekly hours at one location.
struct DemoPractitioner {
    id: u128,
    name: &'static str,
    specialty: &'static str,
    location: usize,
    weekdays: &'static [u8],
    hours: ((u32, u32), (u32, u32)),
    slot_minutes: u32,
}

const PRACTITIONERS: [DemoPractitioner; 8] = [
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0101,
        name: "Dr. Ana Gómez",
        specialty: "Cardiology",
        location: 0,
        weekdays: &[0, 2, 4],
        hours: ((8, 0), (12, 0)),
        slot_minutes: 30,
    },
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0102,
        name: "Dr. Carlos Ruiz",
        specialty: "Cardiology",
        location: 1,
        weekdays: &[1, 3],
        hours: ((14, 0), (18, 0)),
        slot_minutes: 30,
    },
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0103,
        name: "Dra. Laura Méndez",
        specialty: "Dermatology",
        location: 0,
        weekdays: &[0, 1, 2, 3, 4],
        hours: ((9, 0), (13, 0)),
        slot_minutes: 20,
    },
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0104,
        name: "Dr. Felipe Torres",
        specialty: "Dermatology",
        location: 2,
        weekdays: &[1, 3, 5],
        hours: ((8, 0), (12, 0)),
        slot_minutes: 20,
    },
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0105,
        name: "Dra. Sofía Herrera",
        specialty: "General Medicine",
        location: 0,
        weekdays: &[0, 1, 2, 3, 4],
        hours: ((7, 0), (15, 0)),
        slot_minutes: 20,
    },
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0106,
        name: "Dr. Andrés Castro",
        specialty: "General Medicine",
        location: 1,
        weekdays: &[0, 1, 2, 3, 4],
        hours: ((10, 0), (18, 0)),
        slot_minutes: 20,
    },
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0107,
        name: "Dra. Valentina Rojas",
        specialty: "Pediatrics",
        location: 2,
        weekdays: &[0, 2, 4],
        hours: ((8, 0), (16, 0)),
        slot_minutes: 30,
    },
    DemoPractitioner {
        id: 0x0193_0000_0000_7000_8000_0000_0000_0108,
        name: "Dr. Mateo Vargas",
        specialty: "Pediatrics",
        location: 1,
        weekdays: &[1, 3, 5],
        hours: ((9, 0), (13, 0)),
        slot_minutes: 30,
    },
];

/// What seeding did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoSeed {
    /// Locations and practitioners written by this run.
    pub created: usize,
    /// Locations and practitioners that were there already.
    pub existing: usize,
    /// Weekly schedules written by this run (all of them on a first run, the missing
    /// ones when repairing a partial seed, none afterwards).
    pub schedules_created: usize,
}

pub async fn seed(store: &Store) -> Result<DemoSeed, StoreError> {
    let mut outcome = DemoSeed::default();
    let bogota: TimeZone = chrono_tz::America::Bogota.into();
    for (id, name, address, city) in LOCATIONS {
        let location = Location {
            id: Uuid::from_u128(id),
            name: name.to_owned(),
            timezone: bogota,
            address: Some(address.to_owned()),
            city: Some(city.to_owned()),
            phone: None,
        };
        match store.get_location(location.id).await {
            Ok(_) => outcome.existing += 1,
            Err(StoreError::NotFound(_)) => {
                store.insert_location(&location).await?;
                outcome.created += 1;
            }
            Err(e) => return Err(e),
        }
    }
    for DemoPractitioner {
        id,
        name,
        specialty,
        location,
        weekdays: days,
        hours: (start, end),
        slot_minutes: slot,
    } in PRACTITIONERS
    {
        let practitioner = Practitioner {
            id: Uuid::from_u128(id),
            name: name.to_owned(),
            specialty: specialty.to_owned(),
            phone: None,
            active: true,
        };
        match store.get_practitioner(practitioner.id).await {
            Ok(_) => outcome.existing += 1,
            Err(StoreError::NotFound(_)) => {
                store.insert_practitioner(&practitioner).await?;
                outcome.created += 1;
            }
            Err(e) => return Err(e),
        }
        for (n, day) in days.iter().enumerate() {
            let schedule = PractitionerSchedule {
                id: Uuid::from_u128(id + ((n as u128 + 1) << 16)),
                practitioner_id: practitioner.id,
                location_id: Uuid::from_u128(LOCATIONS[location].0),
                day_of_week: Weekday::new(i64::from(*day))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                start_time: NaiveTime::from_hms_opt(start.0, start.1, 0).unwrap_or_default(),
                end_time: NaiveTime::from_hms_opt(end.0, end.1, 0).unwrap_or_default(),
                slot_minutes: slot,
                valid_from: None,
                valid_to: None,
            };
            match store.get_schedule(practitioner.id, schedule.id).await {
                Ok(_) => {}
                Err(StoreError::NotFound(_)) => match store.save_schedule(&schedule, false).await {
                    Ok(_) => outcome.schedules_created += 1,
                    // The clinic gave the practitioner other hours meanwhile: theirs win.
                    Err(StoreError::Conflict(Conflict::ScheduleOverlap)) => {
                        tracing::debug!(schedule_id = %schedule.id, "demo schedule overlaps the clinic's own; skipped");
                    }
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }
    Ok(outcome)
}
