//! One built-in intake turn: read every field the message gives, then ask for the first
//! one still missing.
//!
//! The message is cut into clauses; each reader claims the clauses it understood, and
//! the field that was asked takes what is left (its own words: "penicilina", "Ana
//! Ruiz"). So "soy Ana Ruiz, nací el 3 de mayo de 1985" fills the name and the birth
//! date, "no tengo alergias ni tomo medicamentos" both lists, "en Sede Norte el martes en
//! la mañana" the location and the day/time.
//!
//! Readers only listen where a field is likely: a date is a birth date before the
//! complaint is asked or after "nací"/"born"; a weekday is a preference once the location
//! or the day is asked (or in the first message), never inside a complaint ("me duele
//! desde el lunes"); a complaint is taken unasked only before it is asked.
//!
//! Misunderstood answers ("no entiendo", "?", a date that cannot be read) get the
//! question again, reworded. The third misunderstood answer in a row to the same
//! question is accepted as it is, so nobody is stuck: the patient's raw text for a name,
//! birth date or free-text field ([`UNKNOWN`] when there is none), "any" location, or no
//! day/time preference (keeping the text). Staff see those values as written.

use std::ops::Range;

use chrono::NaiveDate;
use serde_json::Value;

use super::{
    dates::{self, FoundKind},
    daytime::{self, DayTime},
    fields, names,
    places::{self, Place},
    questions,
    text::{self, Text},
};
use crate::intake::{
    ANY_LOCATION, DayTimeValue, IntakeData, IntakeField, IntakeReply, IntakeTurn, UNKNOWN,
};

/// The third misunderstood answer in a row is accepted as it is.
pub const MAX_MISUNDERSTOOD: u32 = 3;

/// Longest raw text kept for a name or birth date accepted as written.
const RAW_NAME_CHARS: usize = 120;

use IntakeField::*;

pub fn turn(turn: &IntakeTurn<'_>) -> IntakeReply {
    let text = Text::new(turn.message);
    let detected = if turn.first_message {
        fields::detect_locale(&text)
    } else {
        None
    };
    let locale = detected.unwrap_or(turn.state.locale);
    let confused = fields::is_confused(&text);
    let mut reading = Reading::new(&text, turn);
    if !confused {
        reading.read();
    }
    let asked = turn.state.asked;
    let asked_answered = asked.is_some_and(|f| !reading.wanted(f));
    let mut misunderstood = asked.is_some() && !asked_answered && reading.out.is_empty();
    if misunderstood
        && let Some(field) = asked
        && turn.state.misunderstood + 1 >= MAX_MISUNDERSTOOD
    {
        reading.accept_as_written(field, confused);
        misunderstood = false;
    }
    reading.fill_single_location();

    let state = turn.state;
    let next_field = state
        .required_fields
        .iter()
        .copied()
        .find(|f| !reading.out.contains(*f));
    let next_question = next_field.map(|field| {
        let mut parts: Vec<String> = Vec::with_capacity(4);
        let name = reading.out.name().or(state.extracted.name());
        let first_name = name.and_then(|n| n.split_whitespace().next());
        if turn.first_message {
            parts.push(questions::greeting(locale, first_name));
        } else if let Some(first) = reading.out.name().and_then(|n| n.split_whitespace().next()) {
            parts.push(questions::thanks(locale, first));
        }
        if let Some(born) = reading.noted_birth {
            parts.push(questions::birth_noted(locale, born));
        }
        let attempt = if misunderstood && Some(field) == asked {
            if reading.impossible_date && field == DateOfBirth {
                parts.push(questions::impossible_date(locale).to_owned());
            } else {
                parts.push(questions::not_understood(locale, confused).to_owned());
            }
            state.misunderstood + 1
        } else {
            0
        };
        parts.push(questions::ask(field, locale, attempt, turn.clinic));
        parts.join(" ")
    });
    IntakeReply {
        extracted: reading.out,
        next_field,
        complete: next_field.is_none(),
        next_question,
        locale: detected,
        misunderstood,
    }
}

struct Reading<'a> {
    text: &'a Text<'a>,
    turn: &'a IntakeTurn<'a>,
    clauses: Vec<Range<usize>>,
    claimed: Vec<bool>,
    out: IntakeData,
    noted_birth: Option<NaiveDate>,
    impossible_date: bool,
}

impl<'a> Reading<'a> {
    fn new(text: &'a Text<'a>, turn: &'a IntakeTurn<'a>) -> Self {
        let clauses = text.clauses();
        Self {
            claimed: vec![false; clauses.len()],
            clauses,
            text,
            turn,
            out: IntakeData::default(),
            noted_birth: None,
            impossible_date: false,
        }
    }

    fn asked(&self) -> Option<IntakeField> {
        self.turn.state.asked
    }

    fn today(&self) -> NaiveDate {
        self.turn.today
    }

    /// Still missing, and not found in this message yet.
    fn wanted(&self, field: IntakeField) -> bool {
        self.turn.state.required_fields.contains(&field) && !self.out.contains(field)
    }

    fn put(&mut self, field: IntakeField, value: impl Into<Value>) {
        self.out.insert(field, value.into());
    }

    fn claim(&mut self, tokens: &Range<usize>) {
        for (i, clause) in self.clauses.iter().enumerate() {
            if clause.start < tokens.end && tokens.start < clause.end {
                self.claimed[i] = true;
            }
        }
    }

    fn unclaimed(&self) -> Vec<Range<usize>> {
        self.clauses
            .iter()
            .zip(&self.claimed)
            .filter(|(_, claimed)| !**claimed)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The patient's words from the first to the last of `clauses`.
    fn span(&self, clauses: &[Range<usize>]) -> Option<Range<usize>> {
        Some(clauses.first()?.start..clauses.last()?.end)
    }

    fn words(&self, range: Range<usize>) -> String {
        fields::clean(self.text.original(range)).to_owned()
    }

    fn read(&mut self) {
        self.marked_name();
        self.birth_date();
        self.allergies_and_medications();
        self.location();
        self.day_time();
        self.unasked_complaint();
        self.asked_field();
    }

    /// "soy Ana Ruiz", "me llamo…": a name wherever it is, also correcting a known one
    /// when the new one is fuller ("me llamo Ana María Ruiz"). A message that is only a
    /// fuller form of the name given ("Luis" → "Luis Fernando Mejía") corrects it too.
    fn marked_name(&mut self) {
        let known = self.turn.state.extracted.name();
        let fuller =
            |name: &str| known.is_some_and(|k| k != name && name.split_whitespace().count() >= 2);
        if let Some((name, tokens)) = names::marked(self.text, self.text.all()) {
            if self.wanted(Name) || fuller(&name) {
                self.put(Name, name);
            }
            self.claim(&tokens);
            return;
        }
        let Some(known) = known.filter(|_| self.asked() != Some(Name)) else {
            return;
        };
        if let Some((name, tokens)) = names::bare(self.text, self.text.all())
            && tokens == self.text.all()
            && fuller(&name)
            && text::fold_str(&name).starts_with(&text::fold_str(known))
        {
            self.put(Name, name);
            self.claim(&tokens);
        }
    }

    fn birth_date(&mut self) {
        let marker = dates::has_birth_marker(self.text, self.text.all());
        let listening = matches!(self.asked(), None | Some(Name) | Some(DateOfBirth));
        if !(listening || marker) {
            return;
        }
        let mut from = 0;
        while let Some(found) = dates::find(self.text, from..self.text.len(), self.today()) {
            let tokens = found.tokens.0..found.tokens.1;
            from = tokens.end.max(from + 1);
            match found.kind {
                FoundKind::Birth(date) => {
                    let correction = marker && self.turn.state.extracted.contains(DateOfBirth);
                    if self.wanted(DateOfBirth) || correction {
                        self.put(DateOfBirth, date.format("%Y-%m-%d").to_string());
                        self.noted_birth = Some(date);
                    }
                    self.claim(&tokens);
                    return;
                }
                FoundKind::Invalid => {
                    if self.asked() == Some(DateOfBirth) || marker {
                        self.impossible_date = true;
                        self.claim(&tokens);
                        return;
                    }
                }
                FoundKind::DayMonth { .. } => {}
            }
        }
    }

    /// Statements with "alergia"/"allergic" or "medicamentos"/"pastillas" (and "tomo",
    /// "take" when the question was about them). When that was the question, the clauses
    /// after it belong to it too ("tomo enalapril y metformina").
    fn allergies_and_medications(&mut self) {
        let verbs = matches!(self.asked(), Some(Allergies) | Some(Medications));
        let about = |text: &Text, clause: Range<usize>| {
            if fields::mentions_allergy(text, clause.clone()) {
                Some(Allergies)
            } else if fields::mentions_medication(text, clause, verbs) {
                Some(Medications)
            } else {
                None
            }
        };
        let mut i = 0;
        while i < self.clauses.len() {
            let clause = self.clauses[i].clone();
            let field = if self.claimed[i] {
                None
            } else {
                about(self.text, clause.clone())
            };
            let Some(field) = field else {
                i += 1;
                continue;
            };
            self.claimed[i] = true;
            let mut end = i + 1;
            if self.asked() == Some(field) {
                while end < self.clauses.len()
                    && !self.claimed[end]
                    && about(self.text, self.clauses[end].clone()).is_none()
                    && !fields::mentions_health(self.text, self.clauses[end].clone())
                {
                    self.claimed[end] = true;
                    end += 1;
                }
            }
            if self.wanted(field) {
                let span = clause.start..self.clauses[end - 1].end;
                let value = fields::statement_value(self.text, span);
                self.put(field, value);
            }
            i = end;
        }
    }

    fn location(&mut self) {
        if !self.wanted(PreferredLocation)
            || matches!(self.asked(), Some(ChiefComplaint | Symptoms))
        {
            return;
        }
        let asked = self.asked() == Some(PreferredLocation);
        let clinic = self.turn.clinic;
        match places::place(self.text, self.text.all(), clinic, asked) {
            Some(Place::One(location, tokens)) => {
                self.put(PreferredLocation, location.name.clone());
                self.claim(&tokens);
            }
            Some(Place::Any(tokens)) => {
                self.put(PreferredLocation, ANY_LOCATION);
                self.claim(&tokens);
            }
            Some(Place::Ambiguous) | None => {}
        }
    }

    /// Day and time, read clause by clause ("el martes, a las 3"), outside complaints.
    fn day_time(&mut self) {
        let asked = self.asked();
        let listening = matches!(
            asked,
            None | Some(PreferredLocation) | Some(PreferredDayTime)
        );
        // Near the end of the intake a new preference replaces an earlier one ("I need
        // it asap" first, then "any day after 4pm").
        let correcting = matches!(asked, Some(PreferredLocation) | Some(PreferredDayTime))
            && !self.out.contains(PreferredDayTime);
        if !listening || !(self.wanted(PreferredDayTime) || correcting) {
            return;
        }
        let is_asked = asked == Some(PreferredDayTime);
        let mut combined = DayTime::default();
        let mut said: Vec<Range<usize>> = Vec::new();
        for clause in &self.clauses {
            if !is_asked && fields::mentions_health(self.text, clause.clone()) {
                continue;
            }
            let Some(found) = daytime::parse(self.text, clause.clone(), Some(self.today())) else {
                continue;
            };
            combined.day_of_week = combined.day_of_week.or(found.day_of_week);
            combined.time = combined.time.or(found.time);
            combined.asap |= found.asap;
            combined.flexible |= found.flexible;
            combined.about_time |= found.about_time;
            if let Some(tokens) = found.tokens {
                combined.tokens = Some(match combined.tokens.take() {
                    Some(r) => r.start.min(tokens.start)..r.end.max(tokens.end),
                    None => tokens,
                });
            }
            said.push(clause.clone());
        }
        if is_asked
            && said.is_empty()
            && fields::none_answer(self.text, self.text.all()) == Some(UNKNOWN)
        {
            // "No sé": no preference.
            combined.flexible = true;
            said = self.clauses.clone();
        }
        let answered = if is_asked {
            combined.about_time || combined.flexible
        } else {
            combined.about_time
        };
        let Some(span) = self.span(&said).filter(|_| answered) else {
            return;
        };
        // The patient's answer to the question; unasked, just the words that said it
        // ("mañana en la mañana" out of "necesito cita para mañana en la mañana").
        let words = if is_asked {
            self.text.original(span.clone())
        } else {
            combined
                .tokens
                .clone()
                .map_or(self.text.original(span.clone()), |r| self.text.original(r))
        };
        let value = DayTimeValue::from_parsed(words, &combined);
        self.put(PreferredDayTime, value.to_json());
        self.claim(&span);
    }

    /// Before the complaint is asked, a clause about health is the complaint ("hola,
    /// necesito una cita porque me duele la cabeza"), and further ones the symptoms (all of
    /// them, when the complaint is known already).
    fn unasked_complaint(&mut self) {
        let before = matches!(self.asked(), None | Some(Name) | Some(DateOfBirth));
        if !before || !(self.wanted(ChiefComplaint) || self.wanted(Symptoms)) {
            return;
        }
        let mut health: Vec<Range<usize>> = self
            .unclaimed()
            .into_iter()
            .filter(|c| fields::mentions_health(self.text, c.clone()))
            .collect();
        if health.is_empty() {
            return;
        }
        if self.wanted(ChiefComplaint) {
            let first = health.remove(0);
            let reason = fields::reason_part(self.text, first.clone());
            let complaint = self.words(reason);
            self.put(ChiefComplaint, complaint);
            self.claim(&first);
        }
        if !health.is_empty() && self.wanted(Symptoms) {
            let symptoms: Vec<String> = health.iter().map(|c| self.words(c.clone())).collect();
            self.put(Symptoms, symptoms.join(", "));
            for c in &health {
                self.claim(c);
            }
        }
    }

    /// The asked field takes what no other reader claimed.
    fn asked_field(&mut self) {
        let Some(field) = self.asked().filter(|f| self.wanted(*f)) else {
            return;
        };
        match field {
            Name => {
                // Every clause, claimed or not: "Ana Ruiz 03/05/1985" is one clause.
                let found = self
                    .clauses
                    .iter()
                    .find_map(|c| names::bare(self.text, c.clone()));
                if let Some((name, tokens)) = found {
                    self.put(Name, name);
                    self.claim(&tokens);
                }
            }
            ChiefComplaint => self.asked_complaint(),
            Symptoms | Allergies | Medications => {
                let unclaimed = self.unclaimed();
                let Some(span) = self.span(&unclaimed) else {
                    return;
                };
                let value = match fields::none_answer(self.text, span.clone()) {
                    Some(v) => v.to_owned(),
                    None => self.words(span.clone()),
                };
                if !value.is_empty() {
                    self.put(field, value);
                    self.claim(&span);
                }
            }
            DateOfBirth | PreferredLocation | PreferredDayTime => {}
        }
    }

    /// "Me duele el pecho desde ayer y me falta el aire": the first statement is the
    /// complaint, later ones about health the symptoms.
    fn asked_complaint(&mut self) {
        let unclaimed = self.unclaimed();
        let Some(span) = self.span(&unclaimed) else {
            return;
        };
        if fields::none_answer(self.text, span.clone()).is_some() {
            // "No sé", "nada": a reason is needed to book; asked again.
            return;
        }
        let later_health = unclaimed
            .iter()
            .skip(1)
            .position(|c| fields::mentions_health(self.text, c.clone()))
            .map(|p| p + 1);
        match later_health {
            Some(split) if self.wanted(Symptoms) => {
                let complaint = self.words(unclaimed[0].start..unclaimed[split - 1].end);
                let symptoms = self.words(unclaimed[split].start..span.end);
                self.put(ChiefComplaint, complaint);
                self.put(Symptoms, symptoms);
            }
            _ => {
                let complaint = self.words(span.clone());
                self.put(ChiefComplaint, complaint);
            }
        }
        self.claim(&span);
    }

    /// The third misunderstood answer in a row: keep what was written and move on.
    fn accept_as_written(&mut self, field: IntakeField, confused: bool) {
        let raw = self.text.whole();
        let has_words = !confused && raw.chars().any(char::is_alphanumeric);
        let written = |max: usize| -> String {
            if has_words {
                raw.chars().take(max).collect()
            } else {
                UNKNOWN.to_owned()
            }
        };
        match field {
            Name | DateOfBirth => {
                let value = written(RAW_NAME_CHARS);
                self.put(field, value);
            }
            ChiefComplaint | Symptoms | Allergies | Medications => {
                let value = written(usize::MAX);
                self.put(field, value);
            }
            PreferredLocation => self.put(PreferredLocation, ANY_LOCATION),
            PreferredDayTime => {
                let value = DayTimeValue::from_parsed(raw, &DayTime::default());
                self.put(PreferredDayTime, value.to_json());
            }
        }
    }

    /// A clinic with one location (or none) is not asked where.
    fn fill_single_location(&mut self) {
        if !self.wanted(PreferredLocation) {
            return;
        }
        match self.turn.clinic.locations.as_slice() {
            [] => self.put(PreferredLocation, ANY_LOCATION),
            [only] => self.put(PreferredLocation, only.name.clone()),
            _ => {}
        }
    }
}
