//! REMINDER_DUE (appointments' scheduler): the reminder, follow-up or no-show message
//! written with the clinic's template in the patient's language, sent on the patient's
//! open conversation (or one it opens), once per job however often the event comes.
//! After a reminder the conversation awaits its answer (1 confirm / 2 change /
//! 3 cancel), which the journey reads (`journey::reminder`).

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use prm_bus::Delivery;
use prm_domain::{
    Channel, Locale,
    conversation::{Author, ConversationStatus, Stage},
    events::{ReminderDue, ReminderKind},
    templates::TemplateVars,
};
use uuid::Uuid;

use super::{AfterCommit, App, ConversationError, PROCESSED};
use crate::journey::{AwaitedReminder, JourneyState};

/// How long a reminder's answer is awaited at most (less when the appointment starts
/// sooner).
const ANSWER_WINDOW: TimeDelta = TimeDelta::hours(48);

impl App {
    /// REMINDER_DUE: recorded as the message `job_id` (a redelivered or republished job
    /// sends once), on the conversation the appointment was booked in if it is still
    /// open, else the phone's open one, else a new one opened by `system`.
    pub async fn on_reminder_due(
        self: &Arc<Self>,
        delivery: &Delivery,
    ) -> Result<(), ConversationError> {
        let data: ReminderDue = delivery.envelope.data_as()?;
        let conversation_id = self.reminder_conversation(&data).await?;
        // Read before the transaction: on SQLite it holds the only connection.
        let current = self.store.get_conversation(conversation_id).await?;
        let locale = data.locale.unwrap_or(current.conversation.locale);
        let purpose = data.kind.template();
        let vars = self.reminder_vars(&data, locale).await;
        // Read before the transaction: the embedded store has one connection.
        let Some(rendered) = self.render_template(purpose, locale, &vars).await? else {
            tracing::debug!(job_id = %data.job_id, purpose = %purpose, "template switched off; nothing sent");
            return Ok(());
        };
        let now = self.now();
        let (app, data, rendered) = (self, &data, &rendered);
        let (consumer, event_id) = (delivery.consumer.as_str(), delivery.envelope.id);
        let after = self
            .store
            .write(&self.producer, |tx| {
                Box::pin(async move {
                    let mut after = AfterCommit::default();
                    if !tx.record_processed(PROCESSED, consumer, event_id).await? {
                        return Ok(after);
                    }
                    let record = tx.lock_conversation(conversation_id).await?;
                    if record.conversation.status == ConversationStatus::Closed {
                        // Closed since the lookup: the next attempt opens a new one.
                        return Err(ConversationError::Transient(
                            "the conversation was just closed",
                        ));
                    }
                    if tx.message_exists(data.job_id).await? {
                        return Ok(after);
                    }
                    let mut c = record.conversation;
                    let mut journey = JourneyState::from_json(record.journey.as_ref());
                    if c.patient_id.is_none() {
                        c.patient_id = Some(data.patient.id);
                    }
                    // A conversation the reminder opens speaks the patient's language.
                    if c.last_message_at.is_none() {
                        c.locale = locale;
                    }
                    app.record_outbound(
                        tx,
                        &c,
                        data.job_id,
                        Author::Bot,
                        &rendered.body,
                        Vec::new(),
                        Some(rendered.message_purpose().to_owned()),
                        // Kept so that, outside WhatsApp's 24-hour window, it leaves as
                        // the clinic's approved provider template with the same values.
                        Some(rendered.usage()),
                        &mut after,
                    )
                    .await?;
                    after_reminder(&mut c.stage, &mut journey, data, locale, now);
                    c.last_message_at = Some(now);
                    c.updated_at = now;
                    tx.save_conversation(&c, Some(&journey.to_json())).await?;
                    Ok::<_, ConversationError>(after)
                })
            })
            .await?;
        metrics::counter!("prm_reminders_sent_total", "kind" => data.kind.as_str()).increment(1);
        self.after_commit(after).await;
        Ok(())
    }

    /// The conversation a scheduled message goes on.
    async fn reminder_conversation(
        self: &Arc<Self>,
        data: &ReminderDue,
    ) -> Result<Uuid, ConversationError> {
        if let Some(id) = data.conversation_id {
            match self.store.get_conversation(id).await {
                Ok(r) if r.conversation.status != ConversationStatus::Closed => return Ok(id),
                Ok(_) | Err(prm_store::StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Reminders go to the patient's phone: WhatsApp, or SMS for an SMS booking.
        let channel = match data.channel {
            Some(Channel::Sms) => Channel::Sms,
            _ => Channel::Whatsapp,
        };
        self.ensure_conversation(
            &data.patient.phone,
            channel,
            "system",
            Some(data.patient.id),
        )
        .await
    }

    /// The placeholders' values: the appointment on the location's wall clock, the
    /// practitioner's specialty as the department, the location's phone if it has one.
    async fn reminder_vars(&self, data: &ReminderDue, locale: Locale) -> TemplateVars {
        let clinic_phone = match self.store.get_location(data.location.id).await {
            Ok(location) => location.phone.map(|p| p.as_str().to_owned()),
            Err(error) => {
                tracing::debug!(location_id = %data.location.id, %error, "location not readable; no clinic phone");
                None
            }
        };
        let start = data
            .start
            .with_timezone(&data.location.timezone.tz())
            .fixed_offset();
        TemplateVars::for_appointment(
            locale,
            start,
            &data.patient.name,
            &data.practitioner.name,
            &data.location.name,
            &data.practitioner.specialty,
            clinic_phone.as_deref(),
        )
    }
}

/// Where the conversation stands once the message went out.
fn after_reminder(
    stage: &mut Stage,
    journey: &mut JourneyState,
    data: &ReminderDue,
    locale: Locale,
    now: chrono::DateTime<Utc>,
) {
    match data.kind {
        ReminderKind::Reminder => {
            journey.reminder = Some(AwaitedReminder {
                appointment_id: data.appointment_id,
                job_id: data.job_id,
                locale,
                sent_at: now,
                expires_at: data.start.with_timezone(&Utc).min(now + ANSWER_WINDOW),
                clarified: false,
            });
            // A conversation with nothing under way (just opened for the reminder) is
            // about the booked appointment: a message that is not an answer gets the
            // booked stage's replies, not an intake question.
            if *stage == Stage::Intake && journey.intake.is_none() {
                *stage = Stage::Booked;
                journey.appointment_id = Some(data.appointment_id);
            }
        }
        // These invite the patient to book again: the answer starts an intake, not the
        // booked stage's "your appointment is booked".
        ReminderKind::FollowUp | ReminderKind::NoShow => {
            if *stage == Stage::Booked {
                *journey = JourneyState {
                    reminder: journey.reminder.take(),
                    ..JourneyState::default()
                };
                *stage = Stage::Intake;
            }
        }
    }
}
