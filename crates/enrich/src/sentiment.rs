//! Sentiment: a lexicon baseline, a rule scorer (negation, intensifiers, contrast, emoji) and a
//! hashed-feature logistic-regression model that uses the rule score as one of its inputs.

use crate::text::{Norm, Script, TokKind};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::collections::HashMap;

static LEX_EN: &str = include_str!("../data/lexicon/en.tsv");
static LEX_DE: &str = include_str!("../data/lexicon/de.tsv");
static LEX_DE_EXTRA: &str = include_str!("../data/lexicon/de_extra.tsv");
static LEX_KO: &str = include_str!("../data/lexicon/ko.tsv");
static LEX_ZH: &str = include_str!("../data/lexicon/zh.tsv");
static LEX_EMOJI: &str = include_str!("../data/lexicon/emoji.tsv");
static MODEL: &[u8] = include_bytes!("../data/model/sentiment.bin");

/// VADER's dampening of a negated word.
const NEGATION_SCALAR: f32 = -0.74;
/// VADER's boost for a preceding intensifier.
const INTENSIFIER_SCALAR: f32 = 1.293;
/// VADER's normalisation constant for turning a sum into -1..1.
const NORM_ALPHA: f32 = 15.0;

const NEGATORS_EN: &[&str] = &[
    "not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "hardly",
    "barely", "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent",
    "wont", "wouldnt", "shouldnt", "couldnt", "aint", "nope", "nowhere",
];
const NEGATORS_DE: &[&str] = &[
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "ohne",
    "kaum", "nichts", "weder",
];
const INTENSIFIERS_EN: &[&str] = &[
    "very",
    "really",
    "so",
    "extremely",
    "super",
    "too",
    "totally",
    "absolutely",
    "incredibly",
    "completely",
    "truly",
    "highly",
    "most",
    "such",
    "utterly",
    "quite",
    "especially",
    "insanely",
    "hella",
    "sooo",
    "soo",
];
const INTENSIFIERS_DE: &[&str] = &[
    "sehr",
    "total",
    "extrem",
    "echt",
    "wirklich",
    "so",
    "zu",
    "richtig",
    "absolut",
    "völlig",
    "ganz",
    "super",
    "mega",
    "besonders",
    "unglaublich",
    "äußerst",
    "voll",
    "ziemlich",
    "viel",
    "komplett",
];
const INTENSIFIERS_KO: &[&str] = &[
    "너무",
    "정말",
    "진짜",
    "완전",
    "엄청",
    "매우",
    "아주",
    "넘",
    "되게",
    "많이",
    "참",
    "무척",
    "정말로",
    "진심",
    "개",
    "겁나",
    "제일",
    "가장",
];
const NEGATOR_PREFIX_KO: &[&str] = &["안", "못"];
const NEGATOR_NEXT_KO: &[&str] = &["않", "못", "안"];
const NEGATOR_CHARS_ZH: &[char] = &['不', '没', '沒', '无', '無', '别', '未', '非', '莫'];
const INTENSIFIERS_ZH: &[&str] = &[
    "非常", "特别", "十分", "超级", "太", "很", "超", "真", "挺", "极", "最", "好", "巨", "蛮",
    "相当", "更",
];
const CONTRAST: &[&str] = &["but", "aber", "however", "jedoch", "allerdings", "doch"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexLang {
    En,
    De,
    /// Korean, Chinese, Japanese: substring matching inside CJK/Hangul runs.
    Cjk,
}

pub(crate) fn lex_lang(lang: Option<&str>) -> LexLang {
    match lang {
        Some("de") => LexLang::De,
        Some("ko") | Some("zh") | Some("ja") => LexLang::Cjk,
        _ => LexLang::En,
    }
}

fn parse_tsv(src: &str) -> impl Iterator<Item = (&str, f32)> {
    src.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let mut p = l.split('\t');
        let w = p.next()?;
        let s = p.next()?.trim().parse::<f32>().ok()?;
        (!w.is_empty()).then_some((w, s))
    })
}

/// Sum of lexicon hits, before and after the rules.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LexScore {
    pub pos: f32,
    pub neg: f32,
    pub hits: u32,
}

impl LexScore {
    pub fn compound(&self) -> f32 {
        let s = self.pos + self.neg;
        s / (s * s + NORM_ALPHA).sqrt()
    }
    fn add(&mut self, v: f32) {
        if v > 0.0 {
            self.pos += v;
        } else {
            self.neg += v;
        }
        self.hits += 1;
    }
}

pub(crate) struct Lexicons {
    en: HashMap<&'static str, f32>,
    de: HashMap<&'static str, f32>,
    emoji: HashMap<&'static str, f32>,
    cjk: AhoCorasick,
    cjk_scores: Vec<f32>,
}

impl Lexicons {
    pub fn new() -> Self {
        let en: HashMap<_, _> = parse_tsv(LEX_EN).collect();
        let mut de: HashMap<_, _> = parse_tsv(LEX_DE).collect();
        de.extend(parse_tsv(LEX_DE_EXTRA));
        // A zero in the project-made additions removes a word the source lexicon mis-scores.
        de.retain(|_, v| *v != 0.0);
        let emoji = parse_tsv(LEX_EMOJI).collect();
        let (pats, cjk_scores): (Vec<&str>, Vec<f32>) =
            parse_tsv(LEX_KO).chain(parse_tsv(LEX_ZH)).unzip();
        let cjk = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&pats)
            .expect("embedded CJK lexicon is a valid pattern set");
        Lexicons {
            en,
            de,
            emoji,
            cjk,
            cjk_scores,
        }
    }

    fn word(&self, lang: LexLang, w: &str) -> Option<f32> {
        match lang {
            LexLang::De => self.de.get(w).copied(),
            // English words inside Korean/Chinese posts ("good", "lol") still count.
            LexLang::En | LexLang::Cjk => self.en.get(w).copied(),
        }
    }

    /// The lexicon-only baseline: every hit counts at face value, no rules.
    pub fn baseline(&self, n: &Norm, lang: LexLang) -> LexScore {
        let mut s = LexScore::default();
        for (i, t) in n.toks.iter().enumerate() {
            let w = n.tok(i);
            match t.kind {
                TokKind::Symbol => {
                    if let Some(&v) = self.emoji.get(w) {
                        s.add(v)
                    }
                }
                TokKind::Word(Script::Hangul | Script::Han | Script::Kana) => {
                    for m in self.cjk.find_iter(w) {
                        s.add(self.cjk_scores[m.pattern().as_usize()]);
                    }
                }
                TokKind::Word(_) => {
                    if let Some(v) = self.word(lang, w) {
                        s.add(v)
                    }
                }
            }
        }
        s
    }

    /// Lexicon plus rules: negation scope, intensifiers, contrastive conjunctions, exclamation.
    pub fn rules(&self, n: &Norm, lang: LexLang) -> LexScore {
        let mut vals: Vec<f32> = Vec::with_capacity(8);
        let mut contrast_at: Option<usize> = None;
        let mut val_tok: Vec<usize> = Vec::with_capacity(8);
        for (i, t) in n.toks.iter().enumerate() {
            let w = n.tok(i);
            match t.kind {
                TokKind::Symbol => {
                    if let Some(&v) = self.emoji.get(w) {
                        vals.push(v);
                        val_tok.push(i);
                    }
                }
                TokKind::Word(Script::Hangul) => {
                    for m in self.cjk.find_iter(w) {
                        let mut v = self.cjk_scores[m.pattern().as_usize()];
                        if self.korean_negated(n, i, w, m.start(), m.end()) {
                            v *= NEGATION_SCALAR;
                        }
                        if i > 0 && INTENSIFIERS_KO.contains(&n.tok(i - 1)) {
                            v *= INTENSIFIER_SCALAR;
                        }
                        vals.push(v);
                        val_tok.push(i);
                    }
                }
                TokKind::Word(Script::Han | Script::Kana) => {
                    let mut last_end = 0;
                    for m in self.cjk.find_iter(w) {
                        let mut v = self.cjk_scores[m.pattern().as_usize()];
                        let before = &w[last_end..m.start()];
                        // Only the two characters right before the hit may negate or intensify it.
                        let near: Vec<char> = before.chars().rev().take(2).collect();
                        if near.iter().any(|c| NEGATOR_CHARS_ZH.contains(c)) {
                            v *= NEGATION_SCALAR;
                        }
                        let near_str: String = near.iter().rev().collect();
                        if INTENSIFIERS_ZH.iter().any(|x| near_str.ends_with(x)) {
                            v *= INTENSIFIER_SCALAR;
                        }
                        last_end = m.end();
                        vals.push(v);
                        val_tok.push(i);
                    }
                }
                TokKind::Word(_) => {
                    if CONTRAST.contains(&w) {
                        contrast_at = Some(i);
                        continue;
                    }
                    let Some(mut v) = self.word(lang, w) else {
                        continue;
                    };
                    if self.latin_negated(n, i, lang) {
                        v *= NEGATION_SCALAR;
                    }
                    if i > 0 && self.is_intensifier(lang, n.tok(i - 1)) {
                        v *= INTENSIFIER_SCALAR;
                    }
                    vals.push(v);
                    val_tok.push(i);
                }
            }
        }
        let mut s = LexScore::default();
        for (v, ti) in vals.iter().zip(&val_tok) {
            // VADER: after "but" the clause dominates.
            let w = match contrast_at {
                Some(c) if *ti < c => 0.5,
                Some(_) => 1.5,
                None => 1.0,
            };
            s.add(v * w);
        }
        let sum = s.pos + s.neg;
        if sum != 0.0 {
            let boost = n.exclamations.min(4) as f32 * 0.292;
            if sum > 0.0 {
                s.pos += boost;
            } else {
                s.neg -= boost;
            }
        }
        s
    }

    fn is_intensifier(&self, lang: LexLang, w: &str) -> bool {
        match lang {
            LexLang::De => INTENSIFIERS_DE.contains(&w),
            _ => INTENSIFIERS_EN.contains(&w),
        }
    }

    fn latin_negated(&self, n: &Norm, i: usize, lang: LexLang) -> bool {
        let is_neg = |w: &str| match lang {
            LexLang::De => NEGATORS_DE.contains(&w),
            _ => {
                NEGATORS_EN.contains(&w)
                    || w.ends_with("n't")
                    || w.ends_with("n’t")
                    || (w.len() > 3 && NEGATORS_EN.contains(&w.replace(['\'', '’'], "").as_str()))
            }
        };
        let lo = i.saturating_sub(3);
        if (lo..i)
            .any(|j| matches!(n.toks[j].kind, TokKind::Word(Script::Latin)) && is_neg(n.tok(j)))
        {
            return true;
        }
        // German puts "nicht" after the finite verb: "gefällt mir nicht", "funktioniert nicht".
        lang == LexLang::De
            && (i + 1..(i + 3).min(n.toks.len()))
                .any(|j| matches!(n.tok(j), "nicht" | "nie" | "kaum"))
    }

    fn korean_negated(&self, n: &Norm, i: usize, w: &str, start: usize, end: usize) -> bool {
        // "안 좋아요", "못 쓰겠어요"
        if start == 0 && i > 0 && NEGATOR_PREFIX_KO.contains(&n.tok(i - 1)) {
            return true;
        }
        // "안좋아요" written together.
        if NEGATOR_PREFIX_KO.iter().any(|p| w[..start].ends_with(p)) {
            return true;
        }
        // "좋지 않아요", "좋지않아요", "좋진 않네요"
        let after = &w[end..];
        if after.contains('않') {
            return true;
        }
        if (after.ends_with('지') || after.ends_with('진') || after.ends_with("지는"))
            && i + 1 < n.toks.len()
        {
            let next = n.tok(i + 1);
            return NEGATOR_NEXT_KO.iter().any(|p| next.starts_with(p));
        }
        false
    }
}

/// Label thresholds on the compound score, as in VADER.
pub(crate) fn label_of_compound(c: f32) -> crate::SentimentLabel {
    if c >= 0.05 {
        crate::SentimentLabel::Positive
    } else if c <= -0.05 {
        crate::SentimentLabel::Negative
    } else {
        crate::SentimentLabel::Neutral
    }
}

// ---------------------------------------------------------------------------------------------
// Hashed features and the model

pub(crate) const CLASSES: usize = 3; // negative, neutral, positive

/// FNV-1a: tiny, dependency-free and stable across platforms, which the stored weights need.
#[derive(Clone, Copy)]
struct Fnv(u64);
impl Fnv {
    fn new(ns: u8) -> Self {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.byte(ns);
        h
    }
    #[inline]
    fn byte(&mut self, b: u8) {
        self.0 ^= b as u64;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
    #[inline]
    fn bytes(&mut self, bs: &[u8]) {
        for &b in bs {
            self.byte(b);
        }
    }
    fn finish(self, mask: u32) -> u32 {
        // Fold the high bits in: FNV's low bits alone mix poorly for short keys.
        ((self.0 ^ (self.0 >> 29) ^ (self.0 >> 47)) as u32) & mask
    }
}

/// One sparse feature: bucket index and value.
pub(crate) type Feat = (u32, f32);

/// Extracts the model's features. Shared by inference and `training::` so both hash identically.
/// Returns where the dense rule-score features start in `out` (training treats them apart).
pub(crate) fn features(
    n: &Norm,
    lang: Option<&str>,
    rules: &LexScore,
    bits: u32,
    out: &mut Vec<Feat>,
) -> usize {
    let mask = (1u32 << bits) - 1;
    out.clear();
    let mut char_starts: Vec<usize> = Vec::with_capacity(32);
    let mut prev_word: Option<&str> = None;
    for (i, t) in n.toks.iter().enumerate() {
        let w = n.tok(i);
        match t.kind {
            TokKind::Symbol => {
                let mut h = Fnv::new(1);
                h.bytes(w.as_bytes());
                out.push((h.finish(mask), 1.0));
                prev_word = None;
            }
            TokKind::Word(script) => {
                char_starts.clear();
                char_starts.extend(w.char_indices().map(|(p, _)| p));
                char_starts.push(w.len());
                let nchars = char_starts.len() - 1;
                let (lo, hi, padded) = match script {
                    Script::Han | Script::Kana => (1, 3, false),
                    Script::Hangul => (1, 3, true),
                    _ => (3, 5, true),
                };
                // Padded n-grams see word boundaries: index -1 and nchars stand for the pad.
                let first: isize = if padded { -1 } else { 0 };
                let last: isize = if padded {
                    nchars as isize
                } else {
                    nchars as isize - 1
                };
                for a in first..=last {
                    for len in lo..=hi {
                        let b = a + len as isize - 1;
                        if b > last {
                            break;
                        }
                        if len == 1 && (a < 0 || a >= nchars as isize) {
                            continue;
                        }
                        let mut h = Fnv::new(2);
                        let s = a.max(0) as usize;
                        let e = (b.min(nchars as isize - 1) + 1).max(0) as usize;
                        if a < 0 {
                            h.byte(b' ');
                        }
                        if s < e {
                            h.bytes(&w.as_bytes()[char_starts[s]..char_starts[e]]);
                        }
                        if b >= nchars as isize {
                            h.byte(b' ');
                        }
                        out.push((h.finish(mask), 1.0));
                    }
                }
                let mut h = Fnv::new(3);
                h.bytes(w.as_bytes());
                out.push((h.finish(mask), 1.0));
                if let Some(p) = prev_word {
                    let mut h = Fnv::new(4);
                    h.bytes(p.as_bytes());
                    h.byte(b' ');
                    h.bytes(w.as_bytes());
                    out.push((h.finish(mask), 1.0));
                }
                prev_word = Some(w);
            }
        }
    }
    let dense_start = out.len();
    let lang_tag = lang.unwrap_or("xx").as_bytes();
    let dense = |ns: u8, v: f32, tag: &[u8]| -> Feat {
        let mut h = Fnv::new(ns);
        h.bytes(tag);
        (h.finish(mask), v)
    };
    // Rule scores enter once globally and once per language, so languages with little training
    // data fall back on the shared weight.
    let c = rules.compound();
    let p = rules.pos / (rules.pos + 2.0);
    let q = -rules.neg / (-rules.neg + 2.0);
    for (ns, v) in [(10u8, c), (11, p), (12, q)] {
        out.push(dense(ns, v, lang_tag));
        out.push(dense(ns, v, b"*"));
    }
    out.push(dense(13, 1.0, lang_tag));
    // The rule scorer's own verdict (VADER thresholds) as a one-hot: lets the model reproduce
    // the rules exactly where they are right, which a linear map of the score alone cannot.
    let verdict: u8 = match label_of_compound(c) {
        crate::SentimentLabel::Negative => 0,
        crate::SentimentLabel::Neutral => 1,
        crate::SentimentLabel::Positive => 2,
    };
    out.push(dense(16 + verdict, 1.0, lang_tag));
    out.push(dense(16 + verdict, 1.0, b"*"));
    if n.exclamations > 0 {
        out.push(dense(14, 1.0, lang_tag));
    }
    if n.questions > 0 {
        out.push(dense(15, 1.0, lang_tag));
    }
    dense_start
}

/// Quantised multinomial logistic regression over hashed features.
///
/// The logits are `dense + alpha[lang] * sparse`: the dense rule-score part is a calibration of
/// the rule scorer, the sparse n-gram part a residual learnt on top of it. `alpha` is chosen per
/// language on a dev split, so a language whose n-grams do not help on unseen data (little
/// training data) stays close to its calibrated rules.
pub(crate) struct Model {
    pub bits: u32,
    scale: f32,
    bias: [f32; CLASSES],
    alphas: Vec<([u8; 2], f32)>,
    weights: Vec<i8>,
}

pub(crate) const MAGIC: &[u8; 8] = b"SBSENT02";
/// Shrinkage for languages without a tuned value (their n-grams were barely trained).
const DEFAULT_ALPHA: f32 = 0.5;

impl Model {
    pub fn embedded() -> Option<Model> {
        Model::parse(MODEL)
    }

    /// Layout (little endian): magic, u32 bits, f32 scale, 3 x f32 bias, u32 n, n x (2-byte
    /// language code, f32 alpha), then 2^bits x 3 i8 weights.
    pub fn parse(b: &[u8]) -> Option<Model> {
        if b.len() < 32 || &b[..8] != MAGIC {
            return None;
        }
        let u32_at = |o: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
        };
        let f32_at = |o: usize| u32_at(o).map(f32::from_bits);
        let bits = u32_at(8)?;
        if !(8..=24).contains(&bits) {
            return None;
        }
        let scale = f32_at(12)?;
        let bias = [f32_at(16)?, f32_at(20)?, f32_at(24)?];
        let na = u32_at(28)? as usize;
        let mut o = 32;
        let mut alphas = Vec::with_capacity(na);
        for _ in 0..na {
            let code = [*b.get(o)?, *b.get(o + 1)?];
            alphas.push((code, f32_at(o + 2)?));
            o += 6;
        }
        let n = (1usize << bits) * CLASSES;
        let body = b.get(o..o + n)?;
        Some(Model {
            bits,
            scale,
            bias,
            alphas,
            weights: body.iter().map(|&x| x as i8).collect(),
        })
    }

    pub fn encode(
        bits: u32,
        bias: [f32; CLASSES],
        alphas: &[([u8; 2], f32)],
        weights: &[f32],
    ) -> Vec<u8> {
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-6);
        let scale = max / 127.0;
        let mut out = Vec::with_capacity(40 + weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        for b in bias {
            out.extend_from_slice(&b.to_le_bytes());
        }
        out.extend_from_slice(&(alphas.len() as u32).to_le_bytes());
        for (code, a) in alphas {
            out.extend_from_slice(code);
            out.extend_from_slice(&a.to_le_bytes());
        }
        out.extend(
            weights
                .iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8 as u8),
        );
        out
    }

    pub fn alpha(&self, lang: Option<&str>) -> f32 {
        let Some(l) = lang.map(str::as_bytes).filter(|l| l.len() == 2) else {
            return DEFAULT_ALPHA;
        };
        self.alphas
            .iter()
            .find(|(c, _)| c[..] == l[..])
            .map_or(DEFAULT_ALPHA, |(_, a)| *a)
    }

    /// Dense and sparse logit parts, without bias.
    pub fn parts(&self, feats: &[Feat], dense_start: usize) -> ([f32; CLASSES], [f32; CLASSES]) {
        let sum = |fs: &[Feat]| {
            let mut z = [0f32; CLASSES];
            for &(idx, v) in fs {
                let o = idx as usize * CLASSES;
                if let Some(w) = self.weights.get(o..o + CLASSES) {
                    for c in 0..CLASSES {
                        z[c] += w[c] as f32 * v;
                    }
                }
            }
            z.map(|x| x * self.scale)
        };
        let split = dense_start.min(feats.len());
        (sum(&feats[split..]), sum(&feats[..split]))
    }

    /// Class probabilities (negative, neutral, positive) with a given n-gram shrinkage.
    pub fn predict_with_alpha(
        &self,
        feats: &[Feat],
        dense_start: usize,
        alpha: f32,
    ) -> [f32; CLASSES] {
        let (d, s) = self.parts(feats, dense_start);
        let mut z = [0f32; CLASSES];
        for c in 0..CLASSES {
            z[c] = self.bias[c] + d[c] + alpha * s[c];
        }
        softmax(z)
    }

    pub fn predict(
        &self,
        feats: &[Feat],
        dense_start: usize,
        lang: Option<&str>,
    ) -> [f32; CLASSES] {
        self.predict_with_alpha(feats, dense_start, self.alpha(lang))
    }
}

pub(crate) fn softmax(z: [f32; CLASSES]) -> [f32; CLASSES] {
    let m = z.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e = z.map(|x| (x - m).exp());
    let s: f32 = e.iter().sum();
    e.map(|x| x / s)
}
