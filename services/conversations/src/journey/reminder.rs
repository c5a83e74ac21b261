//! The patient's answer to an appointment reminder ("Responde 1 para confirmar, 2 para
//! cambiarla o 3 para cancelarla"): read before the stage's own handling, because the
//! reminder is the last question the conversation asked. The answer goes to
//! appointments as BOOKING_ACTION; appointments answers a cancel with
//! APPOINTMENT_CANCELLED and a change with SLOTS_OFFERED, which the conversation
//! already handles.

use chrono::{DateTime, Utc};
use prm_domain::{
    Locale,
    conversation::Stage,
    events::{BookingAction, BookingActionKind, Envelope},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{JourneyState, Texts, TurnInput, TurnOutcome, turn::wants_another_appointment};

const SOURCE: &str = "conversations";

/// A reminder sent that the patient may still answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwaitedReminder {
    pub appointment_id: Uuid,
    /// The reminder job (and message) it was sent as.
    pub job_id: Uuid,
    /// The locale the reminder was written in: the acknowledgement follows it.
    pub locale: Locale,
    pub sent_at: DateTime<Utc>,
    /// After this (the appointment's start, or 48 hours after sending) a "1" is no
    /// longer read as an answer to it.
    pub expires_at: DateTime<Utc>,
    /// The patient wrote something else once and was asked to answer 1, 2 or 3.
    #[serde(default)]
    pub clarified: bool,
}

/// What a patient's message says about a reminder, if it answers one: compared whole,
/// ignoring case, accents and the punctuation around it, so "¡Sí!" confirms and
/// "no puedo" asks for a change, while "no" or "sí, pero otro día" answer nothing.
pub fn reminder_answer(text: &str) -> Option<BookingActionKind> {
    const CONFIRM: [&str; 7] = ["1", "confirmo", "confirmar", "si", "ok", "yes", "confirm"];
    const CANCEL: [&str; 6] = [
        "3",
        "cancelar",
        "cancela",
        "cancelo",
        "cancel",
        "no voy a ir",
    ];
    const CHANGE: [&str; 9] = [
        "2",
        "cambiar",
        "cambio",
        "reprogramar",
        "no puedo",
        "otro dia",
        "change",
        "reschedule",
        "cant make it",
    ];
    let said = normalize(text);
    if CONFIRM.contains(&said.as_str()) {
        Some(BookingActionKind::Confirm)
    } else if CANCEL.contains(&said.as_str()) {
        Some(BookingActionKind::Cancel)
    } else if CHANGE.contains(&said.as_str()) {
        Some(BookingActionKind::Reschedule)
    } else {
        None
    }
}

/// Lower case, without accents or apostrophes, words separated by one space, and
/// without the punctuation (or emoji) before the first word and after the last.
fn normalize(text: &str) -> String {
    let plain: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(c, '\'' | '’' | '`' | '´'))
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect();
    plain
        .trim_matches(|c: char| !c.is_alphanumeric())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a patient message as the answer to the awaited reminder, if there is one.
/// `true` when the message was taken (an answer, or the one clarifying question);
/// `false` leaves it to the stage's handling (a new request, a second message that is
/// not an answer, a reminder that expired).
pub(super) fn answer(out: &mut TurnOutcome, input: &TurnInput<'_>) -> bool {
    let Some(awaited) = out.journey.reminder.clone() else {
        return false;
    };
    if input.now >= awaited.expires_at {
        out.journey.reminder = None;
        return false;
    }
    let c = input.conversation;
    let Some(action) = reminder_answer(input.text) else {
        if wants_another_appointment(input.text) {
            out.journey.reminder = None;
            return false;
        }
        if awaited.clarified {
            return false;
        }
        out.reply("reminder_clarify", Texts(awaited.locale).reminder_clarify());
        if let Some(r) = out.journey.reminder.as_mut() {
            r.clarified = true;
        }
        return true;
    };
    out.journey.reminder = None;
    out.events.push(Envelope::new(
        SOURCE,
        BookingAction {
            conversation_id: c.id,
            action,
            appointment_id: Some(awaited.appointment_id),
            reason: None,
            patient_id: c.patient_id,
        },
    ));
    match action {
        BookingActionKind::Confirm => {
            out.reply(
                "reminder_confirmed",
                Texts(awaited.locale).reminder_confirmed(),
            );
        }
        // APPOINTMENT_CANCELLED brings the cancellation message, which invites the
        // patient to write for another appointment: the next message starts an intake.
        BookingActionKind::Cancel => {
            if c.stage == Stage::Booked {
                out.journey = JourneyState::default();
                out.stage = Stage::Intake;
            }
        }
        // Appointments offers the same practitioner's slots (SLOTS_OFFERED opens with
        // "busquemos otro horario"); the conversation moves to `offering` then. The
        // original booking's triage must not renew that offer as a new booking.
        BookingActionKind::Reschedule => {
            out.journey.offer_basis = None;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_confirmation_phrasing_confirms() {
        for text in [
            "1",
            "confirmo",
            "confirmar",
            "sí",
            "si",
            "ok",
            "yes",
            "confirm",
            "Sí",
            "SI",
            "¡Sí!",
            " 1 ",
            "1.",
            "Confirmo.",
            "OK 👍",
            "Yes!",
            "CONFIRMAR",
        ] {
            assert_eq!(
                reminder_answer(text),
                Some(BookingActionKind::Confirm),
                "{text:?}"
            );
        }
    }

    #[test]
    fn every_cancellation_phrasing_cancels() {
        for text in [
            "3",
            "cancelar",
            "cancela",
            "cancelo",
            "cancel",
            "no voy a ir",
            "No voy a ir.",
            "Cancelar!",
            "3)",
            "  CANCELA  ",
            "no  voy a  ir",
        ] {
            assert_eq!(
                reminder_answer(text),
                Some(BookingActionKind::Cancel),
                "{text:?}"
            );
        }
    }

    #[test]
    fn every_change_phrasing_asks_for_another_time() {
        for text in [
            "2",
            "cambiar",
            "cambio",
            "reprogramar",
            "no puedo",
            "otro día",
            "otro dia",
            "change",
            "reschedule",
            "can't make it",
            "can’t make it",
            "Can't make it.",
            "No puedo",
            "no puedo...",
            "¿Otro día?",
            "REPROGRAMAR",
        ] {
            assert_eq!(
                reminder_answer(text),
                Some(BookingActionKind::Reschedule),
                "{text:?}"
            );
        }
    }

    #[test]
    fn no_puedo_is_a_change_never_a_cancel_or_a_rejection() {
        assert_eq!(
            reminder_answer("no puedo"),
            Some(BookingActionKind::Reschedule)
        );
        assert_ne!(reminder_answer("no puedo"), Some(BookingActionKind::Cancel));
    }

    #[test]
    fn anything_else_answers_nothing() {
        for text in [
            "",
            "   ",
            "?",
            "hola?",
            "no",
            "4",
            "12",
            "1 2",
            "sí, pero otro día",
            "quiero otra cita",
            "no puedo respirar",
            "confirmado el pago",
            "síntomas",
            "cancelación",
            "ninguno",
        ] {
            assert_eq!(reminder_answer(text), None, "{text:?}");
        }
    }
}
