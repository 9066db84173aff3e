//! Runs a [`Query`] against one item in memory: routing rules and tests use it, and the
//! correctness suite checks that it agrees with the index on every query.

use crate::document::IndexDoc;
use crate::query::{FieldFilter, Query};
use crate::tokenize::{tokens, Tok};
use std::collections::HashMap;

/// An item prepared for repeated matching: its tokens' positions by text.
pub struct Prepared<'a> {
    doc: &'a IndexDoc,
    positions: HashMap<String, Vec<u32>>,
    toks: Vec<Tok>,
}

impl<'a> Prepared<'a> {
    pub fn new(doc: &'a IndexDoc) -> Prepared<'a> {
        let toks = tokens(&doc.text);
        let mut positions: HashMap<String, Vec<u32>> = HashMap::new();
        for t in &toks {
            positions
                .entry(t.text.clone())
                .or_default()
                .push(t.position as u32);
        }
        Prepared {
            doc,
            positions,
            toks,
        }
    }

    pub fn matches(&self, q: &Query) -> bool {
        match q {
            Query::All => true,
            Query::Phrase(t) => !self.phrase_starts(t).is_empty(),
            Query::Prefix(p) => self.positions.keys().any(|k| k.starts_with(p.as_str())),
            Query::Field(f) => self.field(f),
            Query::Range { since, until } => {
                since.is_none_or(|s| self.doc.ts >= s) && until.is_none_or(|u| self.doc.ts < u)
            }
            Query::And(v) => v.iter().all(|q| self.matches(q)),
            Query::Or(v) => v.iter().any(|q| self.matches(q)),
            Query::Not(q) => !self.matches(q),
            Query::Near {
                left,
                right,
                distance,
                ordered,
            } => {
                let l = self.phrase_starts(left);
                let r = self.phrase_starts(right);
                near(
                    &l,
                    left.len() as u32,
                    &r,
                    right.len() as u32,
                    *distance,
                    *ordered,
                )
            }
        }
    }

    fn field(&self, f: &FieldFilter) -> bool {
        let v = f.value();
        let d = self.doc;
        match f {
            FieldFilter::Hashtag(_) => d.hashtags.iter().any(|h| h == v),
            FieldFilter::Mention(_) => d.mentions.iter().any(|h| h == v),
            FieldFilter::Lang(_) => d.lang == v,
            FieldFilter::Network(_) => d.network == v,
            FieldFilter::Sentiment(_) => d.sentiment == v,
            FieldFilter::Intent(_) => d.intents.iter().any(|h| h == v),
            FieldFilter::Author(_) => d.author_keys.iter().any(|h| h == v),
            FieldFilter::Kind(_) => d.kind == v,
            FieldFilter::Tag(_) => d.tags.iter().any(|h| h == v),
        }
    }

    /// Start positions where the token sequence occurs.
    fn phrase_starts(&self, t: &[String]) -> Vec<u32> {
        let Some(first) = t.first().and_then(|f| self.positions.get(f)) else {
            return Vec::new();
        };
        first
            .iter()
            .copied()
            .filter(|&p| {
                t.iter().enumerate().skip(1).all(|(i, w)| {
                    self.positions
                        .get(w)
                        .is_some_and(|ps| ps.binary_search(&(p + i as u32)).is_ok())
                })
            })
            .collect()
    }

    /// Byte ranges of the text to highlight for this query's positive words.
    pub fn highlights(&self, q: &Query) -> Vec<(usize, usize)> {
        let (phrases, prefixes) = q.highlight_terms();
        let mut marked = vec![false; self.toks.len()];
        let by_pos: HashMap<u32, usize> = self
            .toks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.position as u32, i))
            .collect();
        for ph in &phrases {
            for start in self.phrase_starts(ph) {
                for k in 0..ph.len() as u32 {
                    if let Some(&i) = by_pos.get(&(start + k)) {
                        marked[i] = true;
                    }
                }
            }
        }
        for (i, t) in self.toks.iter().enumerate() {
            if prefixes.iter().any(|p| t.text.starts_with(p.as_str())) {
                marked[i] = true;
            }
        }
        // Merge overlapping (CJK bigrams) and adjacent marked tokens.
        let mut out: Vec<(usize, usize)> = Vec::new();
        for (i, t) in self.toks.iter().enumerate() {
            if !marked[i] {
                continue;
            }
            match out.last_mut() {
                Some(last) if t.start <= last.1 => last.1 = last.1.max(t.end),
                _ => out.push((t.start, t.end)),
            }
        }
        out
    }
}

/// Whether an occurrence of the left side (starts `l`, `ll` tokens long) and of the right
/// side lie at most `distance` words apart, the left first when `ordered`.
pub fn near(l: &[u32], ll: u32, r: &[u32], rl: u32, distance: u32, ordered: bool) -> bool {
    for &a in l {
        for &b in r {
            if b >= a + ll && b - (a + ll) <= distance {
                return true;
            }
            if !ordered && a >= b + rl && a - (b + rl) <= distance {
                return true;
            }
        }
    }
    false
}

pub fn matches(q: &Query, doc: &IndexDoc) -> bool {
    Prepared::new(doc).matches(q)
}

#[cfg(test)]
mod tests {
    use super::near;

    #[test]
    fn near_counts_words_between_and_respects_order() {
        // "a x x b": two words between.
        assert!(near(&[0], 1, &[3], 1, 2, true));
        assert!(!near(&[0], 1, &[3], 1, 1, true));
        // Reversed order only without f.
        assert!(near(&[3], 1, &[0], 1, 2, false));
        assert!(!near(&[3], 1, &[0], 1, 2, true));
        // Phrase sides: "a b x c": one word between the phrase end and c.
        assert!(near(&[0], 2, &[3], 1, 1, true));
        // Overlapping occurrences never count.
        assert!(!near(&[0], 2, &[1], 1, 5, false));
    }
}
