//! A patient's message as the rules read it: lower-case, accents stripped ("Miércoles"
//! → "miercoles"), split into tokens that remember where they were in the original, so
//! a value can be stored in the patient's own spelling ("María", not "maria").
//!
//! Each word token is resolved once against the [`Lexicon`] of every word the rules know,
//! tolerating one typo in words of five letters or more ("cardilogo" → "cardiologo",
//! "miercole" → "miercoles"). Short words must be exact: "mar" is no typo of "mal".

use std::ops::Range;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use super::lexicon::{Elem, LEXICON, Phrase, WordId};

/// Longest message the rules read (WhatsApp's own limit); the rest is ignored.
pub const MAX_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Letters (and inner apostrophes: "don't").
    Word,
    /// Digits only.
    Number,
    /// Digits and letters: "3rd", "10am", "1º".
    Mixed,
    /// Any other visible character, one per token.
    Punct(char),
}

#[derive(Debug, Clone, Copy)]
pub struct Token {
    start: u32,
    end: u32,
    pub kind: Kind,
    /// The lexicon word this token is (exactly or within one typo).
    pub id: Option<WordId>,
    /// The lexicon stem this token starts with.
    pub stem: Option<WordId>,
}

#[derive(Debug)]
pub struct Text<'a> {
    original: &'a str,
    norm: String,
    /// For each byte of `norm`, the offset in `original` of the character it came from.
    map: Vec<u32>,
    pub tokens: Vec<Token>,
}

impl<'a> Text<'a> {
    pub fn new(message: &'a str) -> Self {
        let original = truncate(message, MAX_BYTES);
        let mut norm = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len() + 1);
        for (offset, c) in original.char_indices() {
            let Some(n) = fold(c) else { continue };
            let before = norm.len();
            norm.push(n);
            map.extend(std::iter::repeat_n(offset as u32, norm.len() - before));
        }
        map.push(original.len() as u32);
        let tokens = tokenize(&norm);
        Self {
            original,
            norm,
            map,
            tokens,
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn all(&self) -> Range<usize> {
        0..self.tokens.len()
    }

    /// The normalized text of token `i` ("" past the end).
    pub fn word(&self, i: usize) -> &str {
        self.tokens
            .get(i)
            .map_or("", |t| &self.norm[t.start as usize..t.end as usize])
    }

    /// The kind of token `i`; past the end, a NUL "punctuation" that matches nothing.
    pub fn kind(&self, i: usize) -> Kind {
        self.tokens.get(i).map_or(Kind::Punct('\0'), |t| t.kind)
    }

    pub fn id(&self, i: usize) -> Option<WordId> {
        self.tokens.get(i).and_then(|t| t.id)
    }

    pub fn is_punct(&self, i: usize, c: char) -> bool {
        self.tokens.get(i).is_some_and(|t| t.kind == Kind::Punct(c))
    }

    pub fn is_wordlike(&self, i: usize) -> bool {
        !matches!(self.kind(i), Kind::Punct(_))
    }

    /// The value of a token of digits (at most nine).
    pub fn number(&self, i: usize) -> Option<u32> {
        let t = self.tokens.get(i)?;
        if t.kind != Kind::Number || t.end - t.start > 9 {
            return None;
        }
        self.word(i).parse().ok()
    }

    /// Digits of token `i` as written, with the count (to tell "85" from "1985").
    pub fn digits(&self, i: usize) -> Option<(u32, usize)> {
        let n = self.number(i)?;
        Some((n, self.word(i).len()))
    }

    /// The patient's own text covering tokens `range` (empty for an empty range).
    pub fn original(&self, range: Range<usize>) -> &'a str {
        if range.is_empty() || range.end > self.tokens.len() {
            return "";
        }
        let start = self.map[self.tokens[range.start].start as usize] as usize;
        let end = self.map[self.tokens[range.end - 1].end as usize] as usize;
        self.original.get(start..end).unwrap_or("")
    }

    /// The whole message, trimmed.
    pub fn whole(&self) -> &'a str {
        self.original.trim()
    }

    /// Whether any token of `range` is one of `words`.
    pub fn has_any(&self, range: Range<usize>, words: &[WordId]) -> bool {
        range
            .into_iter()
            .any(|i| self.id(i).is_some_and(|id| words.contains(&id)))
    }

    /// Whether `elem` is token `i`.
    pub fn matches(&self, i: usize, elem: &Elem) -> bool {
        match elem {
            Elem::Word(id) => self.id(i) == Some(*id),
            Elem::Stem(id) => self.tokens.get(i).is_some_and(|t| t.stem == Some(*id)),
        }
    }

    /// The first place in `range` where `phrase` is said, allowing up to `gap` other
    /// words between two of its words ("no puedo casi respirar"); punctuation breaks it.
    pub fn find(&self, range: Range<usize>, phrase: &Phrase, gap: usize) -> Option<Range<usize>> {
        let (first, rest) = phrase.split_first()?;
        let end = range.end.min(self.len());
        'start: for start in range.start..end {
            if !self.matches(start, first) {
                continue;
            }
            let mut at = start;
            for elem in rest {
                let mut found = None;
                for next in (at + 1)..end.min(at + 2 + gap) {
                    if !self.is_wordlike(next) {
                        break;
                    }
                    if self.matches(next, elem) {
                        found = Some(next);
                        break;
                    }
                }
                match found {
                    Some(next) => at = next,
                    None => continue 'start,
                }
            }
            return Some(start..at + 1);
        }
        None
    }

    /// The first of `phrases` said in `range` (see [`Text::find`]).
    pub fn find_any(
        &self,
        range: Range<usize>,
        phrases: &[Phrase],
        gap: usize,
    ) -> Option<Range<usize>> {
        phrases
            .iter()
            .filter_map(|p| self.find(range.clone(), p, gap))
            .min_by_key(|r| (r.start, std::cmp::Reverse(r.end)))
    }

    /// The message cut into clauses: at punctuation that ends a thought (, . ; ! ? : and
    /// line breaks, but not a dot between digits as in 3.5.85) and before the
    /// conjunctions that join two statements ("y", "pero", "ni", "and", "but"…). The
    /// conjunction starts the next clause, so "ni tomo medicamentos" keeps its negation.
    pub fn clauses(&self) -> Vec<Range<usize>> {
        let lex = &*LEXICON;
        let mut clauses = Vec::new();
        let mut start = 0;
        for i in 0..self.len() {
            let breaks = match self.kind(i) {
                Kind::Punct(c) => match c {
                    ',' | ';' | '!' | '?' | '\n' | '\r' | '¿' | '¡' => true,
                    '.' => !(i > 0 && self.kind(i - 1) == Kind::Number && self.next_is_number(i)),
                    ':' => !(i > 0 && self.kind(i - 1) == Kind::Number && self.next_is_number(i)),
                    _ => false,
                },
                _ => false,
            };
            if breaks {
                if start < i {
                    clauses.push(start..i);
                }
                start = i + 1;
            } else if i > start && self.id(i).is_some_and(|id| lex.conjunctions.contains(&id)) {
                clauses.push(start..i);
                start = i;
            }
        }
        if start < self.len() {
            clauses.push(start..self.len());
        }
        clauses
    }

    fn next_is_number(&self, i: usize) -> bool {
        self.tokens
            .get(i + 1)
            .is_some_and(|t| matches!(t.kind, Kind::Number | Kind::Mixed))
    }

    /// Word tokens of `range` (no punctuation).
    pub fn word_count(&self, range: Range<usize>) -> usize {
        range.filter(|&i| self.is_wordlike(i)).count()
    }
}

/// `s` folded as the rules read it, words separated by one space: how two spellings of a
/// name are compared ("Sede  Norte" = "sede norte" = "SEDE NORTE").
pub fn fold_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter_map(fold));
    }
    out
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One character as the rules see it: lower case, without accents ("É" → "e", "ñ" →
/// "n"), typographic apostrophes as "'", spaces as " ". Combining marks vanish.
fn fold(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(match c {
            '\t' | '\x0b' | '\x0c' => ' ',
            _ => c.to_ascii_lowercase(),
        });
    }
    if is_combining_mark(c) {
        return None;
    }
    match c {
        '\u{2019}' | '\u{2018}' | '\u{b4}' | '\u{2032}' => return Some('\''),
        '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{3000}' => return Some(' '),
        '\u{200b}'..='\u{200d}' | '\u{feff}' => return None,
        _ => {}
    }
    let mut base = None;
    decompose_canonical(c, |d| {
        if base.is_none() {
            base = Some(d);
        }
    });
    let base = base.unwrap_or(c);
    Some(base.to_lowercase().next().unwrap_or(base))
}

fn tokenize(norm: &str) -> Vec<Token> {
    let lex = &*LEXICON;
    let mut tokens = Vec::with_capacity(norm.len() / 4 + 1);
    let mut chars = norm.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() && c != '\n' && c != '\r' {
            continue;
        }
        if !c.is_alphanumeric() {
            tokens.push(Token {
                start: start as u32,
                end: (start + c.len_utf8()) as u32,
                kind: Kind::Punct(c),
                id: None,
                stem: None,
            });
            continue;
        }
        let (mut digits, mut letters) = (c.is_ascii_digit(), !c.is_ascii_digit());
        let mut end = start + c.len_utf8();
        while let Some(&(at, next)) = chars.peek() {
            let inner_apostrophe = next == '\'' && {
                let rest = &norm[at + 1..];
                rest.chars().next().is_some_and(char::is_alphabetic)
            };
            if !(next.is_alphanumeric() || inner_apostrophe) {
                break;
            }
            if next.is_ascii_digit() {
                digits = true;
            } else {
                letters = true;
            }
            end = at + next.len_utf8();
            chars.next();
        }
        let kind = match (digits, letters) {
            (true, false) => Kind::Number,
            (false, _) => Kind::Word,
            (true, true) => Kind::Mixed,
        };
        let (id, stem) = match kind {
            Kind::Word => {
                let word = &norm[start..end];
                (lex.resolve(word), lex.stem_of(word))
            }
            _ => (None, None),
        };
        tokens.push(Token {
            start: start as u32,
            end: end as u32,
            kind,
            id,
            stem,
        });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_strips_case_and_accents_but_keeps_the_original_spans() {
        let text = Text::new("  Hola, soy MARÍA Pérez-Núñez; ¿qué tal?");
        let words: Vec<&str> = (0..text.len()).map(|i| text.word(i)).collect();
        assert_eq!(
            words,
            [
                "hola", ",", "soy", "maria", "perez", "-", "nunez", ";", "¿", "que", "tal", "?"
            ]
        );
        assert_eq!(text.original(3..7), "MARÍA Pérez-Núñez");
        assert_eq!(text.original(0..0), "");
    }

    #[test]
    fn decomposed_accents_fold_like_composed_ones() {
        let text = Text::new("Mie\u{301}rcoles");
        assert_eq!(text.word(0), "miercoles");
        assert_eq!(text.original(0..1), "Mie\u{301}rcoles");
    }

    #[test]
    fn tokens_tell_numbers_words_and_mixed_apart() {
        let text = Text::new("May 3rd 1985 at 10am, don't");
        let kinds: Vec<Kind> = (0..text.len()).map(|i| text.kind(i)).collect();
        assert_eq!(
            kinds,
            [
                Kind::Word,
                Kind::Mixed,
                Kind::Number,
                Kind::Word,
                Kind::Mixed,
                Kind::Punct(','),
                Kind::Word
            ]
        );
        assert_eq!(text.word(6), "don't");
        assert_eq!(text.number(2), Some(1985));
    }

    #[test]
    fn clauses_split_at_commas_and_conjunctions_not_inside_dates() {
        let text = Text::new("no tengo alergias ni tomo medicamentos, nací el 3.5.85");
        let clauses: Vec<&str> = text
            .clauses()
            .into_iter()
            .map(|r| text.original(r))
            .collect();
        assert_eq!(
            clauses,
            [
                "no tengo alergias",
                "ni tomo medicamentos",
                "nací el 3.5.85"
            ]
        );
    }

    #[test]
    fn one_typo_is_tolerated_in_long_words_only() {
        let lex = &*LEXICON;
        let text = Text::new("cardilogo miercole mal");
        assert_eq!(text.id(0), lex.exact("cardiologo"));
        assert_eq!(text.id(1), lex.exact("miercoles"));
        assert_eq!(text.id(2), lex.exact("mal"));
    }

    #[test]
    fn long_messages_are_read_up_to_the_limit_on_a_char_boundary() {
        let long = "ñ".repeat(MAX_BYTES);
        let text = Text::new(&long);
        assert_eq!(text.len(), 1);
        assert!(text.whole().len() <= MAX_BYTES);
    }
}
