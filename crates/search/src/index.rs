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
        let inner = self.to_tantivy(q)?;
        Ok(Box::new(BooleanQuery::new(vec![
            (Occur::Must, scope),
            (Occur::Must, inner),
        ])))
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
                let mut clauses = Vec::new();
                let mut positive = false;
                for p in parts {
                    match p {
                        Query::Not(inner) => {
                            clauses.push((Occur::MustNot, self.to_tantivy(inner)?))
                        }
                        other => {
                            positive = true;
                            clauses.push((Occur::Must, self.to_tantivy(other)?))
                        }
                    }
                }
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
    /// (bucket, split ord) -> count.
    hist: HashMap<(i64, u64), u64>,
    breakdowns: Vec<(&'static str, StrColumn, Vec<u64>)>,
    author: Option<(StrColumn, Column<i64>)>,
    /// author ord -> (items, max followers)
    authors: HashMap<u64, (u64, i64)>,
    total: u64,
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
                breakdowns.push((*name, col, vec![0u64; n]));
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
        Ok(SegmentStats {
            req: self.req.clone(),
            ts,
            split,
            hist: HashMap::new(),
            breakdowns,
            author,
            authors: HashMap::new(),
            total: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
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
        self.total += 1;
        if let Some(ts) = &self.ts {
            let g = self.req.granularity;
            let t = ts.first(doc).unwrap_or(0);
            let bucket = t.div_euclid(g) * g;
            match &self.split {
                Some(col) => {
                    let mut any = false;
                    for ord in col.term_ords(doc) {
                        any = true;
                        *self.hist.entry((bucket, ord)).or_default() += 1;
                    }
                    if !any {
                        *self.hist.entry((bucket, u64::MAX)).or_default() += 1;
                    }
                }
                None => *self.hist.entry((bucket, u64::MAX)).or_default() += 1,
            }
        }
        for (_, col, counts) in &mut self.breakdowns {
            for ord in col.term_ords(doc) {
                if let Some(c) = counts.get_mut(ord as usize) {
                    *c += 1;
                }
            }
        }
        if let Some((col, followers)) = &self.author {
            if let Some(ord) = col.term_ords(doc).next() {
                let f = followers.first(doc).unwrap_or(0);
                let e = self.authors.entry(ord).or_insert((0, 0));
                e.0 += 1;
                e.1 = e.1.max(f);
            }
        }
    }

    fn harvest(self) -> Stats {
        let mut out = Stats {
            total: self.total,
            ..Stats::default()
        };
        let mut names: HashMap<u64, String> = HashMap::new();
        for ((bucket, ord), n) in self.hist {
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
        for (name, col, counts) in self.breakdowns {
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
            let mut v: Vec<(u64, (u64, i64))> = self.authors.into_iter().collect();
            v.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(b.1 .0.cmp(&a.1 .0)));
            v.truncate(self.req.authors.saturating_mul(20).max(200));
            out.authors = v
                .into_iter()
                .map(|(ord, (items, followers))| AuthorStat {
                    handle: ord_str(col, ord),
                    followers,
                    items,
                })
                .collect();
        }
        out
    }
}
