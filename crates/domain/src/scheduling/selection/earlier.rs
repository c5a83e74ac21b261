//! "¿Tienen algo más temprano?": an answer to an offer that asks for an earlier date than
//! the ones offered. The appointments service puts such a patient on the waitlist of the
//! department, so a slot that frees up sooner is offered to them.

use super::text::{normalize, tokenize};

/// Whether `text` asks for an earlier date or time than offered: "más temprano", "más
/// pronto", "algo antes", "lo antes posible", "earlier", "sooner" (case, accents and
/// punctuation ignored). "Antes de …" / "antes que …" ("antes de las 3") is a limit on the
/// time of day, not a request for an earlier date, and is not one.
pub fn asks_for_earlier(text: &str) -> bool {
    let normalized = normalize(text);
    let tokens = tokenize(&normalized, false);
    tokens.iter().enumerate().any(|(i, &token)| {
        let next = tokens.get(i + 1).copied();
        let previous = i.checked_sub(1).and_then(|j| tokens.get(j)).copied();
        match token {
            "earlier" | "sooner" => true,
            "temprano" | "pronto" => previous == Some("mas"),
            "antes" => !matches!(next, Some("de" | "del" | "que")),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::asks_for_earlier;

    #[test]
    fn requests_for_an_earlier_date_in_spanish_and_english() {
        for text in [
            "algo más temprano",
            "¿Tienen algo MAS TEMPRANO?",
            "más pronto por favor",
            "antes",
            "algo antes?",
            "¿No hay nada antes?",
            "lo antes posible",
            "Anything earlier?",
            "sooner please",
            "I need something earlier than that",
        ] {
            assert!(asks_for_earlier(text), "{text}");
        }
    }

    #[test]
    fn choices_rejections_and_time_limits_are_not() {
        for text in [
            "1",
            "la segunda",
            "ninguno",
            "temprano en la mañana",
            "pronto",
            "antes de las 3",
            "no puedo antes de las 10",
            "antes que el lunes no",
            "none of these",
            "2pm",
            "early morning",
            "",
        ] {
            assert!(!asks_for_earlier(text), "{text}");
        }
    }
}
