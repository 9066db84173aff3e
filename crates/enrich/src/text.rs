//! Text normalisation and tokenisation shared by every analyser.
//!
//! Everything works on one lowercased copy of the input so lexicon, rule and model lookups never
//! allocate per token; tokens are byte ranges into that copy.

/// Coarse script class of a character. Runs of letters only join within one class, so
/// "AcmePay로" splits into a Latin word and a Hangul particle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Script {
    Latin,
    Hangul,
    Kana,
    Han,
    Other,
}

pub(crate) fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

pub(crate) fn is_kana(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9F}')
}

pub(crate) fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2A6DF}')
}

/// Script of a letter or digit; `None` for everything that is not part of a word.
pub(crate) fn script_of(c: char) -> Option<Script> {
    if c.is_ascii_alphanumeric() {
        return Some(Script::Latin);
    }
    if c.is_ascii() {
        return None;
    }
    if is_hangul(c) {
        Some(Script::Hangul)
    } else if is_kana(c) || c == 'ー' {
        Some(Script::Kana)
    } else if is_han(c) {
        Some(Script::Han)
    } else if c.is_alphanumeric() {
        if (c as u32) <= 0x024F || ('\u{1E00}'..='\u{1EFF}').contains(&c) {
            Some(Script::Latin)
        } else {
            Some(Script::Other)
        }
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// Letters/digits of one script (Latin words may contain an inner apostrophe).
    Word(Script),
    /// A single pictograph or other symbol (emoji, ♥, ★ ...).
    Symbol,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok {
    pub start: usize,
    pub end: usize,
    pub kind: TokKind,
}

/// A lowercased, URL- and mention-free copy of a text, with its tokens.
#[derive(Debug, Default)]
pub(crate) struct Norm {
    pub text: String,
    pub toks: Vec<Tok>,
    pub exclamations: u32,
    pub questions: u32,
}

impl Norm {
    pub fn tok(&self, i: usize) -> &str {
        let t = self.toks[i];
        &self.text[t.start..t.end]
    }
}

fn is_joiner(c: char) -> bool {
    // Variation selectors and ZWJ only change how emoji are drawn; dropping them lets "❤️" and
    // "❤" share one lexicon entry.
    matches!(c, '\u{FE0E}' | '\u{FE0F}' | '\u{200D}' | '\u{20E3}')
        || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

/// Whether the text at `rest` starts a URL; URLs carry no language or sentiment and their
/// letters ("https", "www", "com") would otherwise pull short texts towards English.
fn starts_url(rest: &str) -> bool {
    let b = rest.as_bytes();
    let starts = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    starts(b"http://") || starts(b"https://") || starts(b"www.")
}

pub(crate) fn normalize(input: &str) -> Norm {
    let mut n = Norm {
        text: String::with_capacity(input.len() + 8),
        toks: Vec::with_capacity(input.len() / 4 + 4),
        ..Norm::default()
    };
    let mut i = 0;
    let bytes = input.as_bytes();
    let mut prev_was_word_char = false;
    while i < input.len() {
        let rest = &input[i..];
        // Mentions and URLs are skipped whole, up to the next whitespace.
        if !prev_was_word_char && (bytes[i] == b'@' || starts_url(rest)) {
            let skip = rest.find(char::is_whitespace).unwrap_or(rest.len());
            i += skip;
            n.text.push(' ');
            prev_was_word_char = false;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        i += c.len_utf8();
        if is_joiner(c) {
            continue;
        }
        prev_was_word_char = c.is_alphanumeric();
        if c.is_uppercase() {
            n.text.extend(c.to_lowercase());
        } else {
            n.text.push(c);
        }
    }
    tokenize(&mut n);
    n
}

fn tokenize(n: &mut Norm) {
    let text = n.text.as_str();
    let mut cur: Option<(usize, Script)> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((pos, c)) = iter.next() {
        let sc = script_of(c);
        if let (Some(s), Some((start, cs))) = (sc, cur) {
            if s == cs {
                continue;
            }
            n.toks.push(Tok {
                start,
                end: pos,
                kind: TokKind::Word(cs),
            });
            cur = Some((pos, s));
            continue;
        }
        if let Some((start, cs)) = cur {
            // An apostrophe between Latin letters stays inside the word ("don't", "c'est").
            let apostrophe = (c == '\'' || c == '’') && cs == Script::Latin;
            if apostrophe
                && iter
                    .peek()
                    .is_some_and(|&(_, nc)| script_of(nc) == Some(Script::Latin))
            {
                continue;
            }
            n.toks.push(Tok {
                start,
                end: pos,
                kind: TokKind::Word(cs),
            });
            cur = None;
        }
        match sc {
            Some(s) => cur = Some((pos, s)),
            None => match c {
                '!' | '！' => n.exclamations += 1,
                '?' | '？' => n.questions += 1,
                c if c.is_whitespace() || c.is_ascii() => {}
                c if is_cjk_punct(c) => {}
                c => n.toks.push(Tok {
                    start: pos,
                    end: pos + c.len_utf8(),
                    kind: TokKind::Symbol,
                }),
            },
        }
    }
    if let Some((start, cs)) = cur {
        n.toks.push(Tok {
            start,
            end: text.len(),
            kind: TokKind::Word(cs),
        });
    }
}

fn is_cjk_punct(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FF65}' | '\u{2000}'..='\u{206F}' | '·' | '«' | '»' | '¿' | '¡')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_scripts_and_keep_emoji() {
        let n = normalize("Check https://x.io @bob AcmePay로 결제 don't ❤️!");
        let toks: Vec<&str> = (0..n.toks.len()).map(|i| n.tok(i)).collect();
        assert_eq!(toks, vec!["check", "acmepay", "로", "결제", "don't", "❤"]);
        assert_eq!(n.exclamations, 1);
    }
}
