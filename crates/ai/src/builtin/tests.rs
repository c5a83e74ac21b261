//! Built-in intake turns as patients write them.

use chrono::NaiveDate;
use prm_domain::Locale;
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Builtin;
use crate::{
    intake::{
        ClinicContext, IntakeField, IntakeReply, IntakeState, IntakeTurn, KnownPatient,
        LocationChoice, NONE, UNKNOWN,
    },
    triage::TriageInput,
};

use IntakeField::*;

/// Sunday 15 March 2026.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
}

fn clinic() -> ClinicContext {
    ClinicContext {
        departments: [
            "Cardiology",
            "Dermatology",
            "General Medicine",
            "Pediatrics",
        ]
        .map(String::from)
        .to_vec(),
        locations: vec![
            LocationChoice {
                id: Uuid::from_u128(1),
                name: "Sede Norte".into(),
            },
            LocationChoice {
                id: Uuid::from_u128(2),
                name: "Sede Sur".into(),
            },
        ],
    }
}

/// A conversation with the built-in rules.
struct Chat {
    state: IntakeState,
    clinic: ClinicContext,
    first: bool,
    said: Vec<String>,
}

impl Chat {
    fn new(locale: Locale) -> Self {
        Self::with(IntakeState::start(locale, None))
    }

    fn with(state: IntakeState) -> Self {
        Self {
            state,
            clinic: clinic(),
            first: true,
            said: Vec::new(),
        }
    }

    /// A chat whose last question asked for `field`, the earlier ones answered.
    fn asked(field: IntakeField, locale: Locale) -> Self {
        let mut chat = Self::new(locale);
        chat.first = false;
        chat.state.asked = Some(field);
        chat.state.required_fields = IntakeField::ORDER
            .into_iter()
            .skip_while(|f| *f != field)
            .collect();
        chat
    }

    fn say(&mut self, message: &str) -> IntakeReply {
        let reply = Builtin.turn_sync(&IntakeTurn {
            conversation_id: Uuid::nil(),
            message,
            state: &self.state,
            clinic: &self.clinic,
            first_message: self.first,
            today: today(),
        });
        self.state.apply(&reply);
        self.first = false;
        self.said.push(message.to_owned());
        reply
    }

    fn value(&self, field: IntakeField) -> Option<&Value> {
        self.state.extracted.get(field)
    }

    fn text(&self, field: IntakeField) -> Option<&str> {
        self.value(field).and_then(Value::as_str)
    }
}

fn day_time(day: Option<u8>, time: Option<&str>, asap: bool) -> (Value, Value, Value) {
    (json!(day), json!(time), json!(asap))
}

fn day_time_of(value: &Value) -> (Value, Value, Value) {
    (
        value["day_of_week"].clone(),
        value["time_of_day"].clone(),
        value["asap"].clone(),
    )
}

#[test]
fn the_first_answer_greets_in_the_patients_language_and_asks_the_name() {
    let mut chat = Chat::new(Locale::Es);
    let reply = chat.say("Hola, necesito una cita con el cardiólogo");
    assert_eq!(reply.locale, Some(Locale::Es));
    assert_eq!(reply.next_field, Some(Name));
    let question = reply.next_question.unwrap();
    assert!(
        question.starts_with("¡Hola!") && question.contains("nombre"),
        "{question}"
    );

    let mut chat = Chat::new(Locale::Es);
    let reply = chat.say("Hi, I'd like to book an appointment");
    assert_eq!(reply.locale, Some(Locale::En));
    assert_eq!(chat.state.locale, Locale::En);
    let question = reply.next_question.unwrap();
    assert!(
        question.starts_with("Hi!") && question.contains("full name"),
        "{question}"
    );
}

#[test]
fn one_answer_fills_several_fields() {
    let mut chat = Chat::asked(Name, Locale::Es);
    let reply = chat.say("soy Ana Ruiz, nací el 3 de mayo de 1985");
    assert_eq!(chat.text(Name), Some("Ana Ruiz"));
    assert_eq!(chat.text(DateOfBirth), Some("1985-05-03"));
    assert_eq!(reply.next_field, Some(ChiefComplaint));
    let question = reply.next_question.unwrap();
    assert!(question.contains("Gracias, Ana."), "{question}");
    assert!(
        question.contains("3 de mayo de 1985"),
        "the date is read back: {question}"
    );

    let mut chat = Chat::asked(ChiefComplaint, Locale::Es);
    chat.say("me duele el pecho desde ayer y me falta el aire");
    assert_eq!(
        chat.text(ChiefComplaint),
        Some("me duele el pecho desde ayer")
    );
    assert_eq!(chat.text(Symptoms), Some("me falta el aire"));
    assert_eq!(chat.state.asked, Some(Allergies));

    let mut chat = Chat::asked(Allergies, Locale::Es);
    let reply = chat.say("No tengo alergias ni tomo medicamentos");
    assert_eq!(chat.text(Allergies), Some(NONE));
    assert_eq!(chat.text(Medications), Some(NONE));
    assert_eq!(reply.next_field, Some(PreferredLocation));

    let mut chat = Chat::asked(PreferredLocation, Locale::Es);
    let reply = chat.say("en Sede Norte el martes en la mañana");
    assert_eq!(chat.text(PreferredLocation), Some("Sede Norte"));
    assert_eq!(
        day_time_of(chat.value(PreferredDayTime).unwrap()),
        day_time(Some(1), Some("09:00"), false)
    );
    assert!(reply.complete && reply.next_question.is_none());

    let mut chat = Chat::new(Locale::Es);
    chat.say("Hola, soy Ana Ruiz y necesito una cita porque me duele la cabeza");
    assert_eq!(chat.text(Name), Some("Ana Ruiz"));
    assert_eq!(chat.text(ChiefComplaint), Some("me duele la cabeza"));
    assert_eq!(chat.state.asked, Some(DateOfBirth));

    let mut chat = Chat::asked(Name, Locale::En);
    chat.say("My name is John Smith, born May 3rd 1985");
    assert_eq!(chat.text(Name), Some("John Smith"));
    assert_eq!(chat.text(DateOfBirth), Some("1985-05-03"));

    let mut chat = Chat::asked(Name, Locale::Es);
    chat.say("Ana Ruiz 03/05/1985");
    assert_eq!(chat.text(Name), Some("Ana Ruiz"));
    assert_eq!(chat.text(DateOfBirth), Some("1985-05-03"));
}

#[test]
fn answers_to_each_question_as_patients_write_them() {
    let cases: &[(IntakeField, Locale, &str, &str)] = &[
        (Name, Locale::Es, "Ana Ruiz", "Ana Ruiz"),
        (Name, Locale::Es, "me llamo pedro pérez", "Pedro Pérez"),
        (
            Name,
            Locale::Es,
            "Claro, María José Gómez",
            "María José Gómez",
        ),
        (Name, Locale::En, "Peter O'Neill", "Peter O'Neill"),
        (DateOfBirth, Locale::Es, "03/05/1985", "1985-05-03"),
        (DateOfBirth, Locale::Es, "3-5-85", "1985-05-03"),
        (
            DateOfBirth,
            Locale::Es,
            "el 3 de mayo de 1985",
            "1985-05-03",
        ),
        (DateOfBirth, Locale::En, "May 3rd 1985", "1985-05-03"),
        (DateOfBirth, Locale::En, "12/31/1985", "1985-12-31"),
        (
            ChiefComplaint,
            Locale::Es,
            "dolor de rodilla",
            "dolor de rodilla",
        ),
        (
            ChiefComplaint,
            Locale::Es,
            "Control de la presión.",
            "Control de la presión",
        ),
        (
            ChiefComplaint,
            Locale::En,
            "I have a rash on my arm",
            "I have a rash on my arm",
        ),
        (Symptoms, Locale::Es, "ninguno", NONE),
        (Symptoms, Locale::Es, "fiebre y tos", "fiebre y tos"),
        (Symptoms, Locale::Es, "no sé", UNKNOWN),
        (Symptoms, Locale::En, "none", NONE),
        (Allergies, Locale::Es, "ninguna", NONE),
        (Allergies, Locale::Es, "No", NONE),
        (Allergies, Locale::Es, "penicilina", "penicilina"),
        (
            Allergies,
            Locale::Es,
            "soy alérgica a la penicilina",
            "soy alérgica a la penicilina",
        ),
        (
            Allergies,
            Locale::En,
            "I'm allergic to penicillin",
            "I'm allergic to penicillin",
        ),
        (Allergies, Locale::En, "I don't know", UNKNOWN),
        (Medications, Locale::Es, "ninguno", NONE),
        (Medications, Locale::Es, "losartán 50 mg", "losartán 50 mg"),
        (
            Medications,
            Locale::Es,
            "tomo metformina",
            "tomo metformina",
        ),
        (
            Medications,
            Locale::Es,
            "tomo enalapril y metformina",
            "tomo enalapril y metformina",
        ),
        (
            Allergies,
            Locale::Es,
            "alérgica al polen y a la penicilina",
            "alérgica al polen y a la penicilina",
        ),
        (Allergies, Locale::Es, "no tengo alergias, gracias", NONE),
        (
            Medications,
            Locale::En,
            "I take aspirin every day",
            "I take aspirin every day",
        ),
        (Medications, Locale::En, "nothing", NONE),
        (PreferredLocation, Locale::Es, "norte", "Sede Norte"),
        (PreferredLocation, Locale::Es, "la del sur", "Sede Sur"),
        (PreferredLocation, Locale::Es, "SEDE NORTE", "Sede Norte"),
        (PreferredLocation, Locale::Es, "cualquiera", "any"),
        (PreferredLocation, Locale::Es, "me da igual", "any"),
        (PreferredLocation, Locale::En, "anywhere", "any"),
    ];
    for (field, locale, message, expected) in cases {
        let mut chat = Chat::asked(*field, *locale);
        let reply = chat.say(message);
        assert_eq!(chat.text(*field), Some(*expected), "{field}: {message}");
        assert!(!reply.misunderstood, "{field}: {message}");
        assert_ne!(reply.next_field, Some(*field), "{field}: {message}");
    }
}

#[test]
fn day_and_time_answers() {
    for (message, expected) in [
        (
            "el miércoles en la mañana",
            day_time(Some(2), Some("09:00"), false),
        ),
        (
            "martes después de las 3",
            day_time(Some(1), Some("15:00"), false),
        ),
        ("any day 10am", day_time(None, Some("10:00"), false)),
        ("lo antes posible", day_time(None, None, true)),
        ("cualquier día", day_time(None, None, false)),
        ("whenever", day_time(None, None, false)),
        (
            "mañana en la tarde",
            day_time(Some(0), Some("15:00"), false),
        ),
        (
            "el jueves, a las 4",
            day_time(Some(3), Some("16:00"), false),
        ),
        ("no sé", day_time(None, None, false)),
    ] {
        let mut chat = Chat::asked(PreferredDayTime, Locale::Es);
        let reply = chat.say(message);
        let value = chat
            .value(PreferredDayTime)
            .unwrap_or_else(|| panic!("{message}"));
        assert_eq!(day_time_of(value), expected, "{message}");
        assert_eq!(value["text"], message.trim(), "{message}");
        assert!(reply.complete, "{message}");
    }
}

#[test]
fn no_entiendo_gets_the_question_reworded_not_repeated() {
    let mut chat = Chat::asked(DateOfBirth, Locale::Es);
    let first = crate::builtin::questions::ask(DateOfBirth, Locale::Es, 0, &clinic());
    let reply = chat.say("no entiendo");
    assert!(reply.misunderstood);
    assert_eq!(reply.next_field, Some(DateOfBirth));
    let again = reply.next_question.unwrap();
    assert_ne!(again, first);
    assert!(again.contains("03/05/1985"), "an example: {again}");
    assert_eq!(chat.state.misunderstood, 1);

    let reply = chat.say("?");
    let third = reply.next_question.unwrap();
    assert_ne!(third, again, "a different wording again");
    assert_eq!(chat.state.misunderstood, 2);

    // The third miss in a row is kept as written, and the intake moves on.
    let reply = chat.say("no me acuerdo bien");
    assert!(!reply.misunderstood);
    assert_eq!(chat.text(DateOfBirth), Some("no me acuerdo bien"));
    assert_eq!(reply.next_field, Some(ChiefComplaint));
    assert_eq!(chat.state.misunderstood, 0);

    let mut chat = Chat::asked(Name, Locale::En);
    let reply = chat.say("what?");
    let question = reply.next_question.unwrap();
    assert!(
        reply.misunderstood && question.contains("Ana Ruiz"),
        "{question}"
    );
}

#[test]
fn an_impossible_date_is_said_so() {
    let mut chat = Chat::asked(DateOfBirth, Locale::Es);
    let reply = chat.say("31/02/1985");
    assert!(reply.misunderstood);
    assert!(reply.next_question.unwrap().contains("no es válida"));
    let reply = chat.say("01/01/2030");
    assert!(reply.misunderstood, "the future");
    chat.say("3 de mayo de 1985");
    assert_eq!(chat.text(DateOfBirth), Some("1985-05-03"));
}

#[test]
fn every_misunderstood_field_moves_on_after_three_tries() {
    for field in IntakeField::ORDER {
        let mut chat = Chat::asked(field, Locale::Es);
        for _ in 0..3 {
            chat.say("no entiendo");
        }
        assert!(chat.value(field).is_some(), "{field}");
        assert_ne!(chat.state.asked, Some(field), "{field}");
    }
}

#[test]
fn an_unknown_location_lists_the_clinics() {
    let mut chat = Chat::asked(PreferredLocation, Locale::Es);
    let reply = chat.say("en Cali");
    assert!(reply.misunderstood);
    let question = reply.next_question.unwrap();
    assert!(
        question.contains("Sede Norte") && question.contains("Sede Sur"),
        "{question}"
    );
}

#[test]
fn a_known_patient_is_greeted_by_name_and_not_asked_again() {
    let known = KnownPatient {
        name: "Ana Ruiz".into(),
        birth_date: NaiveDate::from_ymd_opt(1985, 5, 3),
    };
    let mut chat = Chat::with(IntakeState::start(Locale::Es, Some(&known)));
    let reply = chat.say("Hola, soy Ana");
    let question = reply.next_question.unwrap();
    assert!(question.starts_with("¡Hola, Ana!"), "{question}");
    assert_eq!(reply.next_field, Some(ChiefComplaint));
    assert_eq!(
        chat.text(Name),
        Some("Ana Ruiz"),
        "not shortened to the first name"
    );
}

#[test]
fn weekdays_and_dates_inside_complaints_are_not_preferences() {
    let mut chat = Chat::asked(ChiefComplaint, Locale::Es);
    chat.say("me duele la cabeza desde el lunes en las mañanas");
    assert!(chat.value(PreferredDayTime).is_none());
    assert!(chat.value(DateOfBirth).is_none());
    assert_eq!(
        chat.text(ChiefComplaint),
        Some("me duele la cabeza desde el lunes en las mañanas")
    );
}

#[test]
fn a_first_message_may_say_when_and_which_department() {
    let mut chat = Chat::new(Locale::Es);
    let reply =
        chat.say("buenos días, necesito cita con medicina general para mañana en la mañana");
    assert!(
        chat.value(Medications).is_none(),
        "a department, not a drug"
    );
    let when = chat.value(PreferredDayTime).unwrap();
    assert_eq!(day_time_of(when), day_time(Some(0), Some("09:00"), false));
    assert_eq!(when["text"], "mañana en la mañana");
    assert_eq!(reply.next_field, Some(Name));
}

#[test]
fn a_clinic_with_one_location_never_asks_where() {
    let mut chat = Chat::asked(Medications, Locale::Es);
    chat.clinic.locations.truncate(1);
    let reply = chat.say("ninguno");
    assert_eq!(chat.text(PreferredLocation), Some("Sede Norte"));
    assert_eq!(reply.next_field, Some(PreferredDayTime));
}

/// Runs a whole intake; returns the number of patient answers after the greeting.
fn whole_intake(locale: Locale, messages: &[&str]) -> Chat {
    let mut chat = Chat::new(locale);
    for message in messages {
        let reply = chat.say(message);
        assert!(!reply.misunderstood, "{message}: {reply:?}");
        if reply.complete {
            break;
        }
    }
    chat
}

#[test]
fn a_spanish_intake_completes_within_eight_answers_and_triages_to_cardiology() {
    let chat = whole_intake(
        Locale::Es,
        &[
            "Hola, necesito una cita con el cardiólogo",
            "Soy Ana Ruiz, nací el 3 de mayo de 1985",
            "Tengo palpitaciones desde hace una semana y me canso al caminar",
            "No tengo alergias ni tomo medicamentos",
            "En la sede norte, el martes en la mañana",
        ],
    );
    assert!(chat.state.is_complete(), "{:?}", chat.state);
    assert!(chat.said.len() - 1 <= 8, "{} answers", chat.said.len() - 1);
    for field in IntakeField::ORDER {
        assert!(chat.value(field).is_some(), "{field}");
    }
    assert_eq!(chat.text(Symptoms), Some("me canso al caminar"));
    let decision = Builtin
        .triage_sync(&TriageInput {
            conversation_id: Uuid::nil(),
            locale: chat.state.locale,
            data: &chat.state.extracted,
            patient_texts: &chat.said,
            clinic: &chat.clinic,
            today: today(),
        })
        .unwrap();
    assert_eq!(decision.department, "Cardiology");
    let hints = chat.state.extracted.slot_preferences(&chat.clinic);
    assert_eq!(hints.location_id, Some(Uuid::from_u128(1)));
    assert_eq!(hints.day_of_week.map(|d| d.number()), Some(1));
}

#[test]
fn an_english_intake_completes_within_eight_answers() {
    let chat = whole_intake(
        Locale::En,
        &[
            "Hi, I'd like to book an appointment",
            "My name is John Smith",
            "May 3rd 1985",
            "I've had a rash on my arms for two weeks",
            "It itches a lot at night",
            "I'm allergic to penicillin",
            "I take ibuprofen sometimes",
            "Sede Sur please",
            "any day 10am",
        ],
    );
    assert!(chat.state.is_complete(), "{:?}", chat.state);
    assert!(chat.said.len() - 1 <= 8);
    assert_eq!(chat.text(Medications), Some("I take ibuprofen sometimes"));
    assert_eq!(chat.text(PreferredLocation), Some("Sede Sur"));
    let decision = Builtin
        .triage_sync(&TriageInput {
            conversation_id: Uuid::nil(),
            locale: Locale::En,
            data: &chat.state.extracted,
            patient_texts: &chat.said,
            clinic: &chat.clinic,
            today: today(),
        })
        .unwrap();
    assert_eq!(decision.department, "Dermatology");
}

fn any_field() -> impl Strategy<Value = Option<IntakeField>> {
    prop_oneof![
        Just(None),
        (0usize..8).prop_map(|i| Some(IntakeField::ORDER[i]))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_message_panics_and_every_turn_asks_or_completes(
        message in prop_oneof![
            any::<String>(),
            "[a-zA-Záéíóúñ0-9 ,.:/?¿!-]{0,80}",
            "(soy|me llamo|nací el|el|tengo|no|ninguna|cualquiera|martes|a las) [a-z0-9/ ]{0,20}",
        ],
        asked in any_field(),
        misses in 0u32..4,
        first in any::<bool>(),
        locations in 0usize..3,
    ) {
        let mut clinic = clinic();
        clinic.locations.truncate(locations);
        let mut state = IntakeState::start(Locale::Es, None);
        state.asked = asked;
        state.misunderstood = misses;
        let reply = Builtin.turn_sync(&IntakeTurn {
            conversation_id: Uuid::nil(),
            message: &message,
            state: &state,
            clinic: &clinic,
            first_message: first,
            today: today(),
        });
        prop_assert_eq!(reply.complete, reply.next_question.is_none());
        prop_assert_eq!(reply.complete, reply.next_field.is_none());
        if let Some(question) = &reply.next_question {
            prop_assert!(!question.is_empty());
        }
        // Whatever was extracted is valid data.
        let json = reply.extracted.to_json();
        prop_assert!(crate::intake::IntakeData::from_json_for(json, &clinic, today()).is_ok());
        let _ = crate::triage::assess_urgency(&message);
    }
}
