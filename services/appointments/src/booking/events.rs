//! The events appointments publishes, built from the rows they announce.
//! They are written to the service's own outbox ([`OUTBOX`]) in the transaction of the
//! change. Built from domain types and [`SlotView`]; the application layer calls these.
//!
//! `cancelled_at`/`rescheduled_at` are the change's own instant, taken from the
//! service's clock by the caller. The envelope's `occurred_at` stays the machine's
//! time ([`Envelope::new`]): it records when the event was written, for tracing and
//! ordering beside the other services' events (which use their machines' clocks), and
//! nothing decides on it.

use chrono::{DateTime, FixedOffset, Utc};
use prm_domain::{
    Appointment, Location, Patient, Practitioner,
    events::{
        AppointmentCancelled, AppointmentCreated, AppointmentRescheduled, Envelope, LocationRef,
        OfferedSlot, PatientRef, PractitionerRef, SlotsOffered,
    },
};
use prm_store::outbox::Outbox;
use uuid::Uuid;

use super::views::SlotView;

pub const SOURCE: &str = "appointments";

/// The appointments service's outbox table (its relay publishes it).
pub const OUTBOX: Outbox = Outbox::APPOINTMENTS;

/// The people and place an appointment involves, as events carry them.
pub struct Parties {
    pub patient: Patient,
    pub practitioner: Practitioner,
    pub location: Location,
}

impl Parties {
    fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.location.timezone.tz()).fixed_offset()
    }

    fn patient_ref(&self) -> PatientRef {
        PatientRef {
            id: self.patient.id,
            name: self.patient.name.clone(),
            phone: self.patient.phone.clone(),
        }
    }

    fn practitioner_ref(&self) -> PractitionerRef {
        practitioner_ref(&self.practitioner)
    }

    fn location_ref(&self) -> LocationRef {
        location_ref(&self.location)
    }
}

fn practitioner_ref(p: &Practitioner) -> PractitionerRef {
    PractitionerRef {
        id: p.id,
        name: p.name.clone(),
        specialty: p.specialty.clone(),
    }
}

fn location_ref(l: &Location) -> LocationRef {
    LocationRef {
        id: l.id,
        name: l.name.clone(),
        timezone: l.timezone,
    }
}

pub fn created(a: &Appointment, parties: &Parties) -> Envelope {
    Envelope::new(
        SOURCE,
        AppointmentCreated {
            appointment_id: a.id,
            status: a.status,
            start: parties.local(a.start),
            end: parties.local(a.end),
            patient: parties.patient_ref(),
            practitioner: parties.practitioner_ref(),
            location: parties.location_ref(),
            conversation_id: a.conversation_id,
            channel: a.channel,
        },
    )
}

pub fn cancelled(
    a: &Appointment,
    parties: &Parties,
    reason: Option<String>,
    by: &str,
    cancelled_at: DateTime<Utc>,
) -> Envelope {
    Envelope::new(
        SOURCE,
        AppointmentCancelled {
            appointment_id: a.id,
            status: a.status,
            start: parties.local(a.start),
            end: parties.local(a.end),
            reason,
            cancelled_at,
            cancelled_by: by.to_owned(),
            patient: parties.patient_ref(),
            practitioner: parties.practitioner_ref(),
            location: parties.location_ref(),
            conversation_id: a.conversation_id,
            channel: a.channel,
        },
    )
}

pub fn rescheduled(
    previous: &Appointment,
    a: &Appointment,
    parties: &Parties,
    previous_location: &Location,
    rescheduled_at: DateTime<Utc>,
) -> Envelope {
    let previous_local = |t: DateTime<Utc>| {
        t.with_timezone(&previous_location.timezone.tz())
            .fixed_offset()
    };
    Envelope::new(
        SOURCE,
        AppointmentRescheduled {
            appointment_id: a.id,
            status: a.status,
            previous_start: previous_local(previous.start),
            previous_end: previous_local(previous.end),
            start: parties.local(a.start),
            end: parties.local(a.end),
            reason: None,
            rescheduled_at,
            patient: parties.patient_ref(),
            practitioner: parties.practitioner_ref(),
            location: parties.location_ref(),
            conversation_id: a.conversation_id,
            channel: a.channel,
        },
    )
}

pub fn slots_offered(
    conversation_id: Uuid,
    patient_id: Option<Uuid>,
    department: &str,
    slots: &[SlotView],
    locations: &[Location],
    message: &str,
) -> Envelope {
    offered(
        conversation_id,
        patient_id,
        department,
        slots,
        locations,
        message,
        false,
    )
}

/// A freed slot offered to a patient on the waitlist (`waitlist: true`).
pub fn waitlist_slot_offered(
    conversation_id: Uuid,
    patient_id: Option<Uuid>,
    department: &str,
    slots: &[SlotView],
    locations: &[Location],
    message: &str,
) -> Envelope {
    offered(
        conversation_id,
        patient_id,
        department,
        slots,
        locations,
        message,
        true,
    )
}

fn offered(
    conversation_id: Uuid,
    patient_id: Option<Uuid>,
    department: &str,
    slots: &[SlotView],
    locations: &[Location],
    message: &str,
    waitlist: bool,
) -> Envelope {
    let offered = slots
        .iter()
        .filter_map(|s| {
            let location = locations.iter().find(|l| l.id == s.location.id)?;
            Some(OfferedSlot {
                index: s.index,
                start: s.start,
                end: s.end,
                practitioner: PractitionerRef {
                    id: s.practitioner.id,
                    name: s.practitioner.name.clone(),
                    specialty: s.practitioner.specialty.clone(),
                },
                location: location_ref(location),
                score: i64::from(s.score),
                text: s.text.clone(),
            })
        })
        .collect();
    Envelope::new(
        SOURCE,
        SlotsOffered {
            conversation_id,
            patient_id,
            department: department.to_owned(),
            slots: offered,
            message: message.to_owned(),
            waitlist,
        },
    )
}
