//! One built-in intake turn and one triage, as the conversations service runs them for
//! every patient message. The built-in rules must stay well under 50 µs a turn.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use prm_ai::{
    Builtin, ClinicContext, IntakeData, IntakeField, IntakeState, IntakeTurn, LocationChoice,
    TriageInput, assess_urgency,
};
use prm_domain::Locale;
use uuid::Uuid;

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

fn bench(c: &mut Criterion) {
    let clinic = clinic();
    let today = NaiveDate::from_ymd_opt(2026, 3, 15).expect("a date");
    let mut state = IntakeState::start(Locale::Es, None);
    state.asked = Some(IntakeField::Name);
    // Warm the word tables once, as a running service has.
    let turn = |message: &'static str, state: &IntakeState| {
        Builtin.turn_sync(&IntakeTurn {
            conversation_id: Uuid::nil(),
            message,
            state,
            clinic: &clinic,
            first_message: false,
            today,
        })
    };
    turn("hola", &state);

    c.bench_function("builtin turn: name and birth date in one answer", |b| {
        b.iter(|| {
            black_box(turn(
                black_box("Soy Ana Ruiz, nací el 3 de mayo de 1985"),
                &state,
            ))
        })
    });

    let mut later = IntakeState::start(Locale::Es, None);
    later.asked = Some(IntakeField::PreferredLocation);
    later.required_fields = vec![
        IntakeField::PreferredLocation,
        IntakeField::PreferredDayTime,
    ];
    c.bench_function("builtin turn: location and day/time", |b| {
        b.iter(|| {
            black_box(turn(
                black_box("en la sede norte, el martes después de las 3"),
                &later,
            ))
        })
    });

    let texts: Vec<String> = [
        "Hola, necesito una cita con el cardiólogo",
        "Soy Ana Ruiz, nací el 3 de mayo de 1985",
        "Tengo palpitaciones desde hace una semana y me canso al caminar",
        "No tengo alergias ni tomo medicamentos",
        "En la sede norte, el martes en la mañana",
    ]
    .map(String::from)
    .to_vec();
    let data = IntakeData::default();
    c.bench_function("builtin triage: a whole Spanish intake", |b| {
        b.iter(|| {
            black_box(Builtin.triage_sync(&TriageInput {
                conversation_id: Uuid::nil(),
                locale: Locale::Es,
                data: &data,
                patient_texts: black_box(&texts),
                clinic: &clinic,
                today,
            }))
        })
    });

    c.bench_function("red-flag check of one message", |b| {
        b.iter(|| {
            black_box(assess_urgency(black_box(
                "me duele el pecho desde ayer y me falta el aire",
            )))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
