//! A clinic set up over HTTP, as the front desk sets one up: a location, a practitioner
//! with hours on every day of the week (so no test depends on the weekday it runs) and
//! a patient.

use chrono::{NaiveTime, TimeDelta};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::{TestApp, time::BOGOTA};

pub const LOCATIONS: &str = "/api/v1/prm/locations";
pub const PRACTITIONERS: &str = "/api/v1/prm/practitioners";
pub const PATIENTS: &str = "/api/v1/prm/patients";
pub const APPOINTMENTS: &str = "/api/v1/prm/appointments";
pub const FIND_SLOTS: &str = "/api/v1/prm/appointments/find-slots";
pub const SELECT_SLOT: &str = "/api/v1/prm/appointments/select-slot";

/// What [`ClinicPlan::open`] creates; read the ids from the JSON.
#[derive(Debug, Clone)]
pub struct Clinic {
    pub location: Value,
    pub practitioner: Value,
    pub patient: Value,
}

/// The clinic to open. Default: Sede Norte in Bogotá, Dr. Ana Gómez (Cardiology) there
/// every day 08:00–18:00 in 30-minute slots, and María Pérez (+57 300 123 4567, `es`).
#[derive(Debug, Clone)]
pub struct ClinicPlan {
    specialty: String,
    start: String,
    end: String,
    timezone: String,
    patient: (String, String),
}

impl Default for ClinicPlan {
    fn default() -> Self {
        Self {
            specialty: "Cardiology".into(),
            start: "08:00".into(),
            end: "18:00".into(),
            timezone: "America/Bogota".into(),
            patient: ("María Pérez".into(), "3001234567".into()),
        }
    }
}

impl ClinicPlan {
    pub fn specialty(mut self, specialty: &str) -> Self {
        self.specialty = specialty.into();
        self
    }

    /// The practitioner's hours, every day (`"08:00"`, `"18:00"`).
    pub fn hours(mut self, start: &str, end: &str) -> Self {
        self.start = start.into();
        self.end = end.into();
        self
    }

    /// Hours from 00:00 to 23:30 every day, so that any instant has a slot nearby.
    pub fn round_the_clock(self) -> Self {
        self.hours("00:00", "23:30")
    }

    /// The location's IANA zone.
    pub fn timezone(mut self, zone: Tz) -> Self {
        self.timezone = zone.name().into();
        self
    }

    pub fn patient(mut self, name: &str, phone: &str) -> Self {
        self.patient = (name.into(), phone.into());
        self
    }

    pub async fn open(self, app: &TestApp) -> Clinic {
        let location = app.create_location_in("Sede Norte", &self.timezone).await;
        let practitioner = app.create_practitioner(&self.specialty).await;
        app.schedule_every_day(&practitioner, &location, &self.start, &self.end)
            .await;
        let (name, phone) = &self.patient;
        let patient = app
            .create(
                PATIENTS,
                json!({"name": name, "phone": phone, "locale": "es"}),
            )
            .await;
        Clinic {
            location,
            practitioner,
            patient,
        }
    }
}

impl Clinic {
    pub fn plan() -> ClinicPlan {
        ClinicPlan::default()
    }

    /// The default clinic (see [`ClinicPlan`]).
    pub async fn open(app: &TestApp) -> Self {
        ClinicPlan::default().open(app).await
    }

    /// A front-desk booking of the patient with the practitioner at `start`.
    pub fn booking(&self, start: &str) -> Value {
        json!({
            "patient_id": self.patient["id"],
            "practitioner_id": self.practitioner["id"],
            "location_id": self.location["id"],
            "start": start,
        })
    }

    /// Books `start` (201 expected) and returns the appointment.
    pub async fn book(&self, app: &TestApp, start: &str) -> Value {
        app.book(self.booking(start)).await
    }
}

/// The id of a created resource.
pub fn id(resource: &Value) -> &str {
    resource["id"].as_str().expect("a resource with an id")
}

impl TestApp {
    /// Posts `body` to `path`, expects 201 and returns the created resource.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let response = self.post(path, body.clone()).await;
        let status = response.status();
        let created: Value = response.json().await.expect("JSON");
        assert_eq!(status, 201, "POST {path} {body}: {created}");
        created
    }

    /// Sede Norte in Bogotá.
    pub async fn create_location(&self) -> Value {
        self.create_location_in("Sede Norte", "America/Bogota")
            .await
    }

    pub async fn create_location_in(&self, name: &str, timezone: &str) -> Value {
        let city = (timezone == "America/Bogota").then_some("Bogotá");
        self.create(
            LOCATIONS,
            json!({"name": name, "timezone": timezone, "city": city}),
        )
        .await
    }

    /// Dr. Ana Gómez, of `specialty`.
    pub async fn create_practitioner(&self, specialty: &str) -> Value {
        self.create(
            PRACTITIONERS,
            json!({"name": "Dr. Ana Gómez", "specialty": specialty}),
        )
        .await
    }

    pub async fn create_patient(&self, name: &str, phone: &str) -> Value {
        self.create(PATIENTS, json!({"name": name, "phone": phone}))
            .await
    }

    /// Hours for `practitioner` at `location` on every day of the week, 30-minute slots.
    pub async fn schedule_every_day(
        &self,
        practitioner: &Value,
        location: &Value,
        start: &str,
        end: &str,
    ) {
        let path = format!("{PRACTITIONERS}/{}/schedules", id(practitioner));
        for day in 0..7 {
            self.create(
                &path,
                json!({"location_id": location["id"], "day_of_week": day, "start_time": start, "end_time": end, "slot_minutes": 30}),
            )
            .await;
        }
    }

    /// Books `body` at the front desk (201 expected) and returns the appointment.
    pub async fn book(&self, body: Value) -> Value {
        self.create(APPOINTMENTS, body).await
    }

    /// `time` (`"09:00"`) in Bogotá, `days` after the app's today there, RFC 3339 with
    /// the offset: a slot start relative to the app's clock.
    pub fn bogota_in(&self, days: i64, time: &str) -> String {
        let today = self.now().with_timezone(&BOGOTA).date_naive();
        let at = NaiveTime::parse_from_str(time, "%H:%M")
            .unwrap_or_else(|e| panic!("`{time}` is not HH:MM: {e}"));
        let wall = (today + TimeDelta::days(days)).and_time(at);
        wall.and_local_timezone(BOGOTA)
            .single()
            .expect("Bogotá has no daylight saving")
            .to_rfc3339()
    }
}
