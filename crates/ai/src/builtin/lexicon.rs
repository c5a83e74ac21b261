//! Every word the built-in rules know, numbered once, so that the rules compare small
//! integers instead of strings, and a typo is forgiven in one place for all of them.
//!
//! Typos: a word of five letters or more also matches a token one edit away (a letter
//! missing, added, changed, or two neighbours swapped), found through an index of each
//! word with one letter deleted (the "symmetric delete" method) rather than by comparing
//! with every word. Shorter words must be exact: "mar" is no typo of "mal".

use std::{collections::HashMap, sync::LazyLock};

pub type WordId = u16;

/// A word that matches no token: what [`Lexicon::id`] gives for a word missing from the
/// vocabulary (a programming error that tests catch; in release it just never matches).
const NO_WORD: WordId = WordId::MAX;

/// One element of a [`Phrase`]: a known word, or a stem that any longer word may extend
/// (written "desmay*": desmayo, desmayé, desmayada…). Stems are exact: list common
/// misspellings as stems of their own ("desmall*").
#[derive(Debug, Clone, Copy)]
pub enum Elem {
    Word(WordId),
    Stem(WordId),
}

pub type Phrase = Vec<Elem>;

/// Shortest word length for which one typo is forgiven.
const FUZZY_MIN_LEN: usize = 5;
const FUZZY_MAX_LEN: usize = 24;

#[derive(Debug)]
pub struct Lexicon {
    ids: HashMap<&'static str, WordId>,
    words: Vec<&'static str>,
    /// Each fuzzy-eligible word with one byte deleted → the words it came from.
    deletions: HashMap<Box<str>, Vec<WordId>>,
    /// Stems (without their `*`), longest first.
    stems: Vec<(&'static str, WordId)>,
    /// Words that start a new clause ("y", "pero", "ni", "and", "but"…).
    pub conjunctions: Vec<WordId>,
}

pub static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut words = Vec::with_capacity(2048);
    super::vocabulary(&mut words);
    Lexicon::build(words)
});

/// Words that start a new clause when they follow other words.
/// "i" is how many write "y" on a phone (and English "I" starts a clause anyway).
pub const CONJUNCTIONS: &[&str] = &[
    "y", "e", "i", "pero", "ni", "aunque", "ademas", "tambien", "and", "but", "nor", "also",
    "plus", "although",
];

impl Lexicon {
    fn build(phrases: Vec<&'static str>) -> Self {
        let mut ids: HashMap<&'static str, WordId> = HashMap::with_capacity(phrases.len());
        let mut words = Vec::with_capacity(phrases.len());
        let mut stems = Vec::new();
        for phrase in phrases {
            for word in phrase.split_whitespace() {
                if ids.contains_key(word) {
                    continue;
                }
                let id = words.len() as WordId;
                ids.insert(word, id);
                words.push(word);
                if let Some(stem) = word.strip_suffix('*') {
                    stems.push((stem, id));
                }
            }
        }
        stems.sort_by_key(|(stem, _)| std::cmp::Reverse(stem.len()));
        let mut deletions: HashMap<Box<str>, Vec<WordId>> = HashMap::new();
        for (id, word) in words.iter().enumerate() {
            if !fuzzy_eligible(word) || word.ends_with('*') {
                continue;
            }
            for deleted in one_deleted(word) {
                let entry = deletions.entry(deleted.into_boxed_str()).or_default();
                if !entry.contains(&(id as WordId)) {
                    entry.push(id as WordId);
                }
            }
        }
        let conjunctions = CONJUNCTIONS
            .iter()
            .filter_map(|w| ids.get(w).copied())
            .collect();
        Self {
            ids,
            words,
            deletions,
            stems,
            conjunctions,
        }
    }

    pub fn exact(&self, word: &str) -> Option<WordId> {
        self.ids.get(word).copied()
    }

    /// The id of a word of the vocabulary.
    pub fn id(&self, word: &str) -> WordId {
        let id = self.exact(word);
        debug_assert!(id.is_some(), "`{word}` is missing from the vocabulary");
        id.unwrap_or(NO_WORD)
    }

    pub fn ids(&self, words: &[&str]) -> Vec<WordId> {
        words.iter().map(|w| self.id(w)).collect()
    }

    pub fn word(&self, id: WordId) -> &'static str {
        self.words.get(id as usize).copied().unwrap_or("")
    }

    pub fn phrase(&self, phrase: &'static str) -> Phrase {
        phrase
            .split_whitespace()
            .map(|w| {
                if w.ends_with('*') {
                    Elem::Stem(self.id(w))
                } else {
                    Elem::Word(self.id(w))
                }
            })
            .collect()
    }

    /// The longest stem `token` starts with.
    pub fn stem_of(&self, token: &str) -> Option<WordId> {
        self.stems
            .iter()
            .find(|(stem, _)| token.starts_with(stem))
            .map(|(_, id)| *id)
    }

    pub fn phrases(&self, phrases: &[&'static str]) -> Vec<Phrase> {
        phrases.iter().map(|p| self.phrase(p)).collect()
    }

    /// The word `token` is: itself, or the closest word one typo away (ties: the word
    /// listed first). Tokens shorter than five letters match only exactly.
    pub fn resolve(&self, token: &str) -> Option<WordId> {
        if let Some(id) = self.exact(token) {
            return Some(id);
        }
        if !fuzzy_eligible(token) {
            return None;
        }
        let mut best: Option<WordId> = None;
        let mut consider = |id: WordId| {
            let better = match best {
                None => true,
                Some(b) => id < b,
            };
            if better && within_one_edit(token.as_bytes(), self.words[id as usize].as_bytes()) {
                best = Some(id);
            }
        };
        // The token is a word with a letter missing.
        if let Some(ids) = self.deletions.get(token) {
            ids.iter().copied().for_each(&mut consider);
        }
        for deleted in one_deleted(token) {
            // The token has a letter too many…
            if let Some(id) = self
                .exact(&deleted)
                .filter(|id| fuzzy_eligible(self.word(*id)))
            {
                consider(id);
            }
            // …or one changed, or two swapped.
            if let Some(ids) = self.deletions.get(deleted.as_str()) {
                ids.iter().copied().for_each(&mut consider);
            }
        }
        best
    }
}

fn fuzzy_eligible(word: &str) -> bool {
    word.is_ascii()
        && (FUZZY_MIN_LEN..=FUZZY_MAX_LEN).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_lowercase())
}

fn one_deleted(word: &str) -> impl Iterator<Item = String> + '_ {
    (0..word.len()).map(move |i| {
        let mut s = String::with_capacity(word.len() - 1);
        s.push_str(&word[..i]);
        s.push_str(&word[i + 1..]);
        s
    })
}

/// Optimal string alignment distance ≤ 1 (one insertion, deletion, substitution, or
/// swap of neighbours), on ASCII bytes.
pub fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            match diffs.as_slice() {
                [_] => true,
                [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
                _ => false,
            }
        }
        1 => {
            let first_diff = (0..short.len())
                .find(|&i| short[i] != long[i])
                .unwrap_or(short.len());
            short[first_diff..] == long[first_diff + 1..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_means_one_letter_or_one_swap() {
        let ok = |a: &str, b: &str| within_one_edit(a.as_bytes(), b.as_bytes());
        assert!(ok("cardiologo", "cardilogo"));
        assert!(ok("cardiologo", "cardiologoo"));
        assert!(ok("cardiologo", "cardiolgoo"));
        assert!(ok("cardiologo", "cardiolago"));
        assert!(!ok("cardiologo", "cardolgo"));
        assert!(!ok("abcd", "badc"));
    }

    #[test]
    fn every_word_of_the_rules_resolves_to_itself() {
        let lex = &*LEXICON;
        assert!(lex.words.len() > 300, "{} words", lex.words.len());
        for (id, word) in lex.words.iter().enumerate() {
            if !word.ends_with('*') {
                assert_eq!(lex.resolve(word), Some(id as WordId), "{word}");
            }
            assert!(
                word.is_ascii() && !word.chars().any(|c| c.is_ascii_uppercase()),
                "{word}"
            );
        }
    }

    #[test]
    fn no_stem_hides_another() {
        let lex = &*LEXICON;
        for (a, _) in &lex.stems {
            for (b, _) in &lex.stems {
                assert!(a == b || !b.starts_with(a), "{a}* hides {b}*");
            }
        }
    }
}
