//! Normalisation shared by every format: HTML to plain text, hashtag / mention / URL
//! extraction from plain text, tracking-parameter removal and timestamp normalisation.

use std::borrow::Cow;
use std::fmt;

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/// A link found in HTML: `<a href=... class=... rel=...>text</a>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    pub class: String,
    pub rel: String,
    /// The link's plain text.
    pub text: String,
}

/// Plain text and the links of an HTML fragment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlText {
    pub text: String,
    pub links: Vec<Link>,
}

/// HTML to plain text: block elements end lines (paragraphs are separated by a blank line),
/// `<br>` is a newline, entities (named and numeric) are decoded, whitespace runs collapse to one
/// space outside `<pre>`, text in `<span class="invisible">` is kept (Mastodon hides URL parts
/// that way), `<script>`, `<style>` and comments are dropped. Leading/trailing whitespace is
/// trimmed.
pub fn html_to_text(html: &str) -> String {
    parse_html(html).text
}

/// [`html_to_text`] that also returns the document's links.
pub fn parse_html(html: &str) -> HtmlText {
    let mut out = TextBuilder::default();
    let mut links: Vec<Link> = Vec::new();
    let mut open_link: Option<(Link, usize)> = None;
    let mut pre_depth = 0usize;
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied().unwrap_or(0);
        if !(next.is_ascii_alphabetic() || next == b'/' || next == b'!' || next == b'?') {
            i += 1;
            continue;
        }
        // Flush the text before the tag.
        out.push_text(&html[text_start..i], pre_depth > 0);
        if html[i..].starts_with("<!--") {
            let end = html[i + 4..]
                .find("-->")
                .map_or(html.len(), |e| i + 4 + e + 3);
            i = end;
            text_start = i;
            continue;
        }
        let end = tag_end(bytes, i + 1);
        let inner = &html[i + 1..end.saturating_sub(1).max(i + 1)];
        i = end;
        text_start = i;
        let Some(tag) = parse_tag(inner) else {
            continue;
        };
        match (tag.name(), tag.closing) {
            ("script" | "style" | "template" | "noscript", false) if !tag.self_closing => {
                // Skip to the matching closing tag.
                let close = format!("</{}", tag.name());
                let rest = &html[i..];
                let pos = find_ascii_ci(rest, &close).map_or(html.len(), |p| i + p);
                let after = html[pos..].find('>').map_or(html.len(), |p| pos + p + 1);
                i = after;
                text_start = i;
            }
            ("br", _) => out.newline(),
            ("p", _) => out.paragraph(),
            ("pre", false) => {
                out.line();
                pre_depth += 1;
            }
            ("pre", true) => {
                pre_depth = pre_depth.saturating_sub(1);
                out.line();
            }
            ("a", false) => {
                if let Some((link, start)) = open_link.take() {
                    links.push(finish_link(link, &out.text[start..]));
                }
                let link = Link {
                    href: decode_entities(tag.attr("href").unwrap_or("")).into_owned(),
                    class: decode_entities(tag.attr("class").unwrap_or("")).into_owned(),
                    rel: decode_entities(tag.attr("rel").unwrap_or("")).into_owned(),
                    text: String::new(),
                };
                out.settle();
                open_link = Some((link, out.text.len()));
            }
            ("a", true) => {
                if let Some((link, start)) = open_link.take() {
                    let start = start.min(out.text.len());
                    links.push(finish_link(link, &out.text[start..]));
                }
            }
            (name, _) if is_block(name) => out.line(),
            _ => {}
        }
    }
    out.push_text(&html[text_start..], pre_depth > 0);
    if let Some((link, start)) = open_link.take() {
        let start = start.min(out.text.len());
        links.push(finish_link(link, &out.text[start..]));
    }
    HtmlText {
        text: out.finish(),
        links,
    }
}

fn finish_link(mut link: Link, text: &str) -> Link {
    link.text = text.trim().to_string();
    link
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "div"
            | "blockquote"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "table"
            | "tr"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "aside"
            | "nav"
            | "figure"
            | "figcaption"
            | "hr"
            | "address"
            | "main"
    )
}

/// Index just past the `>` closing the tag whose name starts at `from`, honouring quotes.
fn tag_end(bytes: &[u8], from: usize) -> usize {
    let mut quote = 0u8;
    let mut j = from;
    while j < bytes.len() {
        let b = bytes[j];
        if quote != 0 {
            if b == quote {
                quote = 0;
            }
        } else if b == b'"' || b == b'\'' {
            quote = b;
        } else if b == b'>' {
            return j + 1;
        }
        j += 1;
    }
    bytes.len() + 1
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&s| h[s..s + n.len()].eq_ignore_ascii_case(n))
}

struct Tag<'a> {
    /// Lowercase name (empty for names longer than 16 bytes, which no tag handled here has).
    name: [u8; 16],
    name_len: usize,
    closing: bool,
    self_closing: bool,
    attrs: Vec<(&'a str, &'a str)>,
}

impl Tag<'_> {
    fn name(&self) -> &str {
        std::str::from_utf8(&self.name[..self.name_len]).unwrap_or("")
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Parses the inside of `<…>`. Attributes are only parsed for `<a>`, the one tag whose
/// attributes matter.
fn parse_tag(inner: &str) -> Option<Tag<'_>> {
    let (closing, rest) = match inner.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, inner),
    };
    if rest.starts_with('!') || rest.starts_with('?') {
        return None; // doctype, processing instruction
    }
    let name_end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    if name_end == 0 {
        return None;
    }
    let mut name = [0u8; 16];
    let name_len = if name_end <= 16 {
        for (d, s) in name.iter_mut().zip(rest[..name_end].bytes()) {
            *d = s.to_ascii_lowercase();
        }
        name_end
    } else {
        0
    };
    let self_closing = rest.trim_end().ends_with('/');
    let mut attrs = Vec::new();
    if !closing && &name[..name_len] == b"a" {
        let b = rest.as_bytes();
        let mut j = name_end;
        loop {
            while j < b.len() && (b[j].is_ascii_whitespace() || b[j] == b'/') {
                j += 1;
            }
            if j >= b.len() {
                break;
            }
            let ks = j;
            while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'=' && b[j] != b'/' {
                j += 1;
            }
            let key = &rest[ks..j];
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && b[j] == b'=' {
                j += 1;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let value = if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                    let q = b[j];
                    let vs = j + 1;
                    let ve = rest[vs..].find(q as char).map_or(rest.len(), |p| vs + p);
                    j = (ve + 1).min(b.len());
                    &rest[vs..ve]
                } else {
                    let vs = j;
                    while j < b.len() && !b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    &rest[vs..j]
                };
                attrs.push((key, value));
            } else if !key.is_empty() {
                attrs.push((key, ""));
            }
        }
    }
    Some(Tag {
        name,
        name_len,
        closing,
        self_closing,
        attrs,
    })
}

/// Accumulates text with HTML whitespace rules and pending line breaks.
#[derive(Default)]
struct TextBuilder {
    text: String,
    /// Newlines wanted before the next text (0, 1 or 2).
    pending_newlines: usize,
    pending_space: bool,
}

impl TextBuilder {
    fn push_text(&mut self, raw: &str, pre: bool) {
        if raw.is_empty() {
            return;
        }
        let decoded = decode_entities(raw);
        if pre {
            self.settle();
            self.text.push_str(&decoded);
            return;
        }
        for (k, word) in decoded.split(|c: char| c.is_ascii_whitespace()).enumerate() {
            if k > 0 {
                self.pending_space = true;
            }
            if word.is_empty() {
                continue;
            }
            self.settle();
            self.text.push_str(word);
        }
    }

    /// Writes pending breaks/space before more text.
    fn settle(&mut self) {
        if self.text.is_empty() {
            self.pending_newlines = 0;
            self.pending_space = false;
            return;
        }
        if self.pending_newlines > 0 {
            let have = self.text.len() - self.text.trim_end_matches('\n').len();
            while self.text.ends_with(' ') {
                self.text.pop();
            }
            for _ in have..self.pending_newlines {
                self.text.push('\n');
            }
        } else if self.pending_space && !self.text.ends_with([' ', '\n']) {
            self.text.push(' ');
        }
        self.pending_newlines = 0;
        self.pending_space = false;
    }

    fn newline(&mut self) {
        // A <br> always produces a line break, even several in a row.
        if self.pending_newlines > 0 {
            self.settle();
        }
        if self.text.is_empty() {
            return;
        }
        while self.text.ends_with(' ') {
            self.text.pop();
        }
        self.text.push('\n');
        self.pending_space = false;
    }

    fn line(&mut self) {
        self.pending_newlines = self.pending_newlines.max(1);
        self.pending_space = false;
    }

    fn paragraph(&mut self) {
        self.pending_newlines = 2;
        self.pending_space = false;
    }

    fn finish(self) -> String {
        let t = self.text.trim();
        if t.len() == self.text.len() {
            self.text
        } else {
            t.to_string()
        }
    }
}

/// Decodes HTML character references: named (the common set), decimal and hexadecimal.
/// Unknown or malformed references are left as they are.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let semi = rest[1..]
            .char_indices()
            .take(32)
            .find(|&(_, c)| c == ';' || c == '&' || c.is_whitespace())
            .filter(|&(_, c)| c == ';')
            .map(|(p, _)| p + 1);
        let decoded = semi.and_then(|semi| {
            let name = &rest[1..semi];
            decode_reference(name).map(|c| (c, semi + 1))
        });
        match decoded {
            Some((text, len)) => {
                match text {
                    Decoded::Char(c) => out.push(c),
                    Decoded::Str(s) => out.push_str(s),
                }
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

enum Decoded {
    Char(char),
    Str(&'static str),
}

fn decode_reference(name: &str) -> Option<Decoded> {
    if let Some(num) = name.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix(['x', 'X']) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse::<u32>().ok()?
        };
        let c = match code {
            0 => '\u{FFFD}',
            _ => char::from_u32(code).unwrap_or('\u{FFFD}'),
        };
        return Some(Decoded::Char(c));
    }
    let s = match name {
        "amp" | "AMP" => "&",
        "lt" | "LT" => "<",
        "gt" | "GT" => ">",
        "quot" | "QUOT" => "\"",
        "apos" => "'",
        // A non-breaking space becomes a plain space: the text is for reading and searching.
        "nbsp" => " ",
        "ensp" | "emsp" | "thinsp" => " ",
        "ndash" => "–",
        "mdash" => "—",
        "hellip" => "…",
        "lsquo" => "‘",
        "rsquo" => "’",
        "sbquo" => "‚",
        "ldquo" => "“",
        "rdquo" => "”",
        "bdquo" => "„",
        "laquo" => "«",
        "raquo" => "»",
        "lsaquo" => "‹",
        "rsaquo" => "›",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "euro" => "€",
        "pound" => "£",
        "yen" => "¥",
        "cent" => "¢",
        "sect" => "§",
        "para" => "¶",
        "middot" => "·",
        "bull" => "•",
        "deg" => "°",
        "plusmn" => "±",
        "times" => "×",
        "divide" => "÷",
        "frac12" => "½",
        "frac14" => "¼",
        "frac34" => "¾",
        "iexcl" => "¡",
        "iquest" => "¿",
        "shy" => "\u{AD}",
        "zwj" => "\u{200D}",
        "zwnj" => "\u{200C}",
        "larr" => "←",
        "rarr" => "→",
        "uarr" => "↑",
        "darr" => "↓",
        "hearts" => "♥",
        "star" => "☆",
        "auml" => "ä",
        "ouml" => "ö",
        "uuml" => "ü",
        "Auml" => "Ä",
        "Ouml" => "Ö",
        "Uuml" => "Ü",
        "szlig" => "ß",
        "eacute" => "é",
        "egrave" => "è",
        "ecirc" => "ê",
        "aacute" => "á",
        "agrave" => "à",
        "acirc" => "â",
        "iacute" => "í",
        "oacute" => "ó",
        "uacute" => "ú",
        "ntilde" => "ñ",
        "ccedil" => "ç",
        "Eacute" => "É",
        _ => return None,
    };
    Some(Decoded::Str(s))
}

// ---------------------------------------------------------------------------------------------
// Entities in plain text
// ---------------------------------------------------------------------------------------------

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Pushes `value` unless already present (case-sensitive).
fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}

/// Hashtags in plain text: `#` at the start or after a non-word character, followed by letters,
/// digits (any script) or `_`, not all digits, and not inside a URL (`…/page#section`). Returned without `#`, lowercase, deduplicated,
/// in order of appearance.
pub fn extract_hashtags(text: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let urls = url_spans(text);
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if (c == '#' || c == '＃')
            && prev.is_none_or(|p| !is_word_char(p) && p != '&')
            && !in_spans(&urls, i)
        {
            let start = i + c.len_utf8();
            let end = text[start..]
                .find(|ch: char| !(is_word_char(ch) || is_joiner(ch)))
                .map_or(text.len(), |p| start + p);
            let tag = &text[start..end];
            if !tag.is_empty() && !tag.chars().all(|ch| ch.is_ascii_digit()) {
                push_unique(&mut tags, normalize_hashtag(tag));
                while iter.peek().is_some_and(|&(j, _)| j < end) {
                    iter.next();
                }
                prev = tag.chars().last();
                continue;
            }
        }
        prev = Some(c);
    }
    tags
}

/// Zero-width joiners and variation selectors appear inside emoji hashtags.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200D}' | '\u{FE0F}')
}

/// A hashtag as stored: without leading `#`, lowercase.
pub fn normalize_hashtag(tag: &str) -> String {
    tag.trim().trim_start_matches(['#', '＃']).to_lowercase()
}

/// A handle as stored: without leading `@`.
pub fn normalize_handle(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_string()
}

/// Mentions in plain text: `@name`, `@name@host` (fediverse) or `@name.example.com` (Bluesky),
/// at the start or after a character that is not a letter, digit, `_` or `.` (so e-mail
/// addresses are not mentions), and not inside a URL (`https://host/@name`). Returned without `@`, deduplicated, in order.
pub fn extract_mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let urls = url_spans(text);
    let b = text.as_bytes();
    let mut prev: Option<char> = None;
    let mut i = 0;
    while i < b.len() {
        let c = text[i..].chars().next().unwrap_or('\0');
        if c == '@'
            && prev.is_none_or(|p| !(is_word_char(p) || p == '.' || p == '@'))
            && !in_spans(&urls, i)
        {
            let start = i + 1;
            let mut end = start;
            let mut ats = 0;
            while end < b.len() {
                let ch = b[end];
                if ch.is_ascii_alphanumeric() || ch == b'_' || ch == b'.' || ch == b'-' {
                    end += 1;
                } else if ch == b'@'
                    && ats == 0
                    && end > start
                    && b.get(end + 1).is_some_and(|n| n.is_ascii_alphanumeric())
                {
                    ats += 1;
                    end += 1;
                } else {
                    break;
                }
            }
            let handle = text[start..end].trim_end_matches(['.', '-']);
            if !handle.is_empty() && handle.as_bytes()[0] != b'.' && handle.as_bytes()[0] != b'-' {
                push_unique(&mut out, handle.to_string());
            }
            let stop = start + handle.len();
            prev = text[..stop].chars().last();
            i = stop;
            continue;
        }
        prev = Some(c);
        i += c.len_utf8();
    }
    out
}

/// `http://` and `https://` URLs in plain text, ending at whitespace, `<`, `>`, `"` or a
/// character outside ASCII; trailing punctuation (`.,;:!?'`) and unbalanced closing brackets
/// are not part of the URL. Returned cleaned with [`clean_url`], deduplicated, in order.
pub fn extract_urls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (start, end) in url_spans(text) {
        push_unique(&mut out, clean_url(&text[start..end]));
    }
    out
}

/// Byte ranges of the URLs [`extract_urls`] finds.
fn url_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    if !text.contains("://") {
        return spans;
    }
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = lower[from..].find("http") {
        let start = from + p;
        let rest = &lower[start..];
        let scheme_len = if rest.starts_with("https://") {
            8
        } else if rest.starts_with("http://") {
            7
        } else {
            from = start + 4;
            continue;
        };
        // Not in the middle of a word ("xhttp://").
        if text[..start]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            from = start + scheme_len;
            continue;
        }
        let body_start = start + scheme_len;
        let end = text[body_start..]
            .find(|c: char| {
                c.is_whitespace() || !c.is_ascii() || matches!(c, '<' | '>' | '"' | '`')
            })
            .map_or(text.len(), |e| body_start + e);
        let mut url = &text[start..end];
        loop {
            let trimmed = url.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '*']);
            let trimmed = strip_unbalanced(trimmed);
            if trimmed.len() == url.len() {
                break;
            }
            url = trimmed;
        }
        if url.len() > scheme_len {
            spans.push((start, start + url.len()));
        }
        from = start + url.len().max(scheme_len);
    }
    spans
}

fn in_spans(spans: &[(usize, usize)], i: usize) -> bool {
    spans.iter().any(|&(s, e)| s <= i && i < e)
}

fn strip_unbalanced(url: &str) -> &str {
    for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
        if url.ends_with(close) && url.matches(open).count() < url.matches(close).count() {
            return &url[..url.len() - 1];
        }
    }
    url
}

/// Query parameters that only track the click; removed by [`clean_url`]. Any parameter whose
/// name starts with `utm_` is removed too.
pub const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "igsh",
    "si",
    "ref_src",
    "ref_url",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "vero_id",
    "oly_anon_id",
    "oly_enc_id",
    "rb_clickid",
    "s_cid",
    "wickedid",
];

fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// Removes tracking parameters ([`TRACKING_PARAMS`] and `utm_*`) from a URL's query, keeping
/// every other parameter byte for byte, in order, and the fragment. A query left empty is
/// removed with its `?`. Anything else about the URL is left as it is.
pub fn clean_url(url: &str) -> String {
    let url = url.trim();
    let (before_fragment, fragment) = match url.find('#') {
        Some(p) => (&url[..p], Some(&url[p..])),
        None => (url, None),
    };
    let Some(q) = before_fragment.find('?') else {
        return url.to_string();
    };
    let (base, query) = (&before_fragment[..q], &before_fragment[q + 1..]);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !pair.is_empty() && !is_tracking_param(name)
        })
        .collect();
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push_str(f);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

/// A string that is not a date/time in a format [`normalize_timestamp`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    pub input: String,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a date: {:?}", self.input)
    }
}

impl std::error::Error for TimestampError {}

/// Normalises a timestamp to UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` (fractions beyond milliseconds are
/// truncated). Accepts:
/// - RFC 3339 / ISO 8601: `2024-03-01T12:34:56Z`, `…56.123456+09:00`, `…56+0900`, a space
///   instead of `T`; without an offset the time is taken as UTC;
/// - a date alone: `2024-03-01` (midnight UTC);
/// - X/Twitter's `Wed Oct 10 20:19:24 +0000 2018`.
pub fn normalize_timestamp(input: &str) -> Result<String, TimestampError> {
    let err = || TimestampError {
        input: input.to_string(),
    };
    let s = input.trim();
    let parsed = if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        parse_iso(s)
    } else {
        parse_twitter(s)
    };
    let (date, secs_of_day, millis, offset_secs) = parsed.ok_or_else(err)?;
    let (y, m, d) = date;
    let total = days_from_civil(y, m, d) * 86_400 + secs_of_day - offset_secs;
    let days = total.div_euclid(86_400);
    let sod = total.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return Err(err());
    }
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    ))
}

type Parts = ((i64, u32, u32), i64, u32, i64);

fn digits(s: &[u8], from: usize, n: usize) -> Option<i64> {
    let part = s.get(from..from + n)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(part.iter().fold(0i64, |a, &b| a * 10 + i64::from(b - b'0')))
}

fn valid_date(y: i64, m: i64, d: i64) -> Option<(i64, u32, u32)> {
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (d <= dim).then_some((y, m as u32, d as u32))
}

fn valid_time(h: i64, mi: i64, s: i64) -> Option<i64> {
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // A leap second is folded into the second before it.
    Some(h * 3600 + mi * 60 + s.min(59))
}

fn parse_iso(s: &str) -> Option<Parts> {
    let b = s.as_bytes();
    let y = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let date = valid_date(y, digits(b, 5, 2)?, digits(b, 8, 2)?)?;
    if b.len() == 10 {
        return Some((date, 0, 0, 0));
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let h = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let mi = digits(b, 14, 2)?;
    let (sec, mut i) = if b.get(16) == Some(&b':') {
        (digits(b, 17, 2)?, 19)
    } else {
        (0, 16)
    };
    let sod = valid_time(h, mi, sec)?;
    let mut millis = 0u32;
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = format!("{frac:0<3}").parse().ok()?;
    }
    let offset = match &s[i..] {
        "" | "Z" | "z" => 0,
        rest => {
            let rb = rest.as_bytes();
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh = digits(rb, 1, 2)?;
            let om = match rb.len() {
                3 => 0,
                5 => digits(rb, 3, 2)?,
                6 if rb[3] == b':' => digits(rb, 4, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some((date, sod, millis, offset))
}

/// `Wed Oct 10 20:19:24 +0000 2018`
fn parse_twitter(s: &str) -> Option<Parts> {
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    let [_weekday, month, day, time, offset, year] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(month))? as i64 + 1;
    let d: i64 = day.parse().ok()?;
    let y = digits(year.as_bytes(), 0, 4).filter(|_| year.len() == 4)?;
    let date = valid_date(y, m, d)?;
    let tb = time.as_bytes();
    if tb.len() != 8 || tb[2] != b':' || tb[5] != b':' {
        return None;
    }
    let sod = valid_time(digits(tb, 0, 2)?, digits(tb, 3, 2)?, digits(tb, 6, 2)?)?;
    let ob = offset.as_bytes();
    if ob.len() != 5 {
        return None;
    }
    let sign = match ob[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let off = sign * (digits(ob, 1, 2)? * 3600 + digits(ob, 3, 2)? * 60);
    Some((date, sod, 0, off))
}

/// Days since 1970-01-01 (proleptic Gregorian), after Howard Hinnant.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A language tag as declared by a network, or `None` for "undetermined" (`und`) and blanks.
pub fn normalize_lang(lang: &str) -> Option<String> {
    let l = lang.trim();
    if l.is_empty() || l.eq_ignore_ascii_case("und") {
        None
    } else {
        Some(l.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_paragraphs_breaks_and_entities() {
        let html = "<p>Hello &amp; welcome&#33; &#x1F600;<br>second line</p><p>Next &lt;para&gt; &quot;q&quot; &nbsp;x</p>";
        assert_eq!(
            html_to_text(html),
            "Hello & welcome! 😀\nsecond line\n\nNext <para> \"q\" x"
        );
    }

    #[test]
    fn html_invisible_spans_kept_scripts_dropped() {
        let html = r#"<p>see <a href="https://example.com/a/very/long/path?x=1&amp;utm_source=m" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.com/a/very/</span><span class="invisible">long/path?x=1&amp;utm_source=m</span></a></p><script>alert("x")</script><style>p{color:red}</style><!-- c -->"#;
        let parsed = parse_html(html);
        assert_eq!(
            parsed.text,
            "see https://example.com/a/very/long/path?x=1&utm_source=m"
        );
        assert_eq!(parsed.links.len(), 1);
        assert_eq!(
            parsed.links[0].href,
            "https://example.com/a/very/long/path?x=1&utm_source=m"
        );
        assert_eq!(parsed.links[0].rel, "nofollow noopener");
    }

    #[test]
    fn html_blocks_whitespace_and_stray_angle_brackets() {
        assert_eq!(
            html_to_text("<div>a\n   b</div><ul><li>one</li><li>two</li></ul>3 < 4 > 2"),
            "a b\none\ntwo\n3 < 4 > 2"
        );
        assert_eq!(html_to_text("<pre>  x\n  y</pre>z"), "x\n  y\nz");
        assert_eq!(html_to_text("a<br/><br />b"), "a\n\nb");
        assert_eq!(
            html_to_text("Text <b>bold</b>&unknown; &amp"),
            "Text bold&unknown; &amp"
        );
        assert_eq!(html_to_text(""), "");
    }

    #[test]
    fn entities_numeric_and_named() {
        assert_eq!(
            decode_entities("&#65;&#x42;&#X43;&hellip;&#0;"),
            "ABC…\u{FFFD}"
        );
        assert_eq!(decode_entities("AT&T & co"), "AT&T & co");
    }

    #[test]
    fn hashtags_from_text() {
        assert_eq!(
            extract_hashtags("#Rust and #日本語 plus #한국어, #1 not, a#b not, (#Tag_2) #rust"),
            vec!["rust", "日本語", "한국어", "tag_2"]
        );
        assert_eq!(extract_hashtags("&#39; #x"), vec!["x"]);
        assert_eq!(
            extract_hashtags("see https://e.com/page#section and #real"),
            vec!["real"]
        );
    }

    #[test]
    fn mentions_from_text() {
        assert_eq!(
            extract_mentions(
                "hi @alice, @bob@mastodon.social and @carol.bsky.social. mail me@example.com @"
            ),
            vec!["alice", "bob@mastodon.social", "carol.bsky.social"]
        );
        assert_eq!(
            extract_mentions("profile https://mastodon.social/@dave, ping @erin"),
            vec!["erin"]
        );
    }

    #[test]
    fn urls_from_text() {
        assert_eq!(
            extract_urls(
                "see https://example.com/x?utm_source=tw&id=3#top, (and http://foo.org/a_(b)) or https://ex.com/path). 한국 https://ko.kr/경로"
            ),
            vec![
                "https://example.com/x?id=3#top",
                "http://foo.org/a_(b)",
                "https://ex.com/path",
                "https://ko.kr/"
            ]
        );
    }

    #[test]
    fn tracking_params_removed() {
        assert_eq!(
            clean_url("https://e.com/p?utm_source=a&UTM_medium=b&id=7&fbclid=x&q=a%20b#frag"),
            "https://e.com/p?id=7&q=a%20b#frag"
        );
        assert_eq!(
            clean_url("https://youtu.be/abc?si=xyz"),
            "https://youtu.be/abc"
        );
        assert_eq!(
            clean_url("https://e.com/?gclid=1&mc_cid=2&mc_eid=3&igshid=4&ref_src=twsrc"),
            "https://e.com/"
        );
        assert_eq!(clean_url("https://e.com/plain"), "https://e.com/plain");
        assert_eq!(
            clean_url("https://e.com/#a?utm_source=x"),
            "https://e.com/#a?utm_source=x"
        );
    }

    #[test]
    fn timestamps_normalised_to_utc_millis() {
        let ok = |s: &str| normalize_timestamp(s).unwrap();
        assert_eq!(ok("2024-03-01T12:34:56Z"), "2024-03-01T12:34:56.000Z");
        assert_eq!(
            ok("2024-03-01T12:34:56.123456Z"),
            "2024-03-01T12:34:56.123Z"
        );
        assert_eq!(
            ok("2024-03-01T08:00:00.5+09:00"),
            "2024-02-29T23:00:00.500Z"
        );
        assert_eq!(ok("2023-12-31T23:30:00-01:00"), "2024-01-01T00:30:00.000Z");
        assert_eq!(ok("2024-03-01 12:34:56"), "2024-03-01T12:34:56.000Z");
        assert_eq!(ok("2024-03-01T12:34+0530"), "2024-03-01T07:04:00.000Z");
        assert_eq!(ok("2024-03-01"), "2024-03-01T00:00:00.000Z");
        assert_eq!(
            ok("Wed Oct 10 20:19:24 +0000 2018"),
            "2018-10-10T20:19:24.000Z"
        );
        assert_eq!(
            ok("Wed Oct 10 20:19:24 -0230 2018"),
            "2018-10-10T22:49:24.000Z"
        );
        for bad in [
            "yesterday",
            "",
            "2024-02-30T00:00:00Z",
            "2024-13-01",
            "2024-03-01T25:00:00Z",
            "2024-03-01T12:00:00+2",
            "2024-03-01X12:00:00Z",
        ] {
            let e = normalize_timestamp(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("not a date: {bad:?}"));
        }
    }

    #[test]
    fn civil_roundtrip() {
        for days in [-719_468, -1, 0, 1, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
