use chrono::{NaiveDate, TimeDelta};
use proptest::prelude::*;

use super::words;
use super::*;
use crate::Locale;
use crate::scheduling::fixtures::local;
use crate::scheduling::slot_text;

use Selection::{Chosen, Clarify, Rejected};

mod phrasings;

/// The offer most cases answer to:
/// 1. Mon Dec 7 10:00 · 2. Mon Dec 7 14:00 · 3. Tue Dec 8 09:30 · 4. Wed Dec 9 15:00 · 5. Thu Dec 10 11:00
pub(super) fn offered() -> Vec<NaiveDateTime> {
    vec![
        local(2026, 12, 7, 10, 0),
        local(2026, 12, 7, 14, 0),
        local(2026, 12, 8, 9, 30),
        local(2026, 12, 9, 15, 0),
        local(2026, 12, 10, 11, 0),
    ]
}

const CASES: &[(&str, Selection)] = &[
    // Digits, with or without punctuation and lead-in words.
    ("2", Chosen(2)),
    ("2.", Chosen(2)),
    ("#2", Chosen(2)),
    ("  2  ", Chosen(2)),
    ("2)", Chosen(2)),
    ("(3)", Chosen(3)),
    ("5!", Chosen(5)),
    ("1️⃣", Chosen(1)),
    ("option 2", Chosen(2)),
    ("Option 2", Chosen(2)),
    ("opción 2", Chosen(2)),
    ("OPCION 2", Chosen(2)),
    ("la 2", Chosen(2)),
    ("el 3", Chosen(3)),
    ("number 4", Chosen(4)),
    ("número 4", Chosen(4)),
    ("Quiero la 3", Chosen(3)),
    ("la 3 por favor", Chosen(3)),
    ("I'll take 1", Chosen(1)),
    // Ordinals and number words.
    ("second", Chosen(2)),
    ("2nd", Chosen(2)),
    ("the second one", Chosen(2)),
    ("The SECOND one please", Chosen(2)),
    ("la segunda", Chosen(2)),
    ("La Segunda", Chosen(2)),
    ("el segundo", Chosen(2)),
    ("dos", Chosen(2)),
    ("two", Chosen(2)),
    ("primero", Chosen(1)),
    ("primera", Chosen(1)),
    ("tercera", Chosen(3)),
    ("el tercero", Chosen(3)),
    ("3rd", Chosen(3)),
    ("4th", Chosen(4)),
    ("fifth", Chosen(5)),
    ("la quinta", Chosen(5)),
    ("1ro", Chosen(1)),
    ("2da", Chosen(2)),
    ("3º", Chosen(3)),
    ("1ª", Chosen(1)),
    ("the first one", Chosen(1)),
    ("first", Chosen(1)),
    ("one", Chosen(1)),
    ("option one", Chosen(1)),
    ("tres", Chosen(3)),
    ("cuatro", Chosen(4)),
    ("la última", Chosen(5)),
    ("the last one", Chosen(5)),
    // Times, matched against the offered local starts.
    ("10:00 AM", Chosen(1)),
    ("10am", Chosen(1)),
    ("10 a.m.", Chosen(1)),
    ("10 a. m.", Chosen(1)),
    ("2pm", Chosen(2)),
    ("2 pm", Chosen(2)),
    ("2 PM", Chosen(2)),
    ("14:00", Chosen(2)),
    ("14h", Chosen(2)),
    ("a las 2 de la tarde", Chosen(2)),
    ("a las dos de la tarde", Chosen(2)),
    ("9:30", Chosen(3)),
    ("9.30", Chosen(3)),
    ("9h30", Chosen(3)),
    ("a las 9 y media", Chosen(3)),
    ("3 pm", Chosen(4)),
    ("15:00", Chosen(4)),
    ("a las 3", Chosen(4)),
    ("a las tres", Chosen(4)),
    ("a las 3 de la tarde", Chosen(4)),
    ("at 3", Chosen(4)),
    ("3 o'clock", Chosen(4)),
    ("the one at 3pm", Chosen(4)),
    ("11am", Chosen(5)),
    ("a las 11", Chosen(5)),
    ("at 11 in the morning", Chosen(5)),
    ("a las once", Chosen(5)),
    ("a las 11 de la mañana", Chosen(5)),
    // Days and dates, alone or narrowing a time.
    ("el martes", Chosen(3)),
    ("tuesday", Chosen(3)),
    ("miércoles", Chosen(4)),
    ("jueves", Chosen(5)),
    ("Monday 2pm", Chosen(2)),
    ("el lunes a las 10", Chosen(1)),
    ("Dec 8", Chosen(3)),
    ("el 9 de diciembre", Chosen(4)),
    (
        "Monday, Dec 7 at 10:00 AM - Dr. Ana Gómez at Sede Norte",
        Chosen(1),
    ),
    ("lunes 7 de dic a las 2:00 p. m.", Chosen(2)),
    ("la 2, a las 2 pm", Chosen(2)),
    ("option 3 on tuesday", Chosen(3)),
    ("la del martes", Chosen(3)),
    // Rejections.
    ("none", Rejected),
    ("None of these", Rejected),
    ("none of the 5", Rejected),
    ("no", Rejected),
    ("No.", Rejected),
    ("nope", Rejected),
    ("ninguno", Rejected),
    ("Ninguna", Rejected),
    ("ningún horario", Rejected),
    ("ninguno de esos", Rejected),
    ("no me sirve ninguno", Rejected),
    ("ninguno, a las 3 no puedo", Rejected),
    ("otro horario", Rejected),
    ("otros", Rejected),
    ("otra fecha", Rejected),
    ("different times", Rejected),
    ("other", Rejected),
    ("other times please", Rejected),
    ("más opciones", Rejected),
    ("neither", Rejected),
    // Everything else asks again.
    ("6", Clarify),
    ("0", Clarify),
    ("10", Clarify),
    ("99999999999999999999", Clarify),
    ("2 or 3", Clarify),
    ("la 2 o la 3", Clarify),
    ("2 y 3", Clarify),
    ("second and third", Clarify),
    ("first or last", Clarify),
    ("Monday", Clarify),
    ("lunes", Clarify),
    ("at 10:30", Clarify),
    ("a las 4", Clarify),
    ("tuesday 2pm", Clarify),
    ("la 2 a las 10am", Clarify),
    ("la de la mañana", Clarify),
    ("la de la tarde", Clarify),
    ("no, the second one", Clarify),
    ("not the first", Clarify),
    ("otra, la 3", Clarify),
    ("asdf", Clarify),
    ("", Clarify),
    ("   ", Clarify),
    ("?", Clarify),
    ("ok", Clarify),
    ("yes", Clarify),
    ("tomorrow", Clarify),
    ("🙂", Clarify),
    ("Dr. Ana", Clarify),
    ("2x", Clarify),
    ("10:00:00", Clarify),
    ("25:00", Clarify),
    ("15 am", Clarify),
    ("May I have it?", Clarify),
];

#[test]
fn phrasings_against_a_five_slot_offer() {
    assert!(CASES.len() >= 80, "only {} phrasings", CASES.len());
    let offered = offered();
    let mut failures = Vec::new();
    for &(text, expected) in CASES {
        let got = parse_selection(text, &offered);
        if got != expected {
            failures.push(format!("{text:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn phrasings_that_depend_on_what_was_offered() {
    let cases: Vec<(&str, Vec<NaiveDateTime>, Selection)> = vec![
        // "a las 3" with only 15:00 on offer is that one; with 03:00 and 15:00 it is not clear.
        ("a las 3", vec![local(2026, 12, 7, 15, 0)], Chosen(1)),
        (
            "a las 3",
            vec![local(2026, 12, 7, 3, 0), local(2026, 12, 7, 15, 0)],
            Clarify,
        ),
        (
            "a las 3 de la tarde",
            vec![local(2026, 12, 7, 3, 0), local(2026, 12, 7, 15, 0)],
            Chosen(2),
        ),
        // The hour alone reaches a half-hour slot when nothing starts on the hour.
        (
            "a las 3",
            vec![local(2026, 12, 7, 9, 0), local(2026, 12, 7, 15, 30)],
            Chosen(2),
        ),
        (
            "a las 3",
            vec![local(2026, 12, 7, 15, 0), local(2026, 12, 7, 15, 30)],
            Chosen(1),
        ),
        (
            "3:30",
            vec![local(2026, 12, 7, 15, 0), local(2026, 12, 7, 15, 30)],
            Chosen(2),
        ),
        // A yes picks the only option, never one of several.
        ("yes", vec![local(2026, 12, 7, 9, 0)], Chosen(1)),
        ("Sí, perfecto", vec![local(2026, 12, 7, 9, 0)], Chosen(1)),
        (
            "ok",
            vec![local(2026, 12, 7, 9, 0), local(2026, 12, 7, 10, 0)],
            Clarify,
        ),
        // Same time on two days needs the day.
        (
            "10am",
            vec![local(2026, 12, 7, 10, 0), local(2026, 12, 8, 10, 0)],
            Clarify,
        ),
        (
            "10am on tuesday",
            vec![local(2026, 12, 7, 10, 0), local(2026, 12, 8, 10, 0)],
            Chosen(2),
        ),
        (
            "el 8 de dic a las 10",
            vec![local(2026, 12, 7, 10, 0), local(2026, 12, 8, 10, 0)],
            Chosen(2),
        ),
        // Without a month, "el 8" reads as option 8: out of range, so ask.
        (
            "el 8 a las 10",
            vec![local(2026, 12, 7, 10, 0), local(2026, 12, 8, 10, 0)],
            Clarify,
        ),
        // Noon, midnight and the 12-hour edges.
        (
            "12pm",
            vec![local(2026, 12, 7, 0, 0), local(2026, 12, 7, 12, 0)],
            Chosen(2),
        ),
        (
            "12am",
            vec![local(2026, 12, 7, 0, 0), local(2026, 12, 7, 12, 0)],
            Chosen(1),
        ),
        (
            "noon",
            vec![local(2026, 12, 7, 0, 0), local(2026, 12, 7, 12, 0)],
            Chosen(2),
        ),
        (
            "al mediodía",
            vec![local(2026, 12, 7, 0, 0), local(2026, 12, 7, 12, 0)],
            Chosen(2),
        ),
        // "a la una" is 1 o'clock; "la 1" is option one.
        (
            "a la una",
            vec![local(2026, 12, 7, 9, 0), local(2026, 12, 7, 13, 0)],
            Chosen(2),
        ),
        (
            "a la 1",
            vec![local(2026, 12, 7, 9, 0), local(2026, 12, 7, 13, 0)],
            Chosen(2),
        ),
        (
            "la 1",
            vec![local(2026, 12, 7, 9, 0), local(2026, 12, 7, 13, 0)],
            Chosen(1),
        ),
        (
            "a las 3 y cuarto",
            vec![local(2026, 12, 7, 15, 0), local(2026, 12, 7, 15, 15)],
            Chosen(2),
        ),
        (
            "the 2nd at 1pm",
            vec![local(2026, 12, 7, 9, 0), local(2026, 12, 7, 13, 0)],
            Chosen(2),
        ),
        // Nothing on offer: only a rejection makes sense.
        ("1", vec![], Clarify),
        ("none", vec![], Rejected),
        ("last", vec![], Clarify),
    ];
    for (text, offered, expected) in cases {
        assert_eq!(
            parse_selection(text, &offered),
            expected,
            "{text:?} against {offered:?}"
        );
    }
}

fn distinct_starts() -> impl Strategy<Value = Vec<NaiveDateTime>> {
    // Half-hour starts over three weeks: distinct starts differ in date or time of day.
    prop::collection::btree_set(0i64..21 * 48, 1..=20).prop_map(|halves| {
        let base = NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        halves
            .into_iter()
            .map(|h| base + TimeDelta::minutes(30 * h))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_text_never_panics_and_never_picks_outside_the_offer(text in any::<String>(), offered in distinct_starts()) {
        if let Chosen(i) = parse_selection(&text, &offered) {
            prop_assert!((1..=offered.len()).contains(&i));
        }
    }

    #[test]
    fn answer_shaped_text_never_panics(
        words in prop::collection::vec(
            prop::sample::select(vec![
                "a", "las", "la", "de", "y", "media", "cuarto", "tarde", "manana", "am", "pm", "p", "m",
                "at", "the", "one", "una", "once", "no", "none", "dec", "7", "12", "0", "25", "99999999999",
                "10:30", "3pm", "2nd", "1a", "lunes", "monday", "mediodia", ":", ".", "#", "ª", "º", "h",
            ]),
            0..12,
        ),
        offered in distinct_starts(),
    ) {
        let text = words.join(" ");
        if let Chosen(i) = parse_selection(&text, &offered) {
            prop_assert!((1..=offered.len()).contains(&i));
        }
        let glued = words.concat();
        let _ = parse_selection(&glued, &offered);
    }

    #[test]
    fn a_number_in_range_picks_that_option(offered in distinct_starts(), pick in 1usize..=25) {
        let expected = if pick <= offered.len() { Chosen(pick) } else { Clarify };
        prop_assert_eq!(parse_selection(&pick.to_string(), &offered), expected);
        prop_assert_eq!(parse_selection(&format!("opción {pick}"), &offered), expected);
    }

    #[test]
    fn echoing_an_offer_line_picks_it(offered in distinct_starts(), spanish in any::<bool>()) {
        let locale = if spanish { Locale::Es } else { Locale::En };
        for (i, start) in offered.iter().enumerate() {
            let line = slot_text(locale, *start, "Dr. Ana Gómez", "Sede Norte");
            prop_assert_eq!(parse_selection(&line, &offered), Chosen(i + 1), "{}", line);
        }
    }
}

/// How patients write a choice: every one of these books something on [`offered`].
const CHOICE_FORMS: &[&str] = &[
    "1",
    "2",
    "#2",
    "2.",
    "1️⃣",
    "la 1",
    "el 2",
    "option 3",
    "opción 2",
    "la segunda",
    "the first one",
    "2nd",
    "2pm",
    "a las 3",
    "10:00 AM",
    "el martes",
    "Monday, Dec 7 at 10:00 AM - Dr. Ana Gómez at Sede Norte",
];

/// Negations and cancellations as patients type them: any case, with or without
/// accents and apostrophes.
fn refusal_word() -> impl Strategy<Value = String> {
    let listed = prop::sample::select(
        words::NEGATIONS
            .iter()
            .chain(words::CANCELLATIONS)
            .copied()
            .collect::<Vec<_>>(),
    )
    .prop_map(str::to_owned);
    let spelled = prop::sample::select(vec![
        "don't",
        "can't",
        "won't",
        "isn't",
        "doesn't",
        "didn't",
        "can’t",
        "don´t",
        "Jamás",
        "más",
        "NUNCA",
        "No",
        "NO",
        "Tampoco",
        "cancélame",
        "Cancel",
        "diferentes",
        "otra",
    ])
    .prop_map(str::to_owned);
    let shouted = prop::sample::select(words::NEGATIONS.to_vec()).prop_map(|w| w.to_uppercase());
    prop_oneof![listed, spelled, shouted]
}

/// Filler around the number: choice words (so only the negation can stop the booking),
/// other words, and arbitrary text.
fn filler_word() -> impl Strategy<Value = String> {
    let choice = prop::sample::select(words::CHOICE_WORDS.to_vec()).prop_map(str::to_owned);
    let affirmation = prop::sample::select(words::AFFIRMATIONS.to_vec()).prop_map(str::to_owned);
    let letters = "[a-zA-Záéíóúñ]{1,8}";
    prop_oneof![3 => choice, 1 => affirmation, 1 => letters, 1 => any::<String>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random text wrapped around a choice that contains any negation never books.
    #[test]
    fn a_negation_anywhere_never_books(
        choice in prop::sample::select(CHOICE_FORMS.to_vec()),
        refusal in refusal_word(),
        mut around in prop::collection::vec(filler_word(), 0..6),
        choice_at in any::<prop::sample::Index>(),
        refusal_at in any::<prop::sample::Index>(),
    ) {
        around.insert(choice_at.index(around.len() + 1), choice.to_owned());
        around.insert(refusal_at.index(around.len() + 1), refusal);
        let text = around.join(" ");
        let got = parse_selection(&text, &offered());
        prop_assert!(!matches!(got, Chosen(_)), "{:?} booked: {:?}", text, got);
    }

    /// Doubt and alternatives never book either ("maybe 2", "1 or 2", "creo que la 2").
    #[test]
    fn a_doubt_anywhere_never_books(
        choice in prop::sample::select(CHOICE_FORMS.to_vec()),
        // "o" and "u" also join "o'clock" and ordinals; they are checked in the tables.
        doubt in prop::sample::select(
            words::DOUBTS.iter().copied().filter(|w| w.len() > 1).collect::<Vec<_>>(),
        ),
        mut around in prop::collection::vec(
            prop::sample::select(words::CHOICE_WORDS.to_vec()).prop_map(str::to_owned),
            0..4,
        ),
        choice_at in any::<prop::sample::Index>(),
        doubt_at in any::<prop::sample::Index>(),
    ) {
        around.insert(choice_at.index(around.len() + 1), choice.to_owned());
        around.insert(doubt_at.index(around.len() + 1), doubt.to_owned());
        let text = around.join(" ");
        let got = parse_selection(&text, &offered());
        prop_assert!(!matches!(got, Chosen(_)), "{:?} booked: {:?}", text, got);
    }

    /// A stranger word next to a number asks again, whatever it is.
    #[test]
    fn an_unknown_word_next_to_a_number_asks_again(
        word in "[a-z]{3,9}",
        number in 1usize..=5,
        before in any::<bool>(),
    ) {
        let known = words::CHOICE_WORDS.contains(&word.as_str())
            || words::AFFIRMATIONS.contains(&word.as_str())
            || words::FIRM_REJECTIONS.contains(&word.as_str())
            || words::spelling(&word).is_some();
        prop_assume!(!known);
        let text = if before { format!("{word} {number}") } else { format!("{number} {word}") };
        prop_assert_eq!(parse_selection(&text, &offered()), Clarify, "{}", text);
    }

    /// The allow-list is wide enough: polite words around a number still book it.
    #[test]
    fn polite_words_around_a_number_still_book(
        number in 1usize..=5,
        form in prop::sample::select(vec!["{}", "la {}", "el {}", "option {}", "opción {}", "#{}"]),
        before in prop::collection::vec(prop::sample::select(vec![
            "hola", "ok", "sí", "si", "dale", "vale", "bueno", "pues", "entonces", "quiero",
            "hi", "yes", "sure", "please", "I'll", "take", "I", "want", "me", "sirve",
        ]), 0..3),
        after in prop::collection::vec(prop::sample::select(vec![
            "por", "favor", "gracias", "porfa", "please", "thanks", "thank", "you", "👍", "!",
        ]), 0..3),
    ) {
        let choice = form.replace("{}", &number.to_string());
        let text = [before.join(" "), choice, after.join(" ")].join(" ");
        prop_assert_eq!(parse_selection(&text, &offered()), Chosen(number), "{}", text);
    }
}
