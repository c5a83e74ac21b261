//! What the bot says outside the intake questions (those are prm-ai's), in Spanish and
//! English. Short, WhatsApp-ready, no patient data beyond the appointment itself.

use prm_domain::Locale;

/// The journey's texts in one locale.
#[derive(Debug, Clone, Copy)]
pub struct Texts(pub Locale);

impl Texts {
    /// While appointments searches (the patient wrote again before the offer came).
    pub fn still_searching(self) -> &'static str {
        match self.0 {
            Locale::Es => "Un momento, estoy buscando los mejores horarios para ti.",
            Locale::En => "One moment, I'm looking for the best times for you.",
        }
    }

    /// A voice note we could not turn into text.
    pub fn voice_note_unreadable(self) -> &'static str {
        match self.0 {
            Locale::Es => "No pude escuchar tu nota de voz. ¿Me lo puedes escribir, por favor?",
            Locale::En => "I couldn't listen to your voice note. Could you type it, please?",
        }
    }

    /// After the booking, to a message that is not a new request.
    pub fn already_booked(self) -> &'static str {
        match self.0 {
            Locale::Es => {
                "Tu cita ya está agendada. Si quieres otra cita, escribe \"nueva cita\"; para cambios, un miembro del equipo te ayudará."
            }
            Locale::En => {
                "Your appointment is booked. For another appointment, write \"new appointment\"; for changes, someone from our team will help you."
            }
        }
    }

    /// A reminder's "1": appointments marks it confirmed.
    pub fn reminder_confirmed(self) -> &'static str {
        match self.0 {
            Locale::Es => "¡Gracias! Tu cita queda confirmada.",
            Locale::En => "Thank you! Your appointment is confirmed.",
        }
    }

    /// Once, to a message that does not answer a reminder.
    pub fn reminder_clarify(self) -> &'static str {
        match self.0 {
            Locale::Es => "Responde 1 para confirmar, 2 para cambiar o 3 para cancelar tu cita.",
            Locale::En => "Reply 1 to confirm, 2 to change or 3 to cancel your appointment.",
        }
    }

    /// When the clinic has no practitioners to book with.
    pub fn nothing_to_book(self) -> &'static str {
        match self.0 {
            Locale::Es => {
                "En este momento no puedo agendar citas por este medio. Un miembro del equipo te contactará."
            }
            Locale::En => {
                "I can't book appointments here right now. Someone from our team will contact you."
            }
        }
    }
}
