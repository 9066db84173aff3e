//! Case-insensitive phrase matching shared by intent rules and workspace dictionaries.
//!
//! One Aho-Corasick automaton over all phrases keeps the cost per text independent of how many
//! rules or dictionary names a workspace has. Latin phrases must sit on word boundaries (so
//! "bug" does not fire inside "debugger"); CJK and Hangul have no spaces between words, so there
//! a phrase matches as a substring ("AcmePay로" still tags AcmePay).

use crate::text::{script_of, Script};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

#[derive(Debug, Clone)]
struct Phrase {
    /// A leading/trailing "*" in the source lifts the boundary requirement on that side.
    open_left: bool,
    open_right: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct PhraseSet {
    ac: Option<AhoCorasick>,
    phrases: Vec<Phrase>,
}

/// Lowercases the way `text::normalize` does so phrases and texts agree.
pub(crate) fn lower(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(c, '\u{FE0E}' | '\u{FE0F}' | '\u{200D}'))
        .collect()
}

fn is_latin_word_char(c: char) -> bool {
    script_of(c) == Some(Script::Latin)
}

impl PhraseSet {
    /// Builds from raw phrases; returns the set and, for each input, its phrase index (inputs
    /// that are empty after trimming get `None`).
    pub fn new<'a>(raw: impl IntoIterator<Item = &'a str>) -> (PhraseSet, Vec<Option<usize>>) {
        let mut pats: Vec<String> = Vec::new();
        let mut phrases = Vec::new();
        let mut ids = Vec::new();
        for r in raw {
            let t = r.trim();
            let open_left = t.starts_with('*');
            let open_right = t.ends_with('*') && t.len() > 1;
            let core = lower(t.trim_matches('*').trim());
            if core.is_empty() {
                ids.push(None);
                continue;
            }
            if let Some(i) = pats.iter().position(|p| *p == core) {
                // Same text twice: the more permissive boundary setting wins.
                let p: &mut Phrase = &mut phrases[i];
                p.open_left |= open_left;
                p.open_right |= open_right;
                ids.push(Some(i));
                continue;
            }
            pats.push(core);
            phrases.push(Phrase {
                open_left,
                open_right,
            });
            ids.push(Some(pats.len() - 1));
        }
        let ac = if pats.is_empty() {
            None
        } else {
            // Standard semantics so overlapping phrases ("buy", "where can i buy") all report.
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .ok()
        };
        (PhraseSet { ac, phrases }, ids)
    }

    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    /// Calls `hit(phrase_index, start)` for every boundary-respecting occurrence in `lowered`.
    pub fn for_each_match(&self, lowered: &str, mut hit: impl FnMut(usize, usize)) {
        let Some(ac) = &self.ac else { return };
        for m in ac.find_overlapping_iter(lowered) {
            let id = m.pattern().as_usize();
            let p = &self.phrases[id];
            let matched = &lowered[m.start()..m.end()];
            let first = matched.chars().next();
            let last = matched.chars().next_back();
            if !p.open_left
                && first.is_some_and(is_latin_word_char)
                && lowered[..m.start()]
                    .chars()
                    .next_back()
                    .is_some_and(is_latin_word_char)
            {
                continue;
            }
            if !p.open_right
                && last.is_some_and(is_latin_word_char)
                && lowered[m.end()..]
                    .chars()
                    .next()
                    .is_some_and(is_latin_word_char)
            {
                continue;
            }
            hit(id, m.start());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_for_latin_substrings_for_cjk() {
        let (set, ids) = PhraseSet::new(["bug", "*fehler", "결제"]);
        let mut found = Vec::new();
        set.for_each_match("debugger 결제가 anmeldefehler bug.", |i, _| {
            found.push(i)
        });
        found.sort();
        assert_eq!(
            found,
            vec![
                ids[0].unwrap_or(99),
                ids[1].unwrap_or(99),
                ids[2].unwrap_or(99)
            ]
        );
        let mut none = Vec::new();
        set.for_each_match("debugging", |i, _| none.push(i));
        assert!(none.is_empty());
    }
}
