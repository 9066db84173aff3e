//! Language identification tuned for short posts.
//!
//! East Asian scripts decide on their own (Hangul means Korean, any Kana means Japanese, Han
//! without Kana means Chinese). Latin and other scripts go to `whatlang`, whose trigram model is
//! unreliable on a handful of words, so short texts first consult a small function-word vote and
//! then the caller's declared language.

use crate::text::{script_of, Norm, Script, TokKind};
use std::collections::HashMap;
use whatlang::{Detector, Lang};

/// Languages `whatlang` may answer with; restricting it avoids exotic guesses on tweets and
/// makes it faster.
const ALLOWED: &[(Lang, &str)] = &[
    (Lang::Eng, "en"),
    (Lang::Deu, "de"),
    (Lang::Fra, "fr"),
    (Lang::Spa, "es"),
    (Lang::Ita, "it"),
    (Lang::Por, "pt"),
    (Lang::Nld, "nl"),
    (Lang::Pol, "pl"),
    (Lang::Swe, "sv"),
    (Lang::Dan, "da"),
    (Lang::Fin, "fi"),
    (Lang::Tur, "tr"),
    (Lang::Ind, "id"),
    (Lang::Ces, "cs"),
    (Lang::Ron, "ro"),
    (Lang::Hun, "hu"),
    (Lang::Vie, "vi"),
    (Lang::Rus, "ru"),
    (Lang::Ukr, "uk"),
    (Lang::Ell, "el"),
    (Lang::Ara, "ar"),
    (Lang::Heb, "he"),
    (Lang::Hin, "hi"),
    (Lang::Tha, "th"),
];

/// Frequent function words that are distinctive enough to vote on very short texts.
const STOPWORDS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "the", "is", "are", "you", "and", "to", "of", "it", "this", "that", "for", "with",
            "my", "i", "have", "not", "can", "what", "where", "would", "was", "your", "we", "be",
            "do", "does", "there", "how", "why", "just", "so", "thanks", "please", "love", "great",
            "any", "in", "on", "at", "from", "get", "will", "an", "me", "our", "ever", "all",
            "out", "up", "today", "day", "new", "now", "again", "time", "very", "yes", "lol",
            "omg", "good", "bad", "best", "worst", "who", "when", "about", "they", "he", "she",
            "if", "or", "by", "been",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "und", "ist", "nicht", "ich", "ein", "eine", "mit", "für", "auf",
            "sehr", "geht", "seit", "dem", "den", "wir", "sie", "es", "auch", "noch", "aber",
            "wie", "wo", "bitte", "gibt", "kann", "schon", "wieder", "mir", "mein", "meine", "ihr",
            "euch", "danke", "kein", "keine", "habe", "hat", "sind", "zu", "im", "nach", "bei",
            "wird", "war", "warum", "immer", "jetzt", "heute", "gut",
        ],
    ),
    (
        "fr",
        &[
            "le", "les", "et", "est", "je", "pas", "une", "des", "du", "pour", "avec", "c'est",
            "très", "qui", "merci", "ne", "vous", "nous", "mais", "sur", "dans", "au", "aux", "il",
            "elle", "j'ai", "mon", "ma", "ce", "cette", "tout", "bien", "où", "quand", "comment",
            "pourquoi", "n'est", "votre", "vos",
        ],
    ),
    (
        "es",
        &[
            "el", "los", "las", "y", "es", "muy", "una", "por", "para", "con", "gracias", "pero",
            "está", "mi", "lo", "del", "al", "yo", "se", "su", "como", "cuando", "dónde", "donde",
            "qué", "porque", "también", "hay", "son", "estoy", "tengo", "nada", "bueno", "hola",
            "ya", "más", "todos", "todo", "buenos", "buenas", "días", "estamos", "muchas", "nuevo",
            "nueva", "puedo", "quiero", "ahora", "hoy", "sin", "sale",
        ],
    ),
];

pub(crate) struct LangDetector {
    detector: Detector,
    /// Function word -> bit set of the `STOPWORDS` languages it belongs to.
    stopwords: HashMap<&'static str, u8>,
}

/// Letters below which a Latin-script text is considered too short for the trigram model alone.
const SHORT_TEXT_LETTERS: usize = 40;
/// Letters below which an unreliable guess without any other evidence is not returned at all.
const TOO_SHORT_LETTERS: usize = 8;

impl LangDetector {
    pub fn new() -> Self {
        let mut stopwords: HashMap<&'static str, u8> = HashMap::new();
        for (k, (_, words)) in STOPWORDS.iter().enumerate() {
            for w in *words {
                *stopwords.entry(w).or_default() |= 1 << k;
            }
        }
        LangDetector {
            detector: Detector::with_allowlist(ALLOWED.iter().map(|(l, _)| *l).collect()),
            stopwords,
        }
    }

    pub fn detect(&self, norm: &Norm, declared: Option<&str>) -> Option<String> {
        let declared = declared.and_then(normalize_declared);
        let (mut latin, mut hangul, mut kana, mut han, mut other) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        for c in norm.text.chars() {
            match script_of(c) {
                Some(Script::Latin) if c.is_alphabetic() => latin += 1,
                Some(Script::Hangul) => hangul += 1,
                Some(Script::Kana) => kana += 1,
                Some(Script::Han) => han += 1,
                Some(Script::Other) if c.is_alphabetic() => other += 1,
                _ => {}
            }
        }
        let east = hangul + kana + han;
        if latin + east + other == 0 {
            return None;
        }
        // A couple of CJK characters outweigh Latin brand names and hashtags around them.
        if east > 0 && (east >= 2 || east * 3 >= latin) {
            if hangul > 0 && hangul >= kana {
                return Some("ko".into());
            }
            if kana > 0 {
                return Some("ja".into());
            }
            // Kanji-only Japanese is indistinguishable from Chinese without a model; trust the
            // declaration in that case.
            if declared.as_deref() == Some("ja") {
                return Some("ja".into());
            }
            return Some("zh".into());
        }
        let declared_latin = declared.filter(|d| !matches!(d.as_str(), "ko" | "ja" | "zh"));
        let (vote, vote_hits, runner_up) = self.stopword_vote(norm);
        let short = latin + other < SHORT_TEXT_LETTERS;
        if other == 0 && vote_hits >= 2 && vote_hits >= 2 * runner_up.max(1) {
            return Some(vote.to_string());
        }
        if short {
            if let Some(d) = declared_latin {
                return Some(d);
            }
        }
        let guess = self
            .detector
            .detect(trigram_sample(&norm.text))
            .and_then(|info| {
                let code = ALLOWED
                    .iter()
                    .find(|(l, _)| *l == info.lang())
                    .map(|(_, c)| *c)?;
                Some((code, info.is_reliable()))
            });
        if let Some((code, true)) = guess {
            return Some(code.to_string());
        }
        let guess = guess.map(|(c, _)| c.to_string());
        if short {
            if vote_hits > 0 {
                return Some(vote.to_string());
            }
            // "ok", "Ja", "lol": a few letters with no reliable signal are undecidable; a guess
            // would be noise.
            if latin + other < TOO_SHORT_LETTERS {
                return None;
            }
            return guess;
        }
        declared_latin
            .or(guess)
            .or_else(|| (vote_hits > 0).then(|| vote.to_string()))
    }

    /// Returns the best language by function-word hits, its hit count and the runner-up's count.
    fn stopword_vote(&self, norm: &Norm) -> (&'static str, usize, usize) {
        let mut hits = [0usize; STOPWORDS.len()];
        for (i, t) in norm.toks.iter().enumerate() {
            if t.kind != TokKind::Word(Script::Latin) {
                continue;
            }
            if let Some(&mask) = self.stopwords.get(norm.tok(i)) {
                for (k, h) in hits.iter_mut().enumerate() {
                    *h += ((mask >> k) & 1) as usize;
                }
            }
        }
        let mut best = 0;
        for k in 1..hits.len() {
            if hits[k] > hits[best] {
                best = k;
            }
        }
        let runner_up = hits
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != best)
            .map(|(_, h)| *h)
            .max()
            .unwrap_or(0);
        (STOPWORDS[best].0, hits[best], runner_up)
    }
}

/// The trigram model's verdict settles within a couple of hundred characters; feeding it more
/// only costs time (it dominated `analyze` on long posts).
fn trigram_sample(text: &str) -> &str {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// "en-US", "EN", "de_DE" -> "en"/"de"; anything that is not two ASCII letters is ignored.
fn normalize_declared(d: &str) -> Option<String> {
    let primary = d.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    (primary.len() == 2 && primary.bytes().all(|b| b.is_ascii_lowercase())).then_some(primary)
}
