//! The tantivy index: schema, writing, and running parsed queries.

use crate::document::IndexDoc;
use crate::near::NearQuery;
use crate::query::{FieldFilter, Query};
use crate::tokenize::{SbTokenizer, TOKENIZER_NAME};
use crate::{Result, SearchError};
use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, PhraseQuery, Query as TQuery, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, SegmentOrdinal,
    SegmentReader, TantivyDocument, Term,
};

/// Bumped whenever the schema or the tokeniser changes; an index of another version is
/// rebuilt from the store.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub id: Field,
    pub ws: Field,
    pub text: Field,
    pub hashtags: Field,
    pub mentions: Field,
    pub author: Field,
    pub author_handle: Field,
    pub followers: Field,
    pub lang: Field,
    pub network: Field,
    pub kind: Field,
    pub sentiment: Field,
    pub intents: Field,
    pub tags: Field,
    pub ts: Field,
    pub sk: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_opts = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        ws: b.add_text_field("ws", STRING),
        text: b.add_text_field("text", text_opts),
        hashtags: b.add_text_field("hashtags", STRING | FAST | STORED),
        mentions: b.add_text_field("mentions", STRING),
        author: b.add_text_field("author", STRING),
        author_handle: b.add_text_field("author_handle", STRING | FAST),
        followers: b.add_i64_field("followers", FAST),
        lang: b.add_text_field("lang", STRING | FAST),
        network: b.add_text_field("network", STRING | FAST),
        kind: b.add_text_field("kind", STRING | FAST),
        sentiment: b.add_text_field("sentiment", STRING | FAST),
        intents: b.add_text_field("intents", STRING | FAST | STORED),
        tags: b.add_text_field("tags", STRING),
        ts: b.add_i64_field("ts", INDEXED | FAST),
        sk: b.add_u64_field("sk", INDEXED | FAST),
    };
    (b.build(), f)
}

/// Newest first with a stable tie-break: seconds since the epoch in the high bits, a hash of
/// the item id in the low 24. The cursor of a page is the last key it returned.
pub fn sort_key(ts: i64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in id.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    ((ts.max(0) as u64) << 24) | (h & 0xFF_FFFF)
}

type Clauses = Vec<(Occur, Box<dyn TQuery>)>;

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    pub fields: Fields,
    writer: Mutex<Option<IndexWriter>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub ids: Vec<String>,
    /// Cursor for the next page, when there may be one.
    pub next: Option<u64>,
}

/// The commit payload: the schema version and how far into the store's change log the index
/// has read.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Watermark {
    pub version: u32,
    pub seq: i64,
}

impl SearchIndex {
    fn from_index(index: Index, fields: Fields) -> Result<SearchIndex> {
        index
            .tokenizers()
            .register(TOKENIZER_NAME, SbTokenizer::default());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            writer: Mutex::new(None),
        })
    }

    /// Opens the index in `dir`, creating it (or recreating it, empty, when it was built by
    /// another schema version: the caller then rebuilds it from the store).
    pub fn open(dir: &Path) -> Result<SearchIndex> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Io(dir.display().to_string(), e))?;
        let (schema, fields) = schema();
        let meta = dir.join("meta.json");
        if meta.exists() {
            if let Ok(index) = Index::open_in_dir(dir) {
                let ok = index.schema() == schema
                    && read_watermark(&index).is_some_and(|w| w.version == SCHEMA_VERSION);
                if ok {
                    return Self::from_index(index, fields);
                }
            }
            // Derived data of another version: start over.
            for entry in
                std::fs::read_dir(dir).map_err(|e| SearchError::Io(dir.display().to_string(), e))?
            {
                let p = entry
                    .map_err(|e| SearchError::Io(dir.display().to_string(), e))?
                    .path();
                if p.is_file() {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        let index = Index::create_in_dir(dir, schema)?;
        let me = Self::from_index(index, fields)?;
        // Mark the fresh index with its version so a reopen does not wipe it again.
        if me.try_writer(15_000_000)? {
            me.commit(&Watermark {
                version: SCHEMA_VERSION,
                seq: 0,
            })?;
            me.release_writer();
        }
        Ok(me)
    }

    pub fn in_memory() -> Result<SearchIndex> {
        let (schema, fields) = schema();
        Self::from_index(Index::create_in_ram(schema), fields)
    }

    /// Takes the index's single writer. Returns false when another process holds it (a
    /// server keeping the index current): that process will index the changes.
    pub fn try_writer(&self, heap_bytes: usize) -> Result<bool> {
        let mut w = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        if w.is_some() {
            return Ok(true);
        }
        match self.index.writer(heap_bytes.max(15_000_000)) {
            Ok(writer) => {
                *w = Some(writer);
                Ok(true)
            }
            Err(tantivy::TantivyError::LockFailure(..)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub fn release_writer(&self) {
        if let Ok(mut w) = self.writer.lock() {
            *w = None;
        }
    }

    pub fn has_writer(&self) -> bool {
        self.writer.lock().map(|w| w.is_some()).unwrap_or(false)
    }

    fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter) -> Result<T>) -> Result<T> {
        let mut w = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        match w.as_mut() {
            Some(w) => f(w),
            None => Err(SearchError::NoWriter),
        }
    }

    pub fn to_document(&self, d: &IndexDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &d.id);
        doc.add_text(f.ws, &d.workspace_id);
        doc.add_text(f.text, &d.text);
        for h in &d.hashtags {
            doc.add_text(f.hashtags, h);
        }
        for m in &d.mentions {
            doc.add_text(f.mentions, m);
        }
        for a in &d.author_keys {
            doc.add_text(f.author, a);
        }
        doc.add_text(f.author_handle, &d.author);
        doc.add_i64(f.followers, d.followers);
        doc.add_text(f.lang, &d.lang);
        doc.add_text(f.network, &d.network);
        doc.add_text(f.kind, &d.kind);
        doc.add_text(f.sentiment, &d.sentiment);
        for i in &d.intents {
            doc.add_text(f.intents, i);
        }
        for t in &d.tags {
            doc.add_text(f.tags, t);
        }
        doc.add_i64(f.ts, d.ts);
        doc.add_u64(f.sk, sort_key(d.ts, &d.id));
        doc
    }

    /// Adds or replaces documents (by item id). Visible after [`Self::commit`].
    pub fn upsert(&self, docs: &[IndexDoc]) -> Result<()> {
        self.with_writer(|w| {
            for d in docs {
                w.delete_term(Term::from_field_text(self.fields.id, &d.id));
                w.add_document(self.to_document(d))?;
            }
            Ok(())
        })
    }

    /// Adds documents known to be new (a rebuild): no delete per document.
    pub fn add_new(&self, docs: &[IndexDoc]) -> Result<()> {
        self.with_writer(|w| {
            for d in docs {
                w.add_document(self.to_document(d))?;
            }
            Ok(())
        })
    }

    pub fn delete_ids(&self, ids: &[String]) -> Result<()> {
        self.with_writer(|w| {
            for id in ids {
                w.delete_term(Term::from_field_text(self.fields.id, id));
            }
            Ok(())
        })
    }

    pub fn delete_all(&self) -> Result<()> {
        self.with_writer(|w| {
            w.delete_all_documents()?;
            Ok(())
        })
    }

    /// Commits with the watermark as payload, so the index and its position in the change
    /// log are saved together; then makes the changes visible to searches here.
    pub fn commit(&self, mark: &Watermark) -> Result<()> {
        self.with_writer(|w| {
            let mut prepared = w.prepare_commit()?;
            prepared.set_payload(&serde_json::to_string(mark).unwrap_or_default());
            prepared.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    pub fn watermark(&self) -> Option<Watermark> {
        read_watermark(&self.index)
    }

    /// Picks up commits made by another process now rather than after the watcher's delay.
    pub fn refresh(&self) -> Result<()> {
        self.reader.reload()?;
        Ok(())
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The tantivy query for a parsed query within the given workspaces.
    pub fn compile(&self, workspaces: &[String], q: &Query) -> Result<Box<dyn TQuery>> {
        let scope: Box<dyn TQuery> = if workspaces.len() == 1 {
            Box::new(self.term(self.fields.ws, &workspaces[0]))
        } else {
            Box::new(BooleanQuery::new(
                workspaces
                    .iter()
                    .map(|w| {
                        (
                            Occur::Should,
                            Box::new(self.term(self.fields.ws, w)) as Box<dyn TQuery>,
                        )
                    })
                    .collect(),
            ))
        };
        // One flat conjunction: the scope next to the query's own clauses rather than around
        // a nested query, so tantivy intersects them all at once (a nested AND/NOT was up to
        // 1.3x slower than the flat form).
        let mut clauses = vec![(Occur::Must, scope)];
        match q {
            Query::All => {}
            Query::And(parts) => clauses.extend(self.and_clauses(parts)?.0),
            Query::Not(inner) => clauses.push((Occur::MustNot, self.to_tantivy(inner)?)),
            other => clauses.push((Occur::Must, self.to_tantivy(other)?)),
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// The clauses of an AND, and whether any of them is positive (not a NOT).
    fn and_clauses(&self, parts: &[Query]) -> Result<(Clauses, bool)> {
        let mut clauses = Vec::new();
        let mut positive = false;
        for p in parts {
            match p {
                Query::Not(inner) => clauses.push((Occur::MustNot, self.to_tantivy(inner)?)),
                other => {
                    positive = true;
                    clauses.push((Occur::Must, self.to_tantivy(other)?))
                }
            }
        }
        Ok((clauses, positive))
    }

    fn term(&self, field: Field, v: &str) -> TermQuery {
        TermQuery::new(Term::from_field_text(field, v), IndexRecordOption::Basic)
    }

    fn to_tantivy(&self, q: &Query) -> Result<Box<dyn TQuery>> {
        let f = &self.fields;
        Ok(match q {
            Query::All => Box::new(AllQuery),
            Query::Phrase(t) if t.len() == 1 => Box::new(self.term(f.text, &t[0])),
            Query::Phrase(t) => Box::new(PhraseQuery::new(
                t.iter().map(|w| Term::from_field_text(f.text, w)).collect(),
            )),
            Query::Prefix(p) => Box::new(RegexQuery::from_pattern(
                &format!("{}.*", regex_escape(p)),
                f.text,
            )?),
            Query::Field(ff) => {
                let field = match ff {
                    FieldFilter::Hashtag(_) => f.hashtags,
                    FieldFilter::Mention(_) => f.mentions,
                    FieldFilter::Lang(_) => f.lang,
                    FieldFilter::Network(_) => f.network,
                    FieldFilter::Sentiment(_) => f.sentiment,
                    FieldFilter::Intent(_) => f.intents,
                    FieldFilter::Author(_) => f.author,
                    FieldFilter::Kind(_) => f.kind,
                    FieldFilter::Tag(_) => f.tags,
                };
                Box::new(self.term(field, ff.value()))
            }
            Query::Range { since, until } => {
                let lo = since
                    .map(|s| Bound::Included(Term::from_field_i64(f.ts, s)))
                    .unwrap_or(Bound::Unbounded);
                let hi = until
                    .map(|u| Bound::Excluded(Term::from_field_i64(f.ts, u)))
                    .unwrap_or(Bound::Unbounded);
                Box::new(RangeQuery::new(lo, hi))
            }
            Query::And(parts) => {
                let (mut clauses, positive) = self.and_clauses(parts)?;
                if !positive {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Query::Or(parts) => Box::new(BooleanQuery::new(
                parts
                    .iter()
                    .map(|p| Ok((Occur::Should, self.to_tantivy(p)?)))
                    .collect::<Result<Vec<_>>>()?,
            )),
            Query::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn TQuery>),
                (Occur::MustNot, self.to_tantivy(inner)?),
            ])),
            Query::Near {
                left,
                right,
                distance,
                ordered,
            } => Box::new(NearQuery::new(f.text, left, right, *distance, *ordered)),
        })
    }

    /// Matching item ids, newest first, `limit` at a time; `cursor` is the previous page's `next`.
    pub fn search(
        &self,
        workspaces: &[String],
        q: &Query,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<Page> {
        let compiled = self.compile(workspaces, q)?;
        let query: Box<dyn TQuery> = match cursor {
            Some(c) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, compiled),
                (
                    Occur::Must,
                    Box::new(RangeQuery::new(
                        Bound::Unbounded,
                        Bound::Excluded(Term::from_field_u64(self.fields.sk, c)),
                    )),
                ),
            ])),
            None => compiled,
        };
        let searcher = self.reader.searcher();
        let limit = limit.clamp(1, 1000);
        let top = searcher.search(
            &query,
            &TopDocs::with_limit(limit + 1).order_by_u64_field("sk", Order::Desc),
        )?;
        let more = top.len() > limit;
        let mut ids = Vec::with_capacity(limit);
        let mut last = None;
        for (key, addr) in top.into_iter().take(limit) {
            ids.push(self.stored_id(&searcher, addr)?);
            last = key;
        }
        Ok(Page {
            ids,
            next: if more { last } else { None },
        })
    }

    fn stored_id(&self, searcher: &tantivy::Searcher, addr: DocAddress) -> Result<String> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        Ok(doc
            .get_first(self.fields.id)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string())
    }

    pub fn count(&self, workspaces: &[String], q: &Query) -> Result<u64> {
        let compiled = self.compile(workspaces, q)?;
        Ok(self.reader.searcher().search(&compiled, &Count)? as u64)
    }

    /// Counts per time bucket (unix seconds, `granularity` wide, aligned to the epoch) and,
    /// within each, per value of `split` (a keyword field such as `sentiment`), plus value
    /// breakdowns of other keyword fields and the top authors, all in one pass.
    pub fn stats(&self, workspaces: &[String], q: &Query, req: &StatsRequest) -> Result<Stats> {
        let compiled = self.compile(workspaces, q)?;
        let searcher = self.reader.searcher();
        Ok(searcher.search(&compiled, &StatsCollector { req: req.clone() })?)
    }

    /// The newest `n` matching documents' text, hashtags and intents (for term statistics).
    pub fn sample(&self, workspaces: &[String], q: &Query, n: usize) -> Result<Vec<Sampled>> {
        let compiled = self.compile(workspaces, q)?;
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &compiled,
            &TopDocs::with_limit(n.max(1)).order_by_u64_field("sk", Order::Desc),
        )?;
        let mut out = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let strings = |field: Field| -> Vec<String> {
                doc.get_all(field)
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            };
            out.push(Sampled {
                text: strings(self.fields.text)
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                hashtags: strings(self.fields.hashtags),
                intents: strings(self.fields.intents),
            });
        }
        Ok(out)
    }

    pub fn raw_index(&self) -> &Index {
        &self.index
    }
    pub fn searcher(&self) -> tantivy::Searcher {
        self.reader.searcher()
    }
}

fn read_watermark(index: &Index) -> Option<Watermark> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~\"".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Clone, Debug)]
pub struct Sampled {
    pub text: String,
    pub hashtags: Vec<String>,
    pub intents: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct StatsRequest {
    /// Histogram bucket width in seconds (0 = no histogram).
    pub granularity: i64,
    /// Keyword field to split histogram buckets by (`sentiment`, `intents`, `lang`, `network`).
    pub split: Option<&'static str>,
    /// Keyword fields to count values of.
    pub breakdowns: Vec<&'static str>,
    /// How many top authors (by followers) to return; 0 = none.
    pub authors: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub total: u64,
    /// Bucket start -> (split value or "" -> count).
    pub histogram: std::collections::BTreeMap<i64, HashMap<String, u64>>,
    pub breakdowns: HashMap<String, Vec<(String, u64)>>,
    pub authors: Vec<AuthorStat>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuthorStat {
    pub handle: String,
    pub followers: i64,
    pub items: u64,
}

struct StatsCollector {
    req: StatsRequest,
}

struct SegmentStats {
    req: StatsRequest,
    ts: Option<Column<i64>>,
    split: Option<StrColumn>,
    /// `split` has at most one value per document, so a block's values are read at once.
    split_single: bool,
    hist: Histogram,
    /// (field, column, count per term ord, single-valued).
    breakdowns: Vec<(&'static str, StrColumn, Vec<u64>, bool)>,
    author: Option<(StrColumn, Column<i64>)>,
    /// Per author ord: items, and the most followers seen (dense: ords are 0..num_terms).
    author_items: Vec<u64>,
    author_followers: Vec<i64>,
    total: u64,
    // Scratch space for reading a block of fast-field values.
    ts_buf: Vec<Option<i64>>,
    ord_buf: Vec<Option<u64>>,
    num_buf: Vec<Option<i64>>,
}

/// Most (bucket x split value) cells counted in a flat table per segment; a wider range (a
/// fine granularity over years) goes to the hash map.
const DENSE_HISTOGRAM_CELLS: i64 = 1 << 20;

/// Histogram counts of one segment: a flat table over the segment's time range (from the
/// `ts` column's min and max) and split values, with a hash map for anything outside it.
struct Histogram {
    /// Bucket width in seconds.
    g: i64,
    /// `ts.div_euclid(g)` of the table's first row.
    first: i64,
    rows: i64,
    /// Split term ords, plus one last slot for "no split value".
    width: usize,
    dense: Vec<u64>,
    /// (bucket start, split ord or u64::MAX) -> count.
    sparse: HashMap<(i64, u64), u64>,
}

impl Histogram {
    fn new(g: i64, ts: Option<&Column<i64>>, split_terms: usize) -> Histogram {
        let width = split_terms + 1;
        let (mut first, mut rows) = (0, 0);
        if let (Some(ts), true) = (ts, g > 0) {
            let lo = ts.min_value().div_euclid(g);
            let hi = ts.max_value().div_euclid(g);
            let n = (hi as i128 - lo as i128 + 1).max(0);
            if n * (width as i128) <= DENSE_HISTOGRAM_CELLS as i128 {
                first = lo;
                rows = n as i64;
            }
        }
        Histogram {
            g,
            first,
            rows,
            width,
            dense: vec![0; rows as usize * width],
            sparse: HashMap::new(),
        }
    }

    #[inline]
    fn add(&mut self, t: i64, ord: Option<u64>) {
        let b = t.div_euclid(self.g);
        let row = b.wrapping_sub(self.first);
        let slot = match ord {
            Some(o) if (o as usize) < self.width - 1 => Some(o as usize),
            Some(_) => None,
            None => Some(self.width - 1),
        };
        match slot {
            Some(slot) if (0..self.rows).contains(&row) => {
                self.dense[row as usize * self.width + slot] += 1;
            }
            _ => {
                *self
                    .sparse
                    .entry((b * self.g, ord.unwrap_or(u64::MAX)))
                    .or_default() += 1
            }
        }
    }

    /// (bucket start, split ord or u64::MAX, count) of every non-empty cell.
    fn cells(self) -> impl Iterator<Item = (i64, u64, u64)> {
        let (g, first, width) = (self.g, self.first, self.width);
        self.dense
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(move |(i, n)| {
                let slot = i % width;
                let ord = if slot == width - 1 {
                    u64::MAX
                } else {
                    slot as u64
                };
                ((first + (i / width) as i64) * g, ord, n)
            })
            .chain(self.sparse.into_iter().map(|((b, o), n)| (b, o, n)))
    }
}

fn single_valued(col: &StrColumn) -> bool {
    !matches!(
        col.ords().get_cardinality(),
        tantivy::columnar::Cardinality::Multivalued
    )
}

fn ord_str(col: &StrColumn, ord: u64) -> String {
    let mut s = String::new();
    let _ = col.ord_to_str(ord, &mut s);
    s
}

impl Collector for StatsCollector {
    type Fruit = Stats;
    type Child = SegmentStats;

    fn for_segment(
        &self,
        _ord: SegmentOrdinal,
        seg: &SegmentReader,
    ) -> tantivy::Result<SegmentStats> {
        let ff = seg.fast_fields();
        let ts = if self.req.granularity > 0 {
            Some(ff.i64("ts")?)
        } else {
            None
        };
        let split = match self.req.split {
            Some(name) => ff.str(name)?,
            None => None,
        };
        let mut breakdowns = Vec::new();
        for name in &self.req.breakdowns {
            if let Some(col) = ff.str(name)? {
                let n = col.num_terms();
                let single = single_valued(&col);
                breakdowns.push((*name, col, vec![0u64; n], single));
            }
        }
        let author = if self.req.authors > 0 {
            ff.str("author_handle")?.map(|c| (c, ff.i64("followers")))
        } else {
            None
        };
        let author = match author {
            Some((c, Ok(f))) => Some((c, f)),
            Some((_, Err(e))) => return Err(e),
            None => None,
        };
        let authors = author.as_ref().map_or(0, |(c, _)| c.num_terms());
        Ok(SegmentStats {
            req: self.req.clone(),
            hist: Histogram::new(
                self.req.granularity,
                ts.as_ref(),
                split.as_ref().map_or(0, |c| c.num_terms()),
            ),
            split_single: split.as_ref().is_some_and(single_valued),
            ts,
            split,
            breakdowns,
            author,
            author_items: vec![0; authors],
            author_followers: vec![0; authors],
            total: 0,
            ts_buf: Vec::new(),
            ord_buf: Vec::new(),
            num_buf: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// Feeds the matches to [`SegmentStats::collect_block`] a block at a time, also when the
    /// segment has deleted documents (tantivy's default then goes one document at a time).
    fn collect_segment(
        &self,
        weight: &dyn tantivy::query::Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Stats> {
        let mut child = self.for_segment(segment_ord, reader)?;
        match reader.alive_bitset() {
            None => weight.for_each_no_score(reader, &mut |docs| child.collect_block(docs))?,
            Some(alive) => {
                let mut live = Vec::with_capacity(tantivy::COLLECT_BLOCK_BUFFER_LEN);
                weight.for_each_no_score(reader, &mut |docs| {
                    live.clear();
                    live.extend(docs.iter().copied().filter(|d| alive.is_alive(*d)));
                    child.collect_block(&live);
                })?;
            }
        }
        Ok(child.harvest())
    }

    fn merge_fruits(&self, fruits: Vec<Stats>) -> tantivy::Result<Stats> {
        let mut out = Stats::default();
        let mut breakdowns: HashMap<String, HashMap<String, u64>> = HashMap::new();
        let mut authors: HashMap<String, AuthorStat> = HashMap::new();
        for f in fruits {
            out.total += f.total;
            for (b, m) in f.histogram {
                let e = out.histogram.entry(b).or_default();
                for (k, v) in m {
                    *e.entry(k).or_default() += v;
                }
            }
            for (name, vals) in f.breakdowns {
                let e = breakdowns.entry(name).or_default();
                for (k, v) in vals {
                    *e.entry(k).or_default() += v;
                }
            }
            for a in f.authors {
                let e = authors.entry(a.handle.clone()).or_insert(AuthorStat {
                    handle: a.handle.clone(),
                    followers: 0,
                    items: 0,
                });
                e.items += a.items;
                e.followers = e.followers.max(a.followers);
            }
        }
        for (name, m) in breakdowns {
            let mut v: Vec<(String, u64)> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            out.breakdowns.insert(name, v);
        }
        let mut a: Vec<AuthorStat> = authors.into_values().collect();
        a.sort_by(|x, y| {
            y.followers
                .cmp(&x.followers)
                .then(y.items.cmp(&x.items))
                .then_with(|| x.handle.cmp(&y.handle))
        });
        a.truncate(self.req.authors);
        out.authors = a;
        Ok(out)
    }
}

impl SegmentCollector for SegmentStats {
    type Fruit = Stats;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        let n = docs.len();
        self.total += n as u64;
        if let Some(ts) = &self.ts {
            self.ts_buf.clear();
            self.ts_buf.resize(n, None);
            ts.first_vals(docs, &mut self.ts_buf);
            let hist = &mut self.hist;
            match &self.split {
                Some(col) if self.split_single => {
                    self.ord_buf.clear();
                    self.ord_buf.resize(n, None);
                    col.ords().first_vals(docs, &mut self.ord_buf);
                    for (t, ord) in self.ts_buf.iter().zip(&self.ord_buf) {
                        hist.add(t.unwrap_or(0), *ord);
                    }
                }
                Some(col) => {
                    for (t, &doc) in self.ts_buf.iter().zip(docs) {
                        let t = t.unwrap_or(0);
                        let mut any = false;
                        for ord in col.term_ords(doc) {
                            any = true;
                            hist.add(t, Some(ord));
                        }
                        if !any {
                            hist.add(t, None);
                        }
                    }
                }
                None => {
                    for t in &self.ts_buf {
                        hist.add(t.unwrap_or(0), None);
                    }
                }
            }
        }
        for (_, col, counts, single) in &mut self.breakdowns {
            if *single {
                self.ord_buf.clear();
                self.ord_buf.resize(n, None);
                col.ords().first_vals(docs, &mut self.ord_buf);
                for ord in self.ord_buf.iter().flatten() {
                    if let Some(c) = counts.get_mut(*ord as usize) {
                        *c += 1;
                    }
                }
            } else {
                for &doc in docs {
                    for ord in col.term_ords(doc) {
                        if let Some(c) = counts.get_mut(ord as usize) {
                            *c += 1;
                        }
                    }
                }
            }
        }
        if let Some((col, followers)) = &self.author {
            self.ord_buf.clear();
            self.ord_buf.resize(n, None);
            col.ords().first_vals(docs, &mut self.ord_buf);
            self.num_buf.clear();
            self.num_buf.resize(n, None);
            followers.first_vals(docs, &mut self.num_buf);
            for (ord, f) in self.ord_buf.iter().zip(&self.num_buf) {
                if let Some(ord) = *ord {
                    let o = ord as usize;
                    if o < self.author_items.len() {
                        self.author_items[o] += 1;
                        let m = &mut self.author_followers[o];
                        *m = (*m).max(f.unwrap_or(0));
                    }
                }
            }
        }
    }

    fn harvest(self) -> Stats {
        let mut out = Stats {
            total: self.total,
            ..Stats::default()
        };
        let mut names: HashMap<u64, String> = HashMap::new();
        for (bucket, ord, n) in self.hist.cells() {
            let key = if ord == u64::MAX {
                String::new()
            } else {
                match (&self.split, names.get(&ord)) {
                    (_, Some(s)) => s.clone(),
                    (Some(col), None) => {
                        let s = ord_str(col, ord);
                        names.insert(ord, s.clone());
                        s
                    }
                    (None, None) => String::new(),
                }
            };
            *out.histogram
                .entry(bucket)
                .or_default()
                .entry(key)
                .or_default() += n;
        }
        for (name, col, counts, _) in self.breakdowns {
            let vals = counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(ord, c)| (ord_str(&col, ord as u64), *c))
                .collect();
            out.breakdowns.insert(name.to_string(), vals);
        }
        if let Some((col, _)) = &self.author {
            // Keep only the strongest candidates per segment; the merge re-ranks.
            let mut v: Vec<(usize, u64, i64)> = self
                .author_items
                .iter()
                .zip(&self.author_followers)
                .enumerate()
                .filter(|(_, (items, _))| **items > 0)
                .map(|(ord, (items, followers))| (ord, *items, *followers))
                .collect();
            let strongest = |a: &(usize, u64, i64), b: &(usize, u64, i64)| {
                b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0))
            };
            let keep = self.req.authors.saturating_mul(20).max(200);
            if v.len() > keep {
                v.select_nth_unstable_by(keep - 1, strongest);
                v.truncate(keep);
            }
            v.sort_unstable_by(strongest);
            out.authors = v
                .into_iter()
                .map(|(ord, items, followers)| AuthorStat {
                    handle: ord_str(col, ord as u64),
                    followers,
                    items,
                })
                .collect();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random documents in two workspaces, in two segments, some replaced (deleted docs).
    fn docs() -> Vec<IndexDoc> {
        let mut x: u64 = 7;
        let mut next = move |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        (0..3000)
            .map(|i| {
                let author = next(50);
                let intents: Vec<String> = ["complaint", "refund", "question"]
                    .iter()
                    .filter(|_| next(3) == 0)
                    .map(|s| s.to_string())
                    .collect();
                IndexDoc {
                    id: format!("d{i}"),
                    workspace_id: if next(4) == 0 { "b" } else { "a" }.into(),
                    network: "mastodon".into(),
                    kind: "post".into(),
                    lang: ["en", "de", "ko"][next(3) as usize].into(),
                    sentiment: ["positive", "negative", "neutral", "mixed"][next(4) as usize]
                        .into(),
                    text: "word".into(),
                    author: format!("user{author}"),
                    followers: (author as i64 * 7919) % 1000,
                    intents,
                    ts: 1_700_000_000 + next(400 * 86_400) as i64,
                    ..IndexDoc::default()
                }
            })
            .collect()
    }

    fn expected(docs: &[IndexDoc], req: &StatsRequest) -> Stats {
        let mut out = Stats::default();
        let mut breakdowns: BTreeMap<&str, HashMap<String, u64>> = BTreeMap::new();
        let mut authors: HashMap<String, (u64, i64)> = HashMap::new();
        for d in docs.iter().filter(|d| d.workspace_id == "a") {
            out.total += 1;
            let values = |field: &str| -> Vec<String> {
                match field {
                    "sentiment" => vec![d.sentiment.clone()],
                    "lang" => vec![d.lang.clone()],
                    "intents" => d.intents.clone(),
                    _ => unreachable!(),
                }
            };
            if req.granularity > 0 {
                let b = d.ts.div_euclid(req.granularity) * req.granularity;
                let mut keys = req.split.map(values).unwrap_or_default();
                if keys.is_empty() {
                    keys.push(String::new());
                }
                for k in keys {
                    *out.histogram.entry(b).or_default().entry(k).or_default() += 1;
                }
            }
            for name in &req.breakdowns {
                for v in values(name) {
                    *breakdowns.entry(name).or_default().entry(v).or_default() += 1;
                }
            }
            let e = authors.entry(d.author.clone()).or_default();
            e.0 += 1;
            e.1 = e.1.max(d.followers);
        }
        for (name, m) in breakdowns {
            let mut v: Vec<(String, u64)> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            out.breakdowns.insert(name.to_string(), v);
        }
        if req.authors > 0 {
            let mut a: Vec<AuthorStat> = authors
                .into_iter()
                .map(|(handle, (items, followers))| AuthorStat {
                    handle,
                    followers,
                    items,
                })
                .collect();
            a.sort_by(|x, y| {
                y.followers
                    .cmp(&x.followers)
                    .then(y.items.cmp(&x.items))
                    .then_with(|| x.handle.cmp(&y.handle))
            });
            a.truncate(req.authors);
            out.authors = a;
        }
        out
    }

    #[test]
    fn stats_match_a_plain_count_across_segments_deletes_and_table_shapes() {
        let index = SearchIndex::in_memory().unwrap();
        assert!(index.try_writer(20_000_000).unwrap());
        let mut all = docs();
        index.add_new(&all[..1500]).unwrap();
        index.commit(&Watermark::default()).unwrap();
        index.add_new(&all[1500..]).unwrap();
        index.commit(&Watermark::default()).unwrap();
        // Replace some documents: the old versions stay in their segment, deleted.
        for d in all.iter_mut().step_by(7) {
            d.sentiment = "negative".into();
            d.ts += 3 * 86_400;
        }
        let changed: Vec<IndexDoc> = all.iter().step_by(7).cloned().collect();
        index.upsert(&changed).unwrap();
        index.commit(&Watermark::default()).unwrap();
        let ws = ["a".to_string()];
        let requests = [
            StatsRequest {
                granularity: 86_400,
                split: Some("sentiment"),
                breakdowns: vec!["lang", "intents"],
                authors: 5,
            },
            // One-second buckets over 400 days: too wide for the table, all in the map.
            StatsRequest {
                granularity: 1,
                ..StatsRequest::default()
            },
            // A multi-valued split, with documents that have no value.
            StatsRequest {
                granularity: 3600,
                split: Some("intents"),
                ..StatsRequest::default()
            },
        ];
        for req in &requests {
            let got = index.stats(&ws, &Query::All, req).unwrap();
            assert_eq!(got, expected(&all, req), "{req:?}");
        }
    }
}
