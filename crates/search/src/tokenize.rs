//! The one tokeniser behind the index, the query parser and the in-memory matcher, so that a
//! query means the same thing wherever it runs.
//!
//! - Latin, Cyrillic, Greek and other space-separated scripts: a word is a run of letters and
//!   digits; it is lower-cased and its accents are folded (`Café` = `cafe`, `Straße` = `strasse`).
//! - Chinese, Japanese and Korean: a run of CJK characters becomes overlapping bigrams
//!   (`质量太差` -> `质量 量太 太差`), so a query of two or more characters matches inside
//!   longer words and sentences without a dictionary. A lone CJK character is one token.
//! - Positions are consecutive across the whole text, which is what phrases and `NEAR` count.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Longer tokens (base64 blobs, URLs without separators) are not indexed.
pub const MAX_TOKEN_BYTES: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tok {
    pub text: String,
    pub position: usize,
    /// Byte offsets in the original text.
    pub start: usize,
    pub end: usize,
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF   // Hangul Jamo
        | 0x2E80..=0x2FDF // CJK radicals
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3130..=0x318F // Hangul compatibility Jamo
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF // CJK Extension A
        | 0x4E00..=0x9FFF // CJK Unified Ideographs
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xD7B0..=0xD7FF
        | 0xF900..=0xFAFF // compatibility ideographs
        | 0xFF66..=0xFF9D // half-width Katakana
        | 0x20000..=0x2FA1F)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Lower-case and fold accents of one word (not CJK).
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
        return out;
    }
    for c in word.chars() {
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            'ı' => out.push('i'),
            _ if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            _ => {
                for d in c.nfkd() {
                    if !is_combining_mark(d) {
                        out.extend(d.to_lowercase());
                    }
                }
            }
        }
    }
    out
}

/// Splits `text` into tokens, calling `emit` for each (no allocation of a token list).
pub fn for_each_token(text: &str, mut emit: impl FnMut(Tok)) {
    let mut position = 0usize;
    let mut iter = text.char_indices().peekable();
    while let Some(&(start, c)) = iter.peek() {
        if is_cjk(c) {
            // Collect the run's char boundaries, then emit bigrams.
            let mut bounds: Vec<(usize, usize)> = Vec::new();
            while let Some(&(i, c)) = iter.peek() {
                if !is_cjk(c) {
                    break;
                }
                bounds.push((i, i + c.len_utf8()));
                iter.next();
            }
            if bounds.len() == 1 {
                let (s, e) = bounds[0];
                emit(Tok {
                    text: text[s..e].to_string(),
                    position,
                    start: s,
                    end: e,
                });
                position += 1;
            } else {
                for w in bounds.windows(2) {
                    let (s, e) = (w[0].0, w[1].1);
                    emit(Tok {
                        text: text[s..e].to_string(),
                        position,
                        start: s,
                        end: e,
                    });
                    position += 1;
                }
            }
        } else if is_word_char(c) {
            let mut end = start;
            while let Some(&(i, c)) = iter.peek() {
                if !is_word_char(c) || is_cjk(c) {
                    break;
                }
                end = i + c.len_utf8();
                iter.next();
            }
            let word = &text[start..end];
            let folded = fold(word);
            if !folded.is_empty() && folded.len() <= MAX_TOKEN_BYTES {
                emit(Tok {
                    text: folded,
                    position,
                    start,
                    end,
                });
                position += 1;
            }
        } else {
            iter.next();
        }
    }
}

pub fn tokens(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    for_each_token(text, |t| out.push(t));
    out
}

/// The token texts of `text`, in order.
pub fn terms(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|t| t.text).collect()
}

fn is_hangul(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7FF)
}

/// Words as a person reads them, for term lists (top terms, what changed in a spike): like
/// [`terms`], except that Korean keeps whole space-separated words (bigrams like `그인` read
/// as noise), and common function words of English and German are left out.
pub fn display_terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in tokens(text) {
        let first = t.text.chars().next().unwrap_or(' ');
        if is_hangul(first) {
            // The whole Hangul run this bigram belongs to, once.
            let run_start = text[..t.start]
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_hangul(*c))
                .last()
                .map(|(i, _)| i)
                .unwrap_or(t.start);
            if run_start == t.start {
                let run: String = text[t.start..]
                    .chars()
                    .take_while(|c| is_hangul(*c))
                    .collect();
                out.push(run);
            }
            continue;
        }
        if STOPWORDS.binary_search(&t.text.as_str()).is_err() {
            out.push(t.text);
        }
    }
    out
}

/// English and German function words (sorted, folded).
const STOPWORDS: &[&str] = &[
    "a", "ab", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "auch", "auf", "aus", "be", "bei", "beim", "bin", "bis", "bitte", "but", "by", "can",
    "da", "das", "dass", "dem", "den", "der", "des", "die", "do", "doch", "du", "ein", "eine",
    "einen", "er", "es", "for", "from", "fur", "geht", "get", "gibt", "had", "has", "hat", "have",
    "he", "her", "his", "how", "i", "ich", "ihr", "im", "in", "is", "ist", "it", "its", "ja",
    "just", "kann", "me", "mein", "meine", "mich", "mir", "mit", "my", "nach", "nicht", "no",
    "noch", "not", "nur", "of", "on", "or", "our", "seit", "sich", "sie", "sind", "so", "some",
    "than", "that", "the", "their", "them", "then", "there", "they", "this", "to", "uber", "um",
    "und", "uns", "up", "us", "von", "vor", "was", "we", "wenn", "were", "what", "when", "wie",
    "will", "wir", "with", "you", "your", "zu", "zum", "zur",
];

/// The folded form of a keyword value (hashtag, handle, language code): one token, no
/// splitting, so `#Café_Paris` and `#cafe_paris` are the same tag.
pub fn keyword(value: &str) -> String {
    let v = value.trim().trim_start_matches(['#', '@']);
    fold(v)
}

/// The tantivy side of the tokeniser, registered on the index as [`TOKENIZER_NAME`].
#[derive(Clone, Default)]
pub struct SbTokenizer {
    buf: Vec<tantivy::tokenizer::Token>,
}

pub const TOKENIZER_NAME: &str = "switchboard";

pub struct SbTokenStream<'a> {
    tokens: &'a mut Vec<tantivy::tokenizer::Token>,
    index: usize,
}

impl tantivy::tokenizer::Tokenizer for SbTokenizer {
    type TokenStream<'a> = SbTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> SbTokenStream<'a> {
        self.buf.clear();
        for_each_token(text, |t| {
            self.buf.push(tantivy::tokenizer::Token {
                offset_from: t.start,
                offset_to: t.end,
                position: t.position,
                text: t.text,
                position_length: 1,
            })
        });
        SbTokenStream {
            tokens: &mut self.buf,
            index: 0,
        }
    }
}

impl tantivy::tokenizer::TokenStream for SbTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.index < self.tokens.len() {
            self.index += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &tantivy::tokenizer::Token {
        &self.tokens[self.index - 1]
    }
    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        &mut self.tokens[self.index - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_words_are_lowercased_and_accent_folded() {
        assert_eq!(
            terms("Café CRÈME, Straße & Über-Größe!"),
            ["cafe", "creme", "strasse", "uber", "grosse"]
        );
    }

    #[test]
    fn cjk_runs_become_bigrams_with_consecutive_positions() {
        let t = tokens("这个质量太差了 ok");
        let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            ["这个", "个质", "质量", "量太", "太差", "差了", "ok"]
        );
        assert_eq!(
            t.iter().map(|t| t.position).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5, 6]
        );
        assert_eq!(&"这个质量太差了 ok"[t[2].start..t[2].end], "质量");
    }

    #[test]
    fn korean_particles_stay_attached_but_bigrams_match_inside() {
        assert_eq!(
            terms("배송이 너무 늦어요"),
            ["배송", "송이", "너무", "늦어", "어요"]
        );
        assert_eq!(terms("배"), ["배"]);
    }

    #[test]
    fn display_terms_keep_korean_words_whole_and_drop_function_words() {
        assert_eq!(
            display_terms("Seit dem Update stürzt die App ab, 로그인 오류가 계속"),
            ["update", "sturzt", "app", "로그인", "오류가", "계속"]
        );
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn mixed_scripts_split_at_the_script_boundary() {
        assert_eq!(terms("iPhone15电池"), ["iphone15", "电池"]);
    }

    #[test]
    fn overlong_tokens_are_skipped_without_shifting_positions_of_others() {
        let long = "a".repeat(100);
        let t = tokens(&format!("x {long} y"));
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].position, t[1].position), (0, 1));
    }
}
