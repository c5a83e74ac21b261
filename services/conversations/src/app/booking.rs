//! The appointments side of the journey, as conversations hears it: an offer to send
//! (SLOTS_OFFERED), a booking to confirm (APPOINTMENT_CREATED), a cancellation or a move
//! to tell the patient about.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use prm_bus::Delivery;
use prm_domain::{
    Locale,
    conversation::{ConversationStatus, Stage},
    events::{
        AppointmentCancelled, AppointmentCreated, AppointmentRescheduled, EventData, LocationRef,
        PatientRef, PractitionerRef, SlotsOffered, Urgency,
    },
    templates::{TemplatePurpose, TemplateVars},
};
use uuid::Uuid;

use super::{AfterCommit, App, ConversationError, PROCESSED, RenderedTemplate, templates::LOCALES};
use crate::journey::{JourneyState, Reply, TurnOutcome};

/// A message about an appointment, told from the clinic's template for `purpose`.
struct Notice<'a> {
    purpose: TemplatePurpose,
    /// With the location's offset, as events carry it.
    start: DateTime<FixedOffset>,
    patient: &'a PatientRef,
    practitioner: &'a PractitionerRef,
    location: &'a LocationRef,
}

/// A notice rendered in each locale before the transaction (the conversation's locale
/// is known only under its lock); `None` where the purpose is switched off.
#[derive(Default)]
struct Rendered(Vec<(Locale, RenderedTemplate)>);

impl Rendered {
    fn get(&self, locale: Locale) -> Option<&RenderedTemplate> {
        self.0.iter().find(|(l, _)| *l == locale).map(|(_, t)| t)
    }
}

impl App {
    /// Runs `decide` on the locked conversation of an event, once per event id, and
    /// commits what it decided. Events about a conversation that does not exist (or
    /// none) are acknowledged and ignored.
    async fn on_conversation_event<E: EventData>(
        self: &Arc<Self>,
        delivery: &Delivery,
        conversation_id: impl Fn(&E) -> Option<Uuid>,
        patient_id: impl Fn(&E) -> Option<Uuid> + Sync,
        notice: impl Fn(&E) -> Option<Notice<'_>>,
        decide: impl Fn(
            &E,
            &prm_domain::conversation::Conversation,
            &JourneyState,
        ) -> Option<TurnOutcome>
        + Sync,
    ) -> Result<(), ConversationError> {
        let data: E = delivery.envelope.data_as()?;
        let Some(id) = conversation_id(&data) else {
            return Ok(());
        };
        let rendered = match notice(&data) {
            Some(n) => self.render_notice(&n).await?,
            None => Rendered::default(),
        };
        let rendered = &rendered;
        let (app, data, decide, patient_id) = (self, &data, &decide, &patient_id);
        let (consumer, event_id) = (delivery.consumer.as_str(), delivery.envelope.id);
        let after = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let mut after = AfterCommit::default();
                    if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                        return Ok(after);
                    }
                    let record = match tx.lock_conversation(id).await {
                        Ok(record) => record,
                        Err(prm_store::StoreError::NotFound(_)) => {
                            tracing::debug!(conversation_id = %id, "event about an unknown conversation; ignored");
                            return Ok(after);
                        }
                        Err(e) => return Err(ConversationError::from(e)),
                    };
                    let journey = JourneyState::from_json(record.journey.as_ref());
                    if let Some(outcome) = decide(data, &record.conversation, &journey) {
                        let mut conversation = record.conversation;
                        // Appointments registered the patient of an unknown phone: the
                        // conversation knows them from now on (the staff inbox, the
                        // filters, the next intake that need not ask again).
                        if conversation.patient_id.is_none() {
                            conversation.patient_id = patient_id(data);
                        }
                        let templated = rendered.get(conversation.locale);
                        app.commit_outcome_with(tx, conversation, outcome, templated, &mut after)
                            .await?;
                    }
                    Ok(after)
                })
            })
            .await?;
        self.after_commit(after).await;
        Ok(())
    }

    /// SLOTS_OFFERED: the numbered list goes to the patient and the conversation waits
    /// for the choice. No slot at all is handed to staff.
    pub async fn on_slots_offered(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        self.on_conversation_event::<SlotsOffered>(
            delivery,
            |d| Some(d.conversation_id),
            |d| d.patient_id,
            |_| None,
            |offer, c, journey| {
                if c.status == ConversationStatus::Closed {
                    return None;
                }
                let mut out = outcome(c, journey);
                out.journey.awaiting = None;
                // The offer is the last question asked: "1" picks a slot now.
                out.journey.reminder = None;
                // A slot freed up for a patient on the waitlist: a conversation handed to
                // staff only because nothing was free (escalated from triage by an empty
                // offer, bot paused) is given back to the bot with the offer.
                let reopened = offer.waitlist
                    && !offer.slots.is_empty()
                    && c.stage == Stage::Escalated
                    && c.bot_paused
                    && journey.escalation_reason.as_deref() == Some(NO_SLOTS)
                    && journey
                        .triage
                        .as_ref()
                        .is_none_or(|t| t.urgency != Urgency::Emergency);
                if reopened {
                    out.bot_paused = false;
                    out.journey.resume_stage = None;
                    out.journey.escalation_reason = None;
                }
                if !c.bot_paused || reopened {
                    out.replies.push(Reply {
                        purpose: "slot_offer",
                        body: offer.message.clone(),
                    });
                }
                if offer.slots.is_empty() {
                    out.journey.resume_stage = Some(Stage::Triage);
                    out.journey.escalation_reason = Some(NO_SLOTS.to_owned());
                    out.stage = Stage::Escalated;
                    out.bot_paused = true;
                    out.events.push(prm_domain::events::Envelope::new(
                        "conversations",
                        prm_domain::events::ConversationEscalated {
                            conversation_id: c.id,
                            patient_id: c.patient_id.or(offer.patient_id),
                            phone: c.phone.clone(),
                            urgency: journey
                                .triage
                                .as_ref()
                                .map_or(Urgency::Routine, |t| t.urgency),
                            reason: NO_SLOTS.to_owned(),
                            escalated_at: chrono::Utc::now(),
                        },
                    ));
                } else if c.stage != Stage::Escalated || reopened {
                    out.stage = Stage::Offering;
                }
                Some(out)
            },
        )
        .await
    }

    /// APPOINTMENT_CREATED for a conversation: the confirmation, with date, time,
    /// practitioner and location in the patient's locale.
    pub async fn on_appointment_created(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        self.on_conversation_event::<AppointmentCreated>(
            delivery,
            |d| d.conversation_id,
            |d| Some(d.patient.id),
            |a| {
                Some(Notice {
                    purpose: TemplatePurpose::Confirmation,
                    start: a.start,
                    patient: &a.patient,
                    practitioner: &a.practitioner,
                    location: &a.location,
                })
            },
            |a, c, journey| {
                let mut out = outcome(c, journey);
                out.journey.appointment_id = Some(a.appointment_id);
                out.journey.awaiting = None;
                if c.stage != Stage::Escalated {
                    out.stage = Stage::Booked;
                }
                Some(out)
            },
        )
        .await
    }

    pub async fn on_appointment_cancelled(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        self.on_conversation_event::<AppointmentCancelled>(
            delivery,
            |d| d.conversation_id,
            |_| None,
            |a| {
                Some(Notice {
                    purpose: TemplatePurpose::Cancellation,
                    start: a.start,
                    patient: &a.patient,
                    practitioner: &a.practitioner,
                    location: &a.location,
                })
            },
            |a, c, journey| {
                let mut out = outcome(c, journey);
                out.journey.forget_reminder_of(a.appointment_id);
                Some(out)
            },
        )
        .await
    }

    pub async fn on_appointment_rescheduled(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        self.on_conversation_event::<AppointmentRescheduled>(
            delivery,
            |d| d.conversation_id,
            |_| None,
            |a| {
                Some(Notice {
                    purpose: TemplatePurpose::Reschedule,
                    start: a.start,
                    patient: &a.patient,
                    practitioner: &a.practitioner,
                    location: &a.location,
                })
            },
            |a, c, journey| {
                let mut out = outcome(c, journey);
                // A reschedule chosen from an offer ends the offer: booked again.
                out.journey.appointment_id = Some(a.appointment_id);
                out.journey.awaiting = None;
                if c.stage != Stage::Escalated {
                    out.stage = Stage::Booked;
                }
                Some(out)
            },
        )
        .await
    }
}

/// The escalation reason of an offer with no slot at all.
const NO_SLOTS: &str = "no_slots";
impl App {
    /// The notice in each locale, from the clinic's templates, in the location's wall
    /// clock; `department` is the practitioner's specialty, `clinic_phone` the
    /// location's phone (empty when it has none).
    async fn render_notice(&self, n: &Notice<'_>) -> Result<Rendered, ConversationError> {
        let clinic_phone = match self.store.get_location(n.location.id).await {
            Ok(location) => location.phone.map(|p| p.as_str().to_owned()),
            Err(prm_store::StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let mut rendered = Rendered::default();
        for locale in LOCALES {
            let vars = TemplateVars::for_appointment(
                locale,
                n.start,
                &n.patient.name,
                &n.practitioner.name,
                &n.location.name,
                &n.practitioner.specialty,
                clinic_phone.as_deref(),
            );
            if let Some(t) = self.render_template(n.purpose, locale, &vars).await? {
                rendered.0.push((locale, t));
            }
        }
        Ok(rendered)
    }
}

/// A step that changes nothing yet.
fn outcome(c: &prm_domain::conversation::Conversation, journey: &JourneyState) -> TurnOutcome {
    TurnOutcome {
        journey: journey.clone(),
        stage: c.stage,
        locale: c.locale,
        bot_paused: c.bot_paused,
        replies: Vec::new(),
        events: Vec::new(),
        trigger: None,
        engine: None,
    }
}
