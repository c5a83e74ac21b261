//! Red flags, read on every message a patient sends, whatever engine runs the intake.
//!
//! * `emergency`: can't breathe, fainting, heavy bleeding, chest pain together with
//!   breathlessness, suicidal thoughts, stroke signs, seizures, anaphylaxis, overdose, or
//!   the patient saying it is an emergency. The bot never books these: the patient is
//!   told to call the emergency number and staff take over.
//! * `urgent`: chest pain or breathlessness alone, a fever in a baby, high fever, intense
//!   pain, bleeding that is not heavy, symptoms getting worse, fractures, burns.
//! * otherwise `routine`.
//!
//! A sign is denied when a negation comes before it in the same clause ("no tengo
//! dificultad para respirar", "sin dolor de pecho ni falta de aire", "I don't have chest
//! pain"); "no puedo respirar" is the sign itself, not its denial. Stuffy noses ("no
//! puedo respirar por la nariz") are not emergencies.

use std::{ops::Range, sync::LazyLock};

use prm_domain::{Locale, events::Urgency};

use super::{
    lexicon::{LEXICON, Phrase, WordId},
    text::Text,
};

const EMERGENCY: &[&str] = &[
    // breathing
    "no puedo respir*",
    "no puede respir*",
    "no logro respir*",
    "no consigo respir*",
    "no me entra el aire",
    "no le entra el aire",
    "me ahog*",
    "se ahog*",
    "asfixi*",
    "can't breathe",
    "cant breathe",
    "cannot breathe",
    "can not breathe",
    "unable to breathe",
    "not breathing",
    "choking",
    "suffocat*",
    // consciousness
    "desmay*",
    "desmall*",
    "perdi el conocimiento",
    "perdio el conocimiento",
    "perdio la conciencia",
    "inconscien*",
    "no responde",
    "no reacciona",
    "fainted",
    "fainting",
    "faints",
    "passed out",
    "blacked out",
    "unconscious",
    "unresponsive",
    // bleeding
    "sangrado abundante",
    "sangrado fuerte",
    "sangrado muy fuerte",
    "sangra mucho",
    "sangrando mucho",
    "mucha sangre",
    "hemorragi*",
    "no para de sangrar",
    "no deja de sangrar",
    "vomit* sangre",
    "escupo sangre",
    "toso sangre",
    "heavy bleeding",
    "bleeding heavily",
    "bleeding a lot",
    "lots of blood",
    "won't stop bleeding",
    "wont stop bleeding",
    "hemorrhag*",
    "haemorrhag*",
    "vomiting blood",
    "coughing up blood",
    // self-harm
    "suicid*",
    "quiero morir*",
    "quitarme la vida",
    "matarme",
    "me quiero matar",
    "hacerme dano",
    "no quiero vivir",
    "acabar con mi vida",
    "kill myself",
    "want to die",
    "end my life",
    "hurt myself",
    "self harm",
    // stroke, heart, seizures, allergy, poisoning
    "cara caida",
    "se me cae la cara",
    "boca torcida",
    "no puedo hablar",
    "no puede hablar",
    "no puedo mover un lado",
    "no puedo mover el lado",
    "no puedo mover la mitad",
    "no puede mover un lado",
    "no puede mover el lado",
    "no siento un lado",
    "paraliz*",
    "derrame cerebral",
    "ictus",
    "face drooping",
    "slurred speech",
    "can't speak",
    "can't move one side",
    "stroke",
    "convuls*",
    "seizure*",
    "infarto",
    "ataque al corazon",
    "ataque cardiaco",
    "heart attack",
    "anafila*",
    "anaphyla*",
    "se me cierra la garganta",
    "throat is closing",
    "throat closing",
    "sobredosis",
    "overdose",
    "envenen*",
    "poisoned",
    "emergencia",
    "emergency",
];

const CHEST: &[&str] = &[
    "dolor de pecho",
    "dolor en el pecho",
    "duele el pecho",
    "opresion en el pecho",
    "presion en el pecho",
    "pecho apretado",
    "chest pain",
    "pain in my chest",
    "chest hurts",
    "chest tightness",
    "tight chest",
    "pressure in my chest",
];

const BREATHLESS: &[&str] = &[
    "falta el aire",
    "falta de aire",
    "dificultad para respir*",
    "cuesta respir*",
    "dificil respir*",
    "respiro mal",
    "short of breath",
    "shortness of breath",
    "trouble breathing",
    "difficulty breathing",
    "hard to breathe",
    "breathless",
    "catch my breath",
];

const URGENT: &[&str] = &[
    "fiebre alta",
    "fiebre muy alta",
    "mucha fiebre",
    "high fever",
    "dolor muy fuerte",
    "dolor fuerte",
    "dolor intenso",
    "dolor insoportable",
    "mucho dolor",
    "duele mucho",
    "duele muchisimo",
    "severe pain",
    "intense pain",
    "unbearable",
    "excruciating",
    "a lot of pain",
    "hurts a lot",
    "hurts so much",
    // Not "sangre" alone: "un examen de sangre" is routine.
    "sangrad*",
    "sangrand*",
    "sangra",
    "sangro",
    "sangre en",
    "con sangre",
    "bleed*",
    "blood in",
    "empeor*",
    "cada vez peor",
    "getting worse",
    "worse",
    "worsening",
    "fractur*",
    "me quebre",
    "hueso roto",
    "broken bone",
    "broke my",
    "quemadura",
    "me queme",
    "burned",
    "burnt",
    "golpe en la cabeza",
    "head injury",
    "no puedo caminar",
    "can't walk",
    "urgente",
    "urgent",
];

const FEVER: &[&str] = &["fiebre", "calentura", "fever", "temperatura"];
const BABY: &[&str] = &["bebe", "recien nacido", "baby", "newborn", "infant"];

const NEGATIONS: &[&str] = &[
    "no", "sin", "nunca", "jamas", "ni", "tampoco", "ningun", "ninguna", "ninguno", "not", "never",
    "without", "don't", "dont", "didn't", "didnt", "doesn't", "doesnt", "haven't", "havent",
    "hasn't", "hasnt", "isn't", "isnt", "wasn't", "wasnt", "aren't", "nor", "denies", "negative",
];

/// With a breathing sign, these mean a blocked nose, not an emergency.
const NOSE: &[&str] = &["nariz", "nose", "nasal"];

pub fn words(out: &mut Vec<&'static str>) {
    for list in [
        EMERGENCY, CHEST, BREATHLESS, URGENT, FEVER, BABY, NEGATIONS, NOSE,
    ] {
        out.extend_from_slice(list);
    }
}

struct Tables {
    emergency: Vec<Phrase>,
    chest: Vec<Phrase>,
    breathless: Vec<Phrase>,
    urgent: Vec<Phrase>,
    fever: Vec<Phrase>,
    baby: Vec<Phrase>,
    negations: Vec<WordId>,
    nose: Vec<WordId>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let lex = &*LEXICON;
    Tables {
        emergency: lex.phrases(EMERGENCY),
        chest: lex.phrases(CHEST),
        breathless: lex.phrases(BREATHLESS),
        urgent: lex.phrases(URGENT),
        fever: lex.phrases(FEVER),
        baby: lex.phrases(BABY),
        negations: lex.ids(NEGATIONS),
        nose: lex.ids(NOSE),
    }
});

/// The more urgent of two (the domain's `Urgency` has no order of its own).
pub(crate) fn most_urgent(a: Urgency, b: Urgency) -> Urgency {
    let rank = |u: Urgency| match u {
        Urgency::Routine => 0,
        Urgency::Urgent => 1,
        Urgency::Emergency => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// How urgent the patient's message sounds.
pub fn assess(message: &str) -> Urgency {
    assess_text(&Text::new(message))
}

pub(crate) fn assess_text(text: &Text) -> Urgency {
    let t = &*TABLES;
    let clauses = text.clauses();
    let said = |phrases: &[Phrase], gap: usize| {
        clauses
            .iter()
            .any(|c| affirmed(text, c.clone(), phrases, gap))
    };
    let emergency = clauses
        .iter()
        .any(|c| affirmed(text, c.clone(), &t.emergency, 2) && !text.has_any(c.clone(), &t.nose));
    if emergency {
        return Urgency::Emergency;
    }
    let chest = said(&t.chest, 2);
    let breathless = said(&t.breathless, 1);
    if chest && breathless {
        return Urgency::Emergency;
    }
    let fever_in_baby = said(&t.fever, 0) && said(&t.baby, 0);
    if chest || breathless || fever_in_baby || said(&t.urgent, 1) {
        return Urgency::Urgent;
    }
    Urgency::Routine
}

/// Whether `clause` names any sign, urgent or not, affirmed or denied.
pub(crate) fn mentions_sign(text: &Text, clause: Range<usize>) -> bool {
    let t = &*TABLES;
    [&t.emergency, &t.chest, &t.breathless, &t.urgent]
        .into_iter()
        .any(|phrases| text.find_any(clause.clone(), phrases, 1).is_some())
}

/// Whether one of `phrases` is said in `clause` without a negation before it.
fn affirmed(text: &Text, clause: Range<usize>, phrases: &[Phrase], gap: usize) -> bool {
    phrases
        .iter()
        .any(|phrase| affirmed_at(text, clause.clone(), phrase, gap).is_some())
}

/// Where `phrase` is first said in `clause` without a negation before it.
pub(crate) fn affirmed_at(
    text: &Text,
    clause: Range<usize>,
    phrase: &Phrase,
    gap: usize,
) -> Option<usize> {
    let negations = &TABLES.negations;
    let mut from = clause.start;
    while let Some(found) = text.find(from..clause.end, phrase, gap) {
        if !text.has_any(clause.start..found.start, negations) {
            return Some(found.start);
        }
        from = found.start + 1;
    }
    None
}

/// Whether `range` holds a negation word ("no", "sin", "ni", "not", "don't"…).
pub(crate) fn has_negation(text: &Text, range: Range<usize>) -> bool {
    text.has_any(range, &TABLES.negations)
}

/// What the patient reads when the message sounds like an emergency.
pub fn emergency_message(locale: Locale, emergency_number: &str) -> String {
    match locale {
        Locale::Es => format!(
            "Lo que describes puede ser una emergencia. Llama ya al {emergency_number} o ve al servicio de urgencias más cercano. No agendaremos una cita por este medio; alguien de nuestro equipo revisará tu mensaje."
        ),
        Locale::En => format!(
            "What you describe may be an emergency. Call {emergency_number} now or go to the nearest emergency room. We will not book an appointment here; someone from our team will review your message."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emergencies_in_spanish_and_english_with_typos() {
        for message in [
            "No puedo respirar",
            "no puedo respirrar bien",
            "mi mamá se desmayó",
            "me desmalle en el baño",
            "perdió el conocimiento",
            "tengo un sangrado abundante",
            "me duele el pecho y me falta el aire",
            "dolor en el pecho, me falta el aire",
            "tengo ganas de suicidarme",
            "quiero morirme",
            "se le cayó la cara y no puede hablar",
            "mi hijo está convulsionando",
            "creo que es un infarto",
            "es una emergencia",
            "I can't breathe",
            "my dad fainted",
            "chest pain and shortness of breath",
            "I want to kill myself",
            "heavy bleeding after surgery",
            "slurred speech and face drooping",
            "she is having a seizure",
        ] {
            assert_eq!(assess(message), Urgency::Emergency, "{message}");
        }
    }

    #[test]
    fn denied_signs_are_not_emergencies() {
        for message in [
            "no tengo dificultad para respirar",
            "no me he desmayado",
            "sin dolor de pecho ni falta de aire",
            "I don't have chest pain or shortness of breath",
            "never fainted",
            "no es una emergencia",
            "no puedo respirar por la nariz, tengo gripa",
            "no tengo sangrado",
        ] {
            assert_ne!(assess(message), Urgency::Emergency, "{message}");
        }
        assert_eq!(assess("no tengo fiebre"), Urgency::Routine);
        assert_eq!(assess("I don't have a fever"), Urgency::Routine);
    }

    #[test]
    fn urgent_but_not_emergency() {
        for message in [
            "me duele el pecho desde ayer",
            "me falta el aire al subir escaleras",
            "mi bebé tiene fiebre",
            "my baby has a fever",
            "tengo fiebre alta",
            "un dolor muy fuerte en la espalda",
            "me sangra la encía",
            "tengo sangre en la orina",
            "la tos está empeorando",
            "getting worse every day",
            "creo que me fracturé el brazo",
        ] {
            assert_eq!(assess(message), Urgency::Urgent, "{message}");
        }
    }

    #[test]
    fn everyday_complaints_are_routine() {
        for message in [
            "necesito una cita con el cardiólogo",
            "tengo un lunar que quiero revisar",
            "control de la presión",
            "I need a check-up",
            "tengo tos y mocos",
            "me duele la rodilla",
            "necesito un examen de sangre",
            "I need a blood test",
            "no puedo mover bien el hombro desde hace un mes",
            "",
        ] {
            assert_eq!(assess(message), Urgency::Routine, "{message}");
        }
    }

    #[test]
    fn the_emergency_message_gives_the_number() {
        assert!(emergency_message(Locale::Es, "123").contains("Llama ya al 123"));
        assert!(emergency_message(Locale::En, "911").contains("Call 911"));
    }
}
