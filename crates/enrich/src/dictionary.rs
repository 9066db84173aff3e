//! Workspace dictionaries: named entities (products, competitors, people) to tag in posts.

use crate::matcher::{lower, PhraseSet};

/// Tags each text with the dictionary entries whose names occur in it. Matching is
/// case-insensitive, on word boundaries for Latin script and by substring for CJK/Hangul.
#[derive(Debug, Clone)]
pub struct Dictionary {
    set: PhraseSet,
    /// Tag index per phrase index.
    phrase_tags: Vec<Vec<usize>>,
    tags: Vec<String>,
}

impl Dictionary {
    pub fn new(entries: &[(String, Vec<String>)]) -> Self {
        // Names are literal: a "*" in a product name must not turn into a wildcard.
        let names: Vec<(usize, String)> = entries
            .iter()
            .enumerate()
            .flat_map(|(t, (_, names))| {
                names
                    .iter()
                    .map(move |n| (t, n.replace('*', " ").trim().to_string()))
            })
            .collect();
        let (set, ids) = PhraseSet::new(names.iter().map(|(_, n)| n.as_str()));
        let mut phrase_tags = vec![Vec::new(); set.len()];
        for ((t, _), id) in names.iter().zip(ids) {
            if let Some(id) = id {
                if !phrase_tags[id].contains(t) {
                    phrase_tags[id].push(*t);
                }
            }
        }
        Dictionary {
            set,
            phrase_tags,
            tags: entries.iter().map(|(t, _)| t.clone()).collect(),
        }
    }

    /// Distinct tags in the order the dictionary lists them.
    pub fn tags(&self, text: &str) -> Vec<String> {
        let lowered = lower(text);
        let mut hit = vec![false; self.tags.len()];
        self.set.for_each_match(&lowered, |id, _| {
            for &t in &self.phrase_tags[id] {
                hit[t] = true;
            }
        });
        let mut out: Vec<String> = Vec::new();
        for (t, h) in hit.iter().enumerate() {
            if *h && !out.contains(&self.tags[t]) {
                out.push(self.tags[t].clone());
            }
        }
        out
    }
}
