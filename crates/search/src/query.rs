//! The listening query language: parsed once into a [`Query`], then run by the index
//! ([`crate::index`]) or by the in-memory matcher ([`crate::matcher`]) with the same meaning.
//!
//! Precedence, loosest first: `OR`, `AND` (also implied between terms), `NOT`/`-`, `NEAR/n`.
//! Operators are upper-case; `or` in lower case is an ordinary word.

use crate::tokenize::{keyword, terms};
use serde::Serialize;
use std::fmt;
use switchboard_core::item::{ItemKind, Network};
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// Every item (the empty query, or the positive side of a lone `NOT`).
    All,
    /// A word or an "exact phrase", as tokens: one token is a term, several must be adjacent.
    Phrase(Vec<String>),
    /// Words starting with a folded prefix.
    Prefix(String),
    Field(FieldFilter),
    /// `since:` inclusive, `until:` exclusive, unix seconds.
    Range {
        since: Option<i64>,
        until: Option<i64>,
    },
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    Near {
        left: Vec<String>,
        right: Vec<String>,
        /// At most this many words between the two sides.
        distance: u32,
        /// `NEAR/nf`: the left side must come first.
        ordered: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldFilter {
    Hashtag(String),
    Mention(String),
    Lang(String),
    Network(String),
    Sentiment(String),
    Intent(String),
    Author(String),
    Kind(String),
    Tag(String),
}

impl FieldFilter {
    /// The index field holding this filter's values.
    pub fn index_field(&self) -> &'static str {
        match self {
            FieldFilter::Hashtag(_) => "hashtags",
            FieldFilter::Mention(_) => "mentions",
            FieldFilter::Lang(_) => "lang",
            FieldFilter::Network(_) => "network",
            FieldFilter::Sentiment(_) => "sentiment",
            FieldFilter::Intent(_) => "intents",
            FieldFilter::Author(_) => "author",
            FieldFilter::Kind(_) => "kind",
            FieldFilter::Tag(_) => "tags",
        }
    }
    pub fn value(&self) -> &str {
        match self {
            FieldFilter::Hashtag(v)
            | FieldFilter::Mention(v)
            | FieldFilter::Lang(v)
            | FieldFilter::Network(v)
            | FieldFilter::Sentiment(v)
            | FieldFilter::Intent(v)
            | FieldFilter::Author(v)
            | FieldFilter::Kind(v)
            | FieldFilter::Tag(v) => v,
        }
    }
}

/// A syntax error at a 1-based character column of the query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.position, self.message)
    }
}

impl std::error::Error for ParseError {}

pub const FIELDS: &[&str] = &[
    "lang",
    "network",
    "sentiment",
    "intent",
    "author",
    "kind",
    "tag",
    "since",
    "until",
];

pub const SENTIMENTS: &[&str] = &["positive", "negative", "neutral", "mixed"];

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 4000;
const MAX_DEPTH: usize = 64;
const MAX_NEAR: u32 = 100;

#[derive(Clone, Debug, PartialEq)]
enum Tk {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// A `-` directly before a term, phrase or parenthesis.
    Minus,
    Near(u32, bool),
    Word(String),
    Quoted(String),
    /// `field:value` or `field:"quoted value"`.
    Field(String, String),
}

#[derive(Clone, Debug)]
struct Lexed {
    tk: Tk,
    /// 1-based character column.
    col: usize,
}

fn err<T>(col: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        position: col,
        message: message.into(),
    })
}

fn lex(input: &str) -> Result<Vec<Lexed>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    if chars.len() > MAX_QUERY_CHARS {
        return err(
            MAX_QUERY_CHARS + 1,
            format!("the query is longer than {MAX_QUERY_CHARS} characters"),
        );
    }
    let mut out = Vec::new();
    let mut i = 0;
    let read_quoted = |i: &mut usize| -> Result<String, ParseError> {
        let open = *i;
        *i += 1;
        let mut s = String::new();
        while *i < chars.len() && chars[*i] != '"' {
            s.push(chars[*i]);
            *i += 1;
        }
        if *i >= chars.len() {
            return err(open + 1, "unclosed quote: add a closing \"");
        }
        *i += 1;
        Ok(s)
    };
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Lexed {
                tk: Tk::LParen,
                col,
            });
            i += 1;
        } else if c == ')' {
            out.push(Lexed {
                tk: Tk::RParen,
                col,
            });
            i += 1;
        } else if c == '"' {
            let s = read_quoted(&mut i)?;
            out.push(Lexed {
                tk: Tk::Quoted(s),
                col,
            });
        } else if c == '-'
            && i + 1 < chars.len()
            && !chars[i + 1].is_whitespace()
            && chars[i + 1] != ')'
        {
            out.push(Lexed { tk: Tk::Minus, col });
            i += 1;
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '"')
            {
                // field:"quoted value"
                if chars[i] == ':' && i + 1 < chars.len() && chars[i + 1] == '"' {
                    let name: String = chars[start..i].iter().collect();
                    i += 1;
                    let v = read_quoted(&mut i)?;
                    out.push(Lexed {
                        tk: Tk::Field(name.to_lowercase(), v),
                        col,
                    });
                    break;
                }
                i += 1;
            }
            if matches!(out.last(), Some(Lexed { col: c, .. }) if *c == col) {
                continue; // the quoted field value above
            }
            let word: String = chars[start..i].iter().collect();
            out.push(Lexed {
                tk: classify(word, col)?,
                col,
            });
        }
    }
    Ok(out)
}

fn classify(word: String, col: usize) -> Result<Tk, ParseError> {
    match word.as_str() {
        "AND" | "&&" => return Ok(Tk::And),
        "OR" | "||" => return Ok(Tk::Or),
        "NOT" => return Ok(Tk::Not),
        _ => {}
    }
    if let Some(rest) = word.strip_prefix("NEAR/") {
        let (num, ordered) = match rest.strip_suffix('f') {
            Some(n) => (n, true),
            None => (rest, false),
        };
        let Ok(n) = num.parse::<u32>() else {
            return err(
                col,
                format!("NEAR needs a distance, as in NEAR/3 or NEAR/3f, not '{word}'"),
            );
        };
        if n > MAX_NEAR {
            return err(col, format!("NEAR distance can be at most {MAX_NEAR}"));
        }
        return Ok(Tk::Near(n, ordered));
    }
    if word == "NEAR" {
        return err(col, "NEAR needs a distance, as in NEAR/3 or NEAR/3f");
    }
    if let Some((name, value)) = word.split_once(':') {
        if !name.is_empty() && !name.starts_with(['#', '@']) {
            let lname = name.to_lowercase();
            if !FIELDS.contains(&lname.as_str()) {
                return err(
                    col,
                    format!(
                        "unknown field '{name}': use one of {}, or put the text in quotes",
                        FIELDS.join(", ")
                    ),
                );
            }
            return Ok(Tk::Field(lname, value.to_string()));
        }
    }
    Ok(Tk::Word(word))
}

struct Parser {
    toks: Vec<Lexed>,
    pos: usize,
    end_col: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tk> {
        self.toks.get(self.pos).map(|l| &l.tk)
    }
    fn col(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|l| l.col)
            .unwrap_or(self.end_col)
    }

    fn or(&mut self) -> Result<Query, ParseError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tk::Or) {
            self.pos += 1;
            if matches!(self.peek(), None | Some(Tk::RParen | Tk::Or | Tk::And)) {
                return err(self.col(), "OR needs something to search on its right");
            }
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Query::All)
        } else {
            Query::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Query, ParseError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tk::And) => {
                    self.pos += 1;
                    if matches!(self.peek(), None | Some(Tk::RParen | Tk::Or | Tk::And)) {
                        return err(self.col(), "AND needs something to search on its right");
                    }
                    parts.push(self.unary()?);
                }
                None | Some(Tk::Or | Tk::RParen) => break,
                Some(_) => parts.push(self.unary()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Query::All)
        } else {
            Query::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Query, ParseError> {
        match self.peek() {
            Some(Tk::Not | Tk::Minus) => {
                let col = self.col();
                self.pos += 1;
                if matches!(self.peek(), None | Some(Tk::RParen | Tk::Or | Tk::And)) {
                    return err(col, "NOT needs something to exclude after it");
                }
                Ok(Query::Not(Box::new(self.unary()?)))
            }
            _ => self.near(),
        }
    }

    fn near(&mut self) -> Result<Query, ParseError> {
        let left_col = self.col();
        let left = self.primary()?;
        let Some(Tk::Near(distance, ordered)) = self.peek().cloned() else {
            return Ok(left);
        };
        let near_col = self.col();
        self.pos += 1;
        let right_col = self.col();
        if self.peek().is_none() {
            return err(near_col, "NEAR needs a word or phrase on its right");
        }
        let right = self.primary()?;
        let (Query::Phrase(l), Query::Phrase(r)) = (&left, &right) else {
            let col = if matches!(left, Query::Phrase(_)) {
                right_col
            } else {
                left_col
            };
            return err(col, "NEAR works between two words or \"phrases\"");
        };
        if matches!(self.peek(), Some(Tk::Near(..))) {
            return err(
                self.col(),
                "NEAR cannot be chained; combine two NEARs with AND",
            );
        }
        Ok(Query::Near {
            left: l.clone(),
            right: r.clone(),
            distance,
            ordered,
        })
    }

    fn primary(&mut self) -> Result<Query, ParseError> {
        let col = self.col();
        let Some(l) = self.toks.get(self.pos).cloned() else {
            return err(col, "the query ends where a word was expected");
        };
        self.pos += 1;
        match l.tk {
            Tk::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return err(col, "parentheses are nested too deeply");
                }
                if self.peek() == Some(&Tk::RParen) {
                    return err(col, "empty parentheses");
                }
                let q = self.or()?;
                if self.peek() != Some(&Tk::RParen) {
                    return err(col, "unclosed parenthesis: add a closing )");
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(q)
            }
            Tk::RParen => err(col, "unexpected ): there is no ( to close"),
            Tk::And | Tk::Or => err(col, "AND/OR needs something to search on its left"),
            Tk::Near(..) => err(col, "NEAR needs a word or phrase on its left"),
            Tk::Not | Tk::Minus => err(col, "misplaced NOT"),
            Tk::Quoted(s) => phrase(&s, col),
            Tk::Field(name, value) => field(&name, &value, col),
            Tk::Word(w) => word(&w, col),
        }
    }
}

fn phrase(s: &str, col: usize) -> Result<Query, ParseError> {
    let t = terms(s);
    if t.is_empty() {
        return err(col, "nothing searchable in this phrase");
    }
    Ok(Query::Phrase(t))
}

fn word(w: &str, col: usize) -> Result<Query, ParseError> {
    if let Some(tag) = w.strip_prefix('#') {
        let k = keyword(tag);
        if k.is_empty() {
            return err(col, "a hashtag needs a name after #");
        }
        return Ok(Query::Field(FieldFilter::Hashtag(k)));
    }
    if let Some(handle) = w.strip_prefix('@') {
        let k = keyword(handle);
        if k.is_empty() {
            return err(col, "a mention needs a handle after @");
        }
        return Ok(Query::Field(FieldFilter::Mention(k)));
    }
    if let Some(p) = w.strip_suffix('*') {
        if p.contains('*') {
            return err(col, "* is only allowed at the end of a word");
        }
        let t = terms(p);
        match t.as_slice() {
            [one] if one.chars().count() >= 2 => return Ok(Query::Prefix(one.clone())),
            [_] | [] => return err(col, "a prefix needs at least 2 letters before *"),
            _ => return err(col, "a prefix must be a single word, as in deliver*"),
        }
    }
    if w.contains('*') {
        return err(col, "* is only allowed at the end of a word");
    }
    let t = terms(w);
    if t.is_empty() {
        return err(col, format!("nothing searchable in '{w}'"));
    }
    Ok(Query::Phrase(t))
}

fn parse_date(value: &str, col: usize) -> Result<i64, ParseError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(value, &fmt) {
        Ok(d) => Ok(d.midnight().assume_utc().unix_timestamp()),
        Err(_) => err(
            col,
            format!("'{value}' is not a date: use YYYY-MM-DD or an RFC 3339 time"),
        ),
    }
}

fn field(name: &str, value: &str, col: usize) -> Result<Query, ParseError> {
    let value = value.trim();
    if value.is_empty() {
        return err(col, format!("{name}: needs a value"));
    }
    let k = keyword(value);
    let f = match name {
        "since" => {
            return Ok(Query::Range {
                since: Some(parse_date(value, col)?),
                until: None,
            })
        }
        "until" => {
            return Ok(Query::Range {
                since: None,
                until: Some(parse_date(value, col)?),
            })
        }
        "lang" => {
            if !(2..=3).contains(&k.len()) || !k.chars().all(|c| c.is_ascii_lowercase()) {
                return err(
                    col,
                    format!("lang: takes a 2- or 3-letter language code such as de, not '{value}'"),
                );
            }
            FieldFilter::Lang(k)
        }
        "network" => {
            if k.parse::<Network>().is_err() {
                return err(
                    col,
                    format!(
                        "unknown network '{value}': use one of {}",
                        Network::ALL
                            .iter()
                            .map(|n| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            FieldFilter::Network(k)
        }
        "kind" => {
            let k = match k.as_str() {
                "dm" | "message" => "direct_message".to_string(),
                _ => k,
            };
            if k.parse::<ItemKind>().is_err() {
                return err(
                    col,
                    format!(
                        "unknown kind '{value}': use one of {}",
                        ItemKind::ALL
                            .iter()
                            .map(|n| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            FieldFilter::Kind(k)
        }
        "sentiment" => {
            if !SENTIMENTS.contains(&k.as_str()) {
                return err(
                    col,
                    format!("sentiment: takes one of {}", SENTIMENTS.join(", ")),
                );
            }
            FieldFilter::Sentiment(k)
        }
        "intent" => FieldFilter::Intent(k.replace('-', "_")),
        "author" => FieldFilter::Author(k),
        "tag" => FieldFilter::Tag(k),
        _ => return err(col, format!("unknown field '{name}'")),
    };
    Ok(Query::Field(f))
}

/// Parses a query. The empty query matches everything.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    let toks = lex(input)?;
    if toks.is_empty() {
        return Ok(Query::All);
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end_col: input.chars().count() + 1,
        depth: 0,
    };
    let q = p.or()?;
    if p.pos < p.toks.len() {
        return match p.peek() {
            Some(Tk::RParen) => err(p.col(), "unexpected ): there is no ( to close"),
            _ => err(p.col(), "unexpected text"),
        };
    }
    Ok(simplify(q))
}

/// Merges date filters and flattens nested AND/OR so that both engines see the same shape.
fn simplify(q: Query) -> Query {
    match q {
        Query::And(parts) => {
            let mut out = Vec::new();
            let (mut since, mut until) = (None::<i64>, None::<i64>);
            let mut has_range = false;
            for p in parts.into_iter().map(simplify) {
                match p {
                    Query::And(inner) => out.extend(inner),
                    Query::Range { since: s, until: u } => {
                        has_range = true;
                        since = match (since, s) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            (a, b) => a.or(b),
                        };
                        until = match (until, u) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                    other => out.push(other),
                }
            }
            if has_range {
                out.push(Query::Range { since, until });
            }
            if out.len() == 1 {
                out.pop().unwrap_or(Query::All)
            } else {
                Query::And(out)
            }
        }
        Query::Or(parts) => {
            let mut out = Vec::new();
            for p in parts.into_iter().map(simplify) {
                match p {
                    Query::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            Query::Or(out)
        }
        Query::Not(inner) => Query::Not(Box::new(simplify(*inner))),
        other => other,
    }
}

impl Query {
    /// The positive words of the query (for highlighting): phrases, NEAR sides and prefixes
    /// that are not under a NOT.
    pub fn highlight_terms(&self) -> (Vec<Vec<String>>, Vec<String>) {
        let mut phrases = Vec::new();
        let mut prefixes = Vec::new();
        fn walk(q: &Query, ph: &mut Vec<Vec<String>>, pre: &mut Vec<String>) {
            match q {
                Query::Phrase(t) => ph.push(t.clone()),
                Query::Prefix(p) => pre.push(p.clone()),
                Query::Near { left, right, .. } => {
                    ph.push(left.clone());
                    ph.push(right.clone());
                }
                Query::And(v) | Query::Or(v) => v.iter().for_each(|q| walk(q, ph, pre)),
                _ => {}
            }
        }
        walk(self, &mut phrases, &mut prefixes);
        (phrases, prefixes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        terms(s)
    }

    #[test]
    fn precedence_is_or_then_and_then_not_then_near() {
        let q = parse("a b OR c -d").unwrap();
        assert_eq!(
            q,
            Query::Or(vec![
                Query::And(vec![Query::Phrase(p("a")), Query::Phrase(p("b"))]),
                Query::And(vec![
                    Query::Phrase(p("c")),
                    Query::Not(Box::new(Query::Phrase(p("d"))))
                ]),
            ])
        );
        let q = parse("NOT x NEAR/2 y").unwrap();
        assert!(
            matches!(q, Query::Not(inner) if matches!(*inner, Query::Near { distance: 2, ordered: false, .. }))
        );
    }

    #[test]
    fn fields_hashtags_mentions_and_dates() {
        let q = parse("#Café @Acme lang:DE since:2026-01-01 until:2026-02-01").unwrap();
        let Query::And(parts) = q else { panic!() };
        assert_eq!(parts[0], Query::Field(FieldFilter::Hashtag("cafe".into())));
        assert_eq!(parts[1], Query::Field(FieldFilter::Mention("acme".into())));
        assert_eq!(parts[2], Query::Field(FieldFilter::Lang("de".into())));
        assert_eq!(
            parts[3],
            Query::Range {
                since: Some(1767225600),
                until: Some(1769904000)
            }
        );
        assert_eq!(
            parse("author:\"Jane Doe\"").unwrap(),
            Query::Field(FieldFilter::Author("jane doe".into()))
        );
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse("refund AND (late OR").unwrap_err();
        assert_eq!(e.position, 20, "{e}");
        let e = parse("a \"open phrase").unwrap_err();
        assert_eq!(e.position, 3);
        assert!(e.message.contains("quote"));
        let e = parse("colour:red").unwrap_err();
        assert_eq!(e.position, 1);
        assert!(e.message.contains("unknown field"));
        let e = parse("x NEAR/abc y").unwrap_err();
        assert_eq!(e.position, 3);
        let e = parse("a b)").unwrap_err();
        assert_eq!(e.position, 4);
        let e = parse("since:yesterday").unwrap_err();
        assert!(e.message.contains("not a date"));
        let e = parse("x*y").unwrap_err();
        assert!(e.message.contains("end of a word"));
        let e = parse("(a OR b) NEAR/3 c").unwrap_err();
        assert_eq!(e.position, 1);
    }

    #[test]
    fn lowercase_or_is_a_word() {
        assert_eq!(
            parse("this or that").unwrap(),
            Query::And(vec![
                Query::Phrase(p("this")),
                Query::Phrase(p("or")),
                Query::Phrase(p("that"))
            ])
        );
    }

    #[test]
    fn cjk_words_become_bigram_phrases() {
        assert_eq!(parse("质量").unwrap(), Query::Phrase(vec!["质量".into()]));
        assert_eq!(
            parse("배송이").unwrap(),
            Query::Phrase(vec!["배송".into(), "송이".into()])
        );
    }

    #[test]
    fn empty_query_is_all() {
        assert_eq!(parse("  ").unwrap(), Query::All);
    }
}
