//! Keyword/pattern intent rules, loaded from `data/intents.tsv` plus per-workspace additions.

use crate::matcher::PhraseSet;
use crate::{Intent, Sentiment, SentimentLabel};

static DEFAULT_RULES: &str = include_str!("../data/intents.tsv");

/// A rule fires when all its parts occur in order (most rules have one part).
#[derive(Debug, Clone)]
struct Rule {
    intent: Intent,
    parts: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct IntentRules {
    set: PhraseSet,
    rules: Vec<Rule>,
    /// The raw (intent, keyword) list, kept so workspace keywords can be added by rebuilding.
    source: Vec<(Intent, String)>,
}

impl IntentRules {
    pub fn defaults() -> Self {
        let source = DEFAULT_RULES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut p = l.split('\t');
                let intent: Intent = p.next()?.parse().ok()?;
                let _lang = p.next()?;
                Some((intent, p.next()?.to_string()))
            })
            .collect();
        Self::build(source)
    }

    pub fn with_extra(&self, extra: &[(Intent, Vec<String>)]) -> Self {
        let mut source = self.source.clone();
        for (intent, kws) in extra {
            source.extend(kws.iter().map(|k| (*intent, k.clone())));
        }
        Self::build(source)
    }

    fn build(source: Vec<(Intent, String)>) -> Self {
        let split: Vec<(Intent, Vec<&str>)> = source
            .iter()
            .map(|(i, k)| (*i, k.split("..").filter(|p| !p.trim().is_empty()).collect()))
            .collect();
        let (set, ids) = PhraseSet::new(split.iter().flat_map(|(_, parts)| parts.iter().copied()));
        let mut ids = ids.into_iter();
        let mut rules = Vec::with_capacity(split.len());
        for (intent, parts) in &split {
            let part_ids: Vec<usize> = parts.iter().filter_map(|_| ids.next().flatten()).collect();
            if !part_ids.is_empty() && part_ids.len() == parts.len() {
                rules.push(Rule {
                    intent: *intent,
                    parts: part_ids,
                });
            }
        }
        IntentRules { set, rules, source }
    }

    /// Keyword intents, then the sentiment- and punctuation-based rules.
    pub fn classify(
        &self,
        lowered: &str,
        has_question_mark: bool,
        sentiment: &Sentiment,
        negative_evidence: bool,
    ) -> Vec<Intent> {
        // First and last start offset of every phrase; ordered multi-part rules compare them.
        let mut first = vec![usize::MAX; self.phrase_count()];
        let mut last = vec![0usize; self.phrase_count()];
        let mut any = false;
        self.set.for_each_match(lowered, |id, start| {
            first[id] = first[id].min(start);
            last[id] = last[id].max(start);
            any = true;
        });
        let mut hit = [false; Intent::ALL.len()];
        if any {
            for r in &self.rules {
                if r.parts.iter().any(|&p| first[p] == usize::MAX) {
                    continue;
                }
                let ordered = r.parts.windows(2).all(|w| first[w[0]] < last[w[1]]);
                if ordered {
                    hit[r.intent as usize] = true;
                }
            }
        }
        let negative = sentiment.label == SentimentLabel::Negative;
        if has_question_mark {
            hit[Intent::Question as usize] = true;
        }
        // A bug report written in anger is also a complaint; a strongly negative post is one
        // even without a complaint keyword, provided a negative word or emoji backs the score
        // (the model alone leans negative on some neutral questions).
        let strongly_negative = sentiment.score <= -0.6 && negative_evidence;
        if negative && (hit[Intent::BugReport as usize] || strongly_negative) {
            hit[Intent::Complaint as usize] = true;
        }
        // Thanks in a clearly negative post ("thanks for nothing") is not praise.
        if hit[Intent::Praise as usize] && sentiment.score <= -0.3 {
            hit[Intent::Praise as usize] = false;
        }
        if sentiment.score >= 0.7
            && !hit[Intent::Question as usize]
            && !hit[Intent::FeatureRequest as usize]
            && !hit[Intent::Complaint as usize]
        {
            hit[Intent::Praise as usize] = true;
        }
        Intent::ALL
            .iter()
            .copied()
            .filter(|i| hit[*i as usize])
            .collect()
    }

    fn phrase_count(&self) -> usize {
        self.set.len()
    }
}
