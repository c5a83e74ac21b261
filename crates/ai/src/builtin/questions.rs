//! What the bot says during the intake, in Spanish (tú, as the rest of PRM's messages)
//! and English. Each field has three wordings: the question, a rephrasing with an
//! example (after "no entiendo" or an answer that could not be read), and a last,
//! simplest one; the third misunderstood answer is accepted as it is (see `turn`).

use chrono::NaiveDate;
use prm_domain::Locale;

use super::dates;
use crate::intake::{ClinicContext, IntakeField};

/// The question for `field`, worded per `attempt` (0 first, 1 rephrased, 2+ last).
pub fn ask(field: IntakeField, locale: Locale, attempt: u32, clinic: &ClinicContext) -> String {
    let wording = attempt.min(2) as usize;
    match field {
        IntakeField::PreferredLocation => location(locale, wording, clinic),
        _ => fixed(field, locale)[wording].to_owned(),
    }
}

fn fixed(field: IntakeField, locale: Locale) -> [&'static str; 3] {
    use IntakeField::*;
    match (locale, field) {
        (Locale::Es, Name) => [
            "¿Cuál es tu nombre completo? (Si la cita es para otra persona, escribe su nombre).",
            "Necesito tu nombre y apellido para la cita, por ejemplo «Ana Ruiz».",
            "Escribe solo tu nombre y apellido, por ejemplo «Ana Ruiz».",
        ],
        (Locale::Es, DateOfBirth) => [
            "¿Cuál es tu fecha de nacimiento?",
            "Escribe tu fecha de nacimiento con día, mes y año, por ejemplo «3 de mayo de 1985» o «03/05/1985».",
            "Escríbela como día/mes/año, por ejemplo «03/05/1985».",
        ],
        (Locale::Es, ChiefComplaint) => [
            "¿Cuál es el motivo de tu consulta?",
            "Cuéntame en pocas palabras por qué quieres ver al médico, por ejemplo «dolor de rodilla» o «control de la presión».",
            "Escribe con tus palabras qué te pasa, por ejemplo «chequeo general».",
        ],
        (Locale::Es, Symptoms) => [
            "¿Tienes algún otro síntoma? Si no, responde «ninguno».",
            "Además de eso, ¿sientes algo más, como fiebre, mareo o dolor? Si no, escribe «ninguno».",
            "Escribe tus otros síntomas, o «ninguno».",
        ],
        (Locale::Es, Allergies) => [
            "¿Tienes alguna alergia a medicamentos o alimentos? Si no, responde «ninguna».",
            "¿Eres alérgico o alérgica a algo, por ejemplo a la penicilina? Si no, escribe «ninguna».",
            "Escribe tus alergias, o «ninguna».",
        ],
        (Locale::Es, Medications) => [
            "¿Tomas algún medicamento actualmente? Si no, responde «ninguno».",
            "¿Qué medicamentos tomas con regularidad, por ejemplo «losartán 50 mg»? Si no tomas ninguno, escribe «ninguno».",
            "Escribe los medicamentos que tomas, o «ninguno».",
        ],
        (Locale::Es, PreferredDayTime) => [
            "¿Qué día y a qué hora te queda mejor? Por ejemplo «el martes en la mañana» o «lo antes posible».",
            "Dime qué día de la semana y en qué momento prefieres, por ejemplo «miércoles después de las 3» o «cualquier día».",
            "Escribe un día y una hora, por ejemplo «lunes 10am», o «cualquier día».",
        ],
        (Locale::En, Name) => [
            "What is your full name? (If the appointment is for someone else, type their name.)",
            "I need your first and last name for the appointment, for example \"Ana Ruiz\".",
            "Please type just your first and last name, for example \"Ana Ruiz\".",
        ],
        (Locale::En, DateOfBirth) => [
            "What is your date of birth?",
            "Please write your date of birth with day, month and year, for example \"May 3, 1985\".",
            "Please write it like \"May 3, 1985\".",
        ],
        (Locale::En, ChiefComplaint) => [
            "What is the reason for your visit?",
            "Tell me in a few words why you'd like to see a doctor, for example \"knee pain\" or \"blood pressure check\".",
            "Please describe what is wrong in your own words, for example \"general check-up\".",
        ],
        (Locale::En, Symptoms) => [
            "Do you have any other symptoms? If not, reply \"none\".",
            "Besides that, do you feel anything else, like fever, dizziness or pain? If not, type \"none\".",
            "Please list your other symptoms, or type \"none\".",
        ],
        (Locale::En, Allergies) => [
            "Do you have any allergies to medicines or food? If not, reply \"none\".",
            "Are you allergic to anything, for example penicillin? If not, type \"none\".",
            "Please list your allergies, or type \"none\".",
        ],
        (Locale::En, Medications) => [
            "Are you taking any medication at the moment? If not, reply \"none\".",
            "Which medicines do you take regularly, for example \"losartan 50 mg\"? If none, type \"none\".",
            "Please list the medicines you take, or type \"none\".",
        ],
        (Locale::En, PreferredDayTime) => [
            "Which day and time suit you best? For example \"Tuesday morning\" or \"as soon as possible\".",
            "Tell me which weekday and time you prefer, for example \"Wednesday after 3pm\" or \"any day\".",
            "Please type a day and a time, for example \"Monday 10am\", or \"any day\".",
        ],
        (_, PreferredLocation) => ["", "", ""],
    }
}

fn location(locale: Locale, wording: usize, clinic: &ClinicContext) -> String {
    let names: Vec<&str> = clinic.locations.iter().map(|l| l.name.as_str()).collect();
    let list = match locale {
        Locale::Es => join(&names, "o"),
        Locale::En => join(&names, "or"),
    };
    match (locale, wording) {
        (Locale::Es, 0) => format!(
            "¿En qué sede prefieres tu cita: {list}? También puedes responder «cualquiera»."
        ),
        (Locale::Es, _) => {
            format!("Elige una de nuestras sedes: {list}. O escribe «cualquiera» si te da igual.")
        }
        (Locale::En, 0) => {
            format!("Which of our locations would you prefer: {list}? You can also reply \"any\".")
        }
        (Locale::En, _) => format!(
            "Please choose one of our locations: {list}. Or type \"any\" if it doesn't matter."
        ),
    }
}

/// "A, B o C".
fn join(names: &[&str], or: &str) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} {or} {last}", rest.join(", ")),
    }
}

/// The first message's greeting, by first name when the clinic knows the patient.
pub fn greeting(locale: Locale, first_name: Option<&str>) -> String {
    match (locale, first_name) {
        (Locale::Es, Some(name)) => format!("¡Hola, {name}! Te ayudo a agendar tu cita."),
        (Locale::Es, None) => {
            "¡Hola! Soy el asistente de citas de la clínica y te ayudo a agendar tu cita."
                .to_owned()
        }
        (Locale::En, Some(name)) => format!("Hi, {name}! I'll help you book your appointment."),
        (Locale::En, None) => {
            "Hi! I'm the clinic's appointment assistant and I'll help you book your appointment."
                .to_owned()
        }
    }
}

pub fn thanks(locale: Locale, first_name: &str) -> String {
    match locale {
        Locale::Es => format!("Gracias, {first_name}."),
        Locale::En => format!("Thank you, {first_name}."),
    }
}

/// Read back so the patient can correct a date written in an unusual order.
pub fn birth_noted(locale: Locale, date: NaiveDate) -> String {
    let words = dates::in_words(date, locale);
    match locale {
        Locale::Es => format!("Anoté tu fecha de nacimiento: {words}."),
        Locale::En => format!("I noted your date of birth: {words}."),
    }
}

/// Before a rephrased question.
pub fn not_understood(locale: Locale, patient_was_confused: bool) -> &'static str {
    match (locale, patient_was_confused) {
        (Locale::Es, true) => "Te lo pregunto de otra forma:",
        (Locale::Es, false) => "Disculpa, no te entendí.",
        (Locale::En, true) => "Let me put it another way:",
        (Locale::En, false) => "Sorry, I didn't get that.",
    }
}

/// Before the date question again, when the date could not be a birth date.
pub fn impossible_date(locale: Locale) -> &'static str {
    match locale {
        Locale::Es => "Esa fecha no es válida (no existe o está en el futuro).",
        Locale::En => "That date isn't valid (it doesn't exist or is in the future).",
    }
}

/// Sent when the intake is complete, while the slots are searched.
pub fn complete(locale: Locale) -> &'static str {
    match locale {
        Locale::Es => {
            "¡Gracias! Ya tengo todo lo necesario. Estoy buscando los mejores horarios para ti."
        }
        Locale::En => {
            "Thank you! I have everything I need. I'm looking for the best times for you."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::LocationChoice;
    use uuid::Uuid;

    #[test]
    fn every_field_has_three_different_wordings_in_both_languages() {
        let clinic = ClinicContext {
            departments: vec![],
            locations: vec![
                LocationChoice {
                    id: Uuid::nil(),
                    name: "Sede Norte".into(),
                },
                LocationChoice {
                    id: Uuid::nil(),
                    name: "Sede Sur".into(),
                },
                LocationChoice {
                    id: Uuid::nil(),
                    name: "Chapinero".into(),
                },
            ],
        };
        for locale in [Locale::Es, Locale::En] {
            for field in IntakeField::ORDER {
                let asked = ask(field, locale, 0, &clinic);
                let again = ask(field, locale, 1, &clinic);
                assert!(!asked.is_empty() && asked != again, "{field} {locale:?}");
                assert_eq!(
                    ask(field, locale, 7, &clinic),
                    ask(field, locale, 2, &clinic)
                );
            }
        }
        assert_eq!(
            ask(IntakeField::PreferredLocation, Locale::Es, 0, &clinic),
            "¿En qué sede prefieres tu cita: Sede Norte, Sede Sur o Chapinero? También puedes responder «cualquiera»."
        );
    }
}
