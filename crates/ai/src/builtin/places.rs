//! Which of the clinic's locations the patient means: "norte" for "Sede Norte", "the
//! south one" for "Sede Sur", "cualquiera" for any.

use std::{ops::Range, sync::LazyLock};

use super::{
    lexicon::{LEXICON, Phrase, within_one_edit},
    text::{Text, fold_str},
};
use crate::intake::{ClinicContext, LocationChoice};

/// Words that never belong to a location name.
const GENERIC_PLACE: &[&str] = &[
    "sede",
    "clinica",
    "clinic",
    "branch",
    "location",
    "consultorio",
    "consultorios",
    "de",
    "del",
    "la",
    "el",
    "los",
    "las",
    "the",
    "hospital",
    "medical",
    "medico",
    "medica",
    "ips",
    "unidad",
    "oficina",
    "office",
    "sucursal",
    "one",
];

/// Place words English speakers translate ("the south one" for Sede Sur).
const PLACE_TRANSLATIONS: &[(&str, &str)] = &[
    ("norte", "north"),
    ("sur", "south"),
    ("oriente", "east"),
    ("este", "east"),
    ("occidente", "west"),
    ("oeste", "west"),
    ("centro", "center"),
    ("centro", "centre"),
    ("centro", "downtown"),
];

/// "Any location" said outright.
const ANY_PLACE: &[&str] = &[
    "cualquier sede",
    "cualquier lugar",
    "cualquier clinica",
    "cualquier sucursal",
    "donde sea",
    "any location",
    "any branch",
    "any clinic",
    "anywhere",
];

/// "Any location" when the location was asked.
const ANY_PLACE_ASKED: &[&str] = &[
    "cualquiera",
    "cualkiera",
    "qualquiera",
    "la que sea",
    "any",
    "either",
    "whichever",
    "me da igual",
    "da igual",
    "no importa",
    "indiferente",
    "sin preferencia",
    "no preference",
    "doesn't matter",
    "doesnt matter",
    "don't mind",
    "dont mind",
    "don't care",
];

pub fn words(out: &mut Vec<&'static str>) {
    out.extend_from_slice(ANY_PLACE);
    out.extend_from_slice(ANY_PLACE_ASKED);
}

struct Tables {
    any_place: Vec<Phrase>,
    any_place_asked: Vec<Phrase>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let lex = &*LEXICON;
    Tables {
        any_place: lex.phrases(ANY_PLACE),
        any_place_asked: lex.phrases(ANY_PLACE_ASKED),
    }
});

/// What a message says about where to be seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Place<'c> {
    One(&'c LocationChoice, Range<usize>),
    Any(Range<usize>),
    /// More than one location fits equally ("sede" when there are two sedes).
    Ambiguous,
}

/// The clinic location named in `range`: its distinctive words ("norte" for "Sede
/// Norte"; one typo allowed in long words; "north" for "norte"), the location with most
/// of them said winning, then the one with most of all its words said; or "any".
/// `asked`: the location was the question, so "no importa" counts.
pub fn place<'c>(
    text: &Text,
    range: Range<usize>,
    clinic: &'c ClinicContext,
    asked: bool,
) -> Option<Place<'c>> {
    let t = &*TABLES;
    let end = range.end.min(text.len());
    let said_at = |word: &str| (range.start..end).find(|&i| same_word(text.word(i), word));
    let mut best: Option<((usize, usize), &LocationChoice, Range<usize>)> = None;
    let mut tie = false;
    for location in &clinic.locations {
        let folded = fold_str(&location.name);
        let all_words: Vec<&str> = folded
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut span: Option<Range<usize>> = None;
        let (mut distinctive, mut distinctive_said, mut said) = (0, 0, 0);
        for word in &all_words {
            let generic = GENERIC_PLACE.contains(word);
            distinctive += usize::from(!generic);
            let Some(i) = said_at(word) else { continue };
            said += 1;
            distinctive_said += usize::from(!generic);
            span = Some(match span.take() {
                Some(s) => s.start.min(i)..s.end.max(i + 1),
                None => i..i + 1,
            });
        }
        // A name of generic words only ("Sede Clínica") must be said whole.
        let named = if distinctive == 0 {
            said == all_words.len() && said > 0
        } else {
            distinctive_said > 0
        };
        let Some(span) = span.filter(|_| named) else {
            continue;
        };
        let score = (distinctive_said, said);
        match &best {
            Some((b, _, _)) if *b > score => {}
            Some((b, _, _)) if *b == score => tie = true,
            _ => {
                tie = false;
                best = Some((score, location, span));
            }
        }
    }
    if let Some((_, location, span)) = best {
        return Some(if tie {
            Place::Ambiguous
        } else {
            Place::One(location, span)
        });
    }
    let any = text.find_any(range.clone(), &t.any_place, 0).or_else(|| {
        asked
            .then(|| text.find_any(range, &t.any_place_asked, 0))
            .flatten()
    });
    any.map(Place::Any)
}

fn same_word(token: &str, word: &str) -> bool {
    token == word
        || (word.len() >= 5
            && token.is_ascii()
            && word.is_ascii()
            && within_one_edit(token.as_bytes(), word.as_bytes()))
        || PLACE_TRANSLATIONS
            .iter()
            .any(|(es, en)| *es == word && *en == token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn clinic() -> ClinicContext {
        let loc = |n: u128, name: &str| LocationChoice {
            id: Uuid::from_u128(n),
            name: name.into(),
        };
        ClinicContext {
            departments: vec![],
            locations: vec![
                loc(1, "Sede Norte"),
                loc(2, "Sede Sur"),
                loc(3, "Clínica Chapinero"),
            ],
        }
    }

    fn place_in(message: &str, asked: bool) -> Option<String> {
        let clinic = clinic();
        let text = Text::new(message);
        place(&text, text.all(), &clinic, asked).map(|p| match p {
            Place::One(l, _) => l.name.clone(),
            Place::Any(_) => "any".into(),
            Place::Ambiguous => "ambiguous".into(),
        })
    }

    #[test]
    fn locations_by_name_part_accent_or_any() {
        for (message, expected) in [
            ("Sede Norte", Some("Sede Norte")),
            ("en la del norte", Some("Sede Norte")),
            ("la sede sur por favor", Some("Sede Sur")),
            ("chapinero", Some("Clínica Chapinero")),
            ("CHAPINERRO", Some("Clínica Chapinero")),
            ("cualquiera", Some("any")),
            ("la que sea", Some("any")),
            ("anywhere", Some("any")),
            ("no importa", Some("any")),
            ("en una sede", None),
            ("sede", None),
            ("en el centro", None),
            ("cualquier sede", Some("any")),
            ("the south one", Some("Sede Sur")),
            ("cualkiera", Some("any")),
        ] {
            assert_eq!(place_in(message, true).as_deref(), expected, "{message}");
        }
        assert_eq!(
            place_in("no importa", false),
            None,
            "only an answer to the question"
        );
        assert_eq!(
            place_in("cualquiera", false),
            None,
            "only an answer to the question"
        );
        assert_eq!(place_in("en cualquier sede", false).as_deref(), Some("any"));
        let twins = ClinicContext {
            departments: vec![],
            locations: vec![
                LocationChoice {
                    id: Uuid::from_u128(1),
                    name: "Sede Norte".into(),
                },
                LocationChoice {
                    id: Uuid::from_u128(2),
                    name: "Clínica Norte".into(),
                },
            ],
        };
        let text = Text::new("norte");
        assert_eq!(
            place(&text, text.all(), &twins, true),
            Some(Place::Ambiguous)
        );
        let text = Text::new("clinica norte");
        assert!(
            matches!(place(&text, text.all(), &twins, true), Some(Place::One(l, _)) if l.name == "Clínica Norte"),
            "every word said decides a tie"
        );
    }
}
