//! `switchboard bench listen`: the Listening search targets, measured. Generates multilingual
//! items (en, de, ko, zh) deterministically, builds the index twice from the same documents
//! (through `switchboard_search::SearchIndex`, and with tantivy directly, same schema, tokeniser
//! and writer heap), then times a fixed suite of queries through our layer and as hand-built
//! tantivy queries on the same index, printing p50/p95 per query, the ratio ours/raw and peak
//! memory.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use switchboard_search::document::handle_keys;
use switchboard_search::index::{schema, sort_key, Fields, SCHEMA_VERSION};
use switchboard_search::tokenize::{fold, keyword, SbTokenizer, TOKENIZER_NAME};
use switchboard_search::{parse, IndexDoc, SearchIndex, Stats, StatsRequest, Watermark};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    BooleanQuery, Occur, PhraseQuery, Query as TQuery, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, Order, ReloadPolicy, TantivyDocument, Term};

/// Writer heap for both builds (tantivy splits it between its indexing threads).
const HEAP_BYTES: usize = 256 << 20;
const BATCH: u64 = 10_000;
const WORKSPACES: usize = 10;
/// Share of the items in each workspace, in per mille: one large workspace, a long tail.
const WS_WEIGHTS: [u64; WORKSPACES] = [250, 180, 140, 100, 80, 70, 60, 50, 40, 30];
/// 2025-01-01T00:00:00Z; items spread over the 365 days that follow.
const YEAR_START: i64 = 1_735_689_600;
const DAY: i64 = 86_400;
const AUTHORS: u64 = 200_000;
const SEED: u64 = 0x5b11_57e2;
const LIMIT: usize = 20;

// ---------------------------------------------------------------------------------------------
// Data

/// SplitMix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut r = Rng(seed);
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// Skewed towards the front of the list, as word frequencies are.
    fn zipf<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        let u = self.unit();
        xs[((u * u) * xs.len() as f64) as usize]
    }
}

const BRANDS: &[&str] = &["Acme", "Acme", "Acme", "AcmePay", "Globex", "Initech"];
const EMOJI: &[&str] = &["😡", "😍", "👍", "🙏", "😭", "🔥", "❤️", "🤔"];
const BRAND_MENTIONS: &[&str] = &[
    "@acme_support",
    "@acme",
    "@acme@mastodon.social",
    "@globex_help",
];
const FIRST: &[&str] = &[
    "Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hanna", "Ivan", "Jae", "Kim", "Li",
    "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Yuki", "Wei", "Jürgen",
];
const LAST: &[&str] = &[
    "Smith", "Müller", "Park", "Wang", "Jones", "Schmidt", "Lee", "Chen", "Brown", "Weber", "Choi",
    "Zhang", "Garcia", "Fischer", "Kang", "Liu",
];

/// Word lists of one language, space-separated (phrases separated by `|`).
struct LangText {
    code: &'static str,
    /// Between words ("" for Chinese, written without spaces).
    sep: &'static str,
    filler: &'static str,
    negative: &'static str,
    positive: &'static str,
    neutral: &'static str,
    /// Multi-word expressions inserted whole (for phrase and NEAR queries).
    phrases: &'static str,
    hashtags: &'static str,
}

const LANG_TEXT: [LangText; 4] = [
    LangText {
        code: "en",
        sep: " ",
        filler: "the i my a to is it and this for on with again just so now still since after \
            today your app App new version update order account phone really every time when why \
            can't please fix keeps been waiting week days support team customer service package \
            delivery payment screen button email password android iphone web client checkout \
            plan pro what how got tried open of in at not no any one",
        negative:
            "crash crashes crashing crashed login refund late broken bug error slow failed \
            charged cancelled worst terrible delivery delivered deliveries missing annoying useless",
        positive: "love great fast awesome thanks helpful smooth amazing perfect delivered best \
            nice quick",
        neutral: "question how where price buy discount student hiring feature dark mode roadmap \
            when available",
        phrases: "login failed|the app keeps crashing|delivery was late|customer service|dark mode\
            |want a refund|app crash on start",
        hashtags: "AcmeApp fail support release refund CustomerService",
    },
    LangText {
        code: "de",
        sep: " ",
        filler: "die der das und ist nicht mein meine seit dem ich es mit auf für immer noch \
            wieder schon heute Woche warum sehr bitte App Update Bestellung Paket Konto Kunde \
            Kundenservice über Größe Straße Tage jetzt einfach wann",
        negative: "Absturz stürzt ab Lieferung Rückerstattung Login Fehler langsam spät kaputt \
            schlecht Ärger storniert fehlt",
        positive: "danke super schnell toll gut Lieferung perfekt hilfreich",
        neutral: "Frage Preis kaufen Rabatt Dunkelmodus Funktion verfügbar",
        phrases: "Login geht nicht|die App stürzt ständig ab|Lieferung kommt nicht|Geld zurück",
        hashtags: "Acme Lieferung Kundenservice Absturz",
    },
    LangText {
        code: "ko",
        sep: " ",
        filler: "너무 정말 앱 업데이트 후에 계속 왜 이렇게 오늘 주문 고객센터 연락이 없어요 진짜 \
            다시 이번 제품 확인 부탁 드려요 했는데 아직",
        negative:
            "배송이 늦어요 환불 해 주세요 로그인이 안 돼요 오류가 나요 최악 취소 배송 품질이 \
            나빠요 튕겨요",
        positive: "좋아요 감사합니다 최고 빨라요 배송 만족해요 추천",
        neutral: "가격 언제 문의 기능 구매 할인 있나요",
        phrases: "배송이 너무 늦어요|로그인이 안 돼요|환불해 주세요",
        hashtags: "배송 아크미 환불",
    },
    LangText {
        code: "zh",
        sep: "",
        filler:
            "这个 我 的 了 一直 已经 还 没 软件 更新 以后 订单 三天 客服 今天 为什么 真的 大家 \
            新版本 手机",
        negative: "质量 太差了 我要 退货 物流 很慢 不回复 登录 失败 闪退 崩溃 退款 发货 垃圾",
        positive: "很好用 推荐 给大家 满意 质量 不错 发货 很快 喜欢",
        neutral: "价格 多少 怎么 购买 优惠 功能 什么时候",
        phrases: "质量太差了|我要退货|登录失败|物流很慢",
        hashtags: "质量 退货 阿克米",
    },
];

/// [`LangText`] split into words, once.
struct LangWords {
    code: &'static str,
    sep: &'static str,
    filler: Vec<&'static str>,
    negative: Vec<&'static str>,
    positive: Vec<&'static str>,
    neutral: Vec<&'static str>,
    phrases: Vec<&'static str>,
    hashtags: Vec<&'static str>,
}

fn langs() -> &'static [LangWords] {
    static LANGS: std::sync::OnceLock<Vec<LangWords>> = std::sync::OnceLock::new();
    LANGS.get_or_init(|| {
        let words = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
        LANG_TEXT
            .iter()
            .map(|t| LangWords {
                code: t.code,
                sep: t.sep,
                filler: words(t.filler),
                negative: words(t.negative),
                positive: words(t.positive),
                neutral: words(t.neutral),
                phrases: t.phrases.split('|').map(str::trim).collect(),
                hashtags: words(t.hashtags),
            })
            .collect()
    })
}

fn author_followers(k: u64) -> i64 {
    // Log-uniform from 1 to ~3 million, fixed per author.
    let mut r = Rng::new(SEED ^ k.wrapping_mul(0x2545_f491_4f6c_dd1d));
    10f64.powf(r.unit() * 6.5) as i64
}

/// Item `i` of the data set: a pure function of `i`, so the same documents can be produced
/// again for the second build without holding a million of them in memory.
fn item(i: u64) -> IndexDoc {
    let mut r = Rng::new(SEED ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    // Workspace by weight.
    let mut w = r.below(1000);
    let mut ws = 0;
    while w >= WS_WEIGHTS[ws] {
        w -= WS_WEIGHTS[ws];
        ws += 1;
    }
    let lang = match r.below(100) {
        0..=49 => &langs()[0],
        50..=69 => &langs()[1],
        70..=84 => &langs()[2],
        _ => &langs()[3],
    };
    let sentiment = match r.below(100) {
        0..=34 => "negative",
        35..=59 => "positive",
        60..=89 => "neutral",
        _ => "mixed",
    };
    let kind = match r.below(100) {
        0..=59 => "post",
        60..=84 => "reply",
        _ => "mention",
    };
    // Some authors post a lot, most rarely.
    let a = (r.unit().powi(3) * AUTHORS as f64) as u64;
    let bluesky = a % 2 == 1;
    let network = if bluesky { "bluesky" } else { "mastodon" };
    let handle = if bluesky {
        format!("user{a}.bsky.social")
    } else {
        format!("user{a}@mastodon.social")
    };
    let display = format!(
        "{} {}",
        FIRST[(a % FIRST.len() as u64) as usize],
        LAST[((a / 7) % LAST.len() as u64) as usize]
    );

    let mut words: Vec<&str> = Vec::with_capacity(32);
    // Replies and mentions address someone first ("" marks where).
    let mention = if kind != "post" || r.chance(0.1) {
        words.push("");
        Some(if r.chance(0.7) {
            r.pick(BRAND_MENTIONS).to_string()
        } else {
            format!("@user{}@mastodon.social", r.below(AUTHORS))
        })
    } else {
        None
    };
    let n = 6 + r.below(17) as usize;
    let phrase_at = if r.chance(0.3) {
        Some(r.below(n as u64) as usize)
    } else {
        None
    };
    for k in 0..n {
        if phrase_at == Some(k) {
            words.push(r.pick(&lang.phrases));
            continue;
        }
        let u = r.unit();
        let w = if u < 0.2 {
            let list = match sentiment {
                "negative" => &lang.negative,
                "positive" => &lang.positive,
                "neutral" => &lang.neutral,
                _ => {
                    if r.chance(0.5) {
                        &lang.negative
                    } else {
                        &lang.positive
                    }
                }
            };
            r.zipf(list)
        } else if u < 0.26 {
            r.zipf(BRANDS)
        } else {
            r.zipf(&lang.filler)
        };
        words.push(w);
    }
    let mut text = String::with_capacity(160);
    let mut sep = false;
    for w in &words {
        if w.is_empty() {
            if let Some(m) = &mention {
                text.push_str(m);
                text.push(' ');
            }
            continue;
        }
        if sep {
            text.push_str(lang.sep);
        }
        text.push_str(w);
        sep = true;
    }
    if lang.code == "zh" && r.chance(0.6) {
        text.push('。');
    } else if r.chance(0.3) {
        text.push(if sentiment == "neutral" { '?' } else { '!' });
    }
    let mut hashtags = Vec::new();
    for _ in 0..r.below(3) {
        let h = r.pick(&lang.hashtags);
        text.push_str(" #");
        text.push_str(h);
        let k = keyword(h);
        if !hashtags.contains(&k) {
            hashtags.push(k);
        }
    }
    if r.chance(0.3) {
        text.push(' ');
        text.push_str(r.pick(EMOJI));
    }
    if r.chance(0.08) {
        text.push_str(&format!(" https://acme.example/o/{}", r.below(1_000_000)));
    }
    // Mentions as indexed: every handle and its short forms, folded (the text keeps the original).
    let mentions: Vec<String> = mention.map(|m| handle_keys(&m)).unwrap_or_default();

    let mut intents = Vec::new();
    match sentiment {
        "negative" | "mixed" => {
            if r.chance(0.8) {
                intents.push("complaint".to_string());
            }
            if r.chance(0.25) {
                intents.push("refund".to_string());
            }
        }
        "neutral" => {
            if r.chance(0.5) {
                intents.push("question".to_string());
            }
            if r.chance(0.2) {
                intents.push("purchase_intent".to_string());
            }
        }
        _ => {
            if r.chance(0.6) {
                intents.push("praise".to_string());
            }
        }
    }
    if r.chance(0.01) {
        intents.push("recruiting".to_string());
    }
    let tags = if r.chance(0.02) {
        vec!["escalated".to_string()]
    } else {
        Vec::new()
    };
    let mut author_keys = handle_keys(&handle);
    let name = fold(&display);
    if !author_keys.contains(&name) {
        author_keys.push(name);
    }
    // Days uniformly over the year, hours weighted towards the daytime.
    let day = r.below(365) as i64;
    let hour = ((r.unit() + r.unit()) * 12.0) as i64 % 24;
    let ts = YEAR_START + day * DAY + hour * 3600 + r.below(3600) as i64;
    IndexDoc {
        id: format!("it{i:09}"),
        workspace_id: ws_id(ws),
        network: network.to_string(),
        kind: kind.to_string(),
        lang: lang.code.to_string(),
        sentiment: sentiment.to_string(),
        text,
        hashtags,
        mentions,
        author_keys,
        author: handle,
        followers: author_followers(a),
        intents,
        tags,
        ts,
    }
}

fn ws_id(k: usize) -> String {
    format!("ws-{k:02}")
}

/// Bytes of text and metadata fed to the index for one document (numbers count 8 bytes).
fn doc_bytes(d: &IndexDoc) -> usize {
    let strs = |v: &[String]| v.iter().map(String::len).sum::<usize>();
    d.id.len()
        + d.workspace_id.len()
        + d.network.len()
        + d.kind.len()
        + d.lang.len()
        + d.sentiment.len()
        + d.text.len()
        + strs(&d.hashtags)
        + strs(&d.mentions)
        + strs(&d.author_keys)
        + d.author.len()
        + strs(&d.intents)
        + strs(&d.tags)
        + 3 * 8
}

fn batches(n: u64) -> impl Iterator<Item = Vec<IndexDoc>> {
    (0..n)
        .step_by(BATCH as usize)
        .map(move |s| (s..(s + BATCH).min(n)).map(item).collect())
}

// ---------------------------------------------------------------------------------------------
// Memory and CPU

/// Resets the process's peak resident memory (VmHWM), so each phase reports its own peak.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn peak_mb() -> f64 {
    crate::bench::peak_rss_mb().unwrap_or(0.0)
}

/// CPU time (user + system) of this process, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Waits until background threads (merges left behind by a dropped index writer) stop using
/// CPU, so they do not slow down the next phase. Returns the time waited.
fn wait_until_idle() -> Duration {
    let start = Instant::now();
    let mut quiet = 0;
    let mut last = cpu_ticks();
    while start.elapsed() < Duration::from_secs(600) && last.is_some() {
        std::thread::sleep(Duration::from_millis(250));
        let now = cpu_ticks();
        // Under 8% of one core (2 ticks of 10 ms in 250 ms) counts as idle.
        if let (Some(a), Some(b)) = (last, now) {
            if b.saturating_sub(a) <= 2 {
                quiet += 1;
                if quiet >= 2 {
                    break;
                }
            } else {
                quiet = 0;
            }
        }
        last = now;
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------------------------
// Building

struct Build {
    secs: f64,
    settle_secs: f64,
    peak_mb: f64,
}

/// Through our layer, as a rebuild from the store does.
fn build_ours(dir: &Path, n: u64) -> Result<Build> {
    reset_peak();
    let start = Instant::now();
    let index = SearchIndex::open(dir)?;
    if !index.try_writer(HEAP_BYTES)? {
        bail!(
            "another process holds the index writer of {}",
            dir.display()
        );
    }
    for batch in batches(n) {
        index.add_new(&batch)?;
    }
    index.commit(&Watermark {
        version: SCHEMA_VERSION,
        seq: n as i64,
    })?;
    let secs = start.elapsed().as_secs_f64();
    // Dropping the writer abandons merges still running; wait for their threads to go quiet.
    index.release_writer();
    drop(index);
    let settle_secs = wait_until_idle().as_secs_f64();
    Ok(Build {
        secs,
        settle_secs,
        peak_mb: peak_mb(),
    })
}

/// With tantivy directly: same schema, tokeniser, heap and documents; the documents are built
/// field by field here.
fn build_raw(dir: &Path, n: u64) -> Result<Build> {
    reset_peak();
    let start = Instant::now();
    std::fs::create_dir_all(dir)?;
    let (schema, f) = schema();
    let index = Index::create_in_dir(dir, schema)?;
    index
        .tokenizers()
        .register(TOKENIZER_NAME, SbTokenizer::default());
    let mut writer: tantivy::IndexWriter = index.writer(HEAP_BYTES)?;
    for batch in batches(n) {
        for d in &batch {
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
            writer.add_document(doc)?;
        }
    }
    // The same payload our layer writes, so `SearchIndex::open` accepts this index as current.
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&serde_json::to_string(&Watermark {
        version: SCHEMA_VERSION,
        seq: n as i64,
    })?);
    prepared.commit()?;
    let reader: IndexReader = index.reader()?;
    reader.reload()?;
    let secs = start.elapsed().as_secs_f64();
    let settle = Instant::now();
    writer.wait_merging_threads()?;
    Ok(Build {
        secs,
        settle_secs: settle.elapsed().as_secs_f64(),
        peak_mb: peak_mb(),
    })
}

// ---------------------------------------------------------------------------------------------
// Queries

/// What a query returned, in a shape both engines can be compared in.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ids(Vec<String>),
    Count(u64),
    /// (bucket start, split value) -> count
    Histogram(BTreeMap<(i64, String), u64>),
    /// value -> count
    Terms(BTreeMap<String, u64>),
    /// (handle, followers, items), best first
    Authors(Vec<(String, i64, u64)>),
}

enum Fruit {
    Ids(Vec<String>),
    Count(u64),
    Stats(Stats),
    Agg(tantivy::aggregation::agg_result::AggregationResults),
}

#[derive(Clone)]
enum Op {
    Search,
    Count,
    Stats(StatsRequest),
}

type RawFn = Box<dyn Fn(&Raw) -> Result<Fruit>>;

struct Case {
    name: &'static str,
    query: &'static str,
    /// All ten workspaces (the whole index) instead of the largest one.
    all_ws: bool,
    op: Op,
    raw: RawFn,
    note: &'static str,
    /// How many documents the raw query matches, when that differs from ours.
    raw_count: Option<fn(&Raw) -> Result<u64>>,
}

/// `app NEAR/5 crash` as tantivy's sloppy phrase.
fn near_as_slop(r: &Raw) -> PhraseQuery {
    let mut p = PhraseQuery::new(vec![
        Term::from_field_text(r.f.text, "app"),
        Term::from_field_text(r.f.text, "crash"),
    ]);
    p.set_slop(5);
    p
}

/// The index opened with tantivy alone, and the hand-built equivalents of our queries.
struct Raw {
    index: Index,
    reader: IndexReader,
    f: Fields,
}

type Clause = (Occur, Box<dyn TQuery>);

impl Raw {
    fn term(&self, field: tantivy::schema::Field, v: &str) -> Box<dyn TQuery> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, v),
            IndexRecordOption::Basic,
        ))
    }
    fn text(&self, w: &str) -> Box<dyn TQuery> {
        self.term(self.f.text, w)
    }
    fn must(&self, q: Box<dyn TQuery>) -> Clause {
        (Occur::Must, q)
    }
    /// The workspace filter our layer always adds, then the clauses.
    fn scoped(&self, all_ws: bool, mut clauses: Vec<Clause>) -> BooleanQuery {
        let ws: Box<dyn TQuery> = if all_ws {
            Box::new(BooleanQuery::new(
                (0..WORKSPACES)
                    .map(|k| (Occur::Should, self.term(self.f.ws, &ws_id(k))))
                    .collect(),
            ))
        } else {
            self.term(self.f.ws, &ws_id(0))
        };
        clauses.insert(0, (Occur::Must, ws));
        BooleanQuery::new(clauses)
    }
    fn top(&self, q: &dyn TQuery) -> Result<Fruit> {
        let searcher = self.reader.searcher();
        let top = searcher.search(
            q,
            &TopDocs::with_limit(LIMIT).order_by_u64_field("sk", Order::Desc),
        )?;
        let mut ids = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            ids.push(
                doc.get_first(self.f.id)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        Ok(Fruit::Ids(ids))
    }
    fn count(&self, q: &dyn TQuery) -> Result<Fruit> {
        Ok(Fruit::Count(
            self.reader.searcher().search(q, &Count)? as u64
        ))
    }
    fn agg(&self, q: &dyn TQuery, req: serde_json::Value) -> Result<Fruit> {
        let aggs: Aggregations = serde_json::from_value(req)?;
        let collector = AggregationCollector::from_aggs(
            aggs,
            AggContextParams::new(
                AggregationLimitsGuard::new(Some(2 << 30), Some(1_000_000)),
                self.index.tokenizers().clone(),
            ),
        );
        Ok(Fruit::Agg(self.reader.searcher().search(q, &collector)?))
    }
}

fn histogram_agg() -> serde_json::Value {
    serde_json::json!({
        "h": {
            "histogram": {"field": "ts", "interval": DAY as f64},
            "aggs": {"s": {"terms": {"field": "sentiment", "size": 10}}}
        }
    })
}

fn stats_hist() -> Op {
    Op::Stats(StatsRequest {
        granularity: DAY,
        split: Some("sentiment"),
        ..StatsRequest::default()
    })
}

fn ts_of(date: &str) -> i64 {
    switchboard_search::document::parse_ts(&format!("{date}T00:00:00Z")).unwrap_or(0)
}

fn cases() -> Vec<Case> {
    fn case(
        name: &'static str,
        query: &'static str,
        op: Op,
        raw: impl Fn(&Raw) -> Result<Fruit> + 'static,
    ) -> Case {
        Case {
            name,
            query,
            all_ws: false,
            op,
            raw: Box::new(raw),
            note: "",
            raw_count: None,
        }
    }
    let mut v = vec![
        case("single word", "crash", Op::Search, |r| {
            r.top(&r.scoped(false, vec![r.must(r.text("crash"))]))
        }),
        case("AND", "app AND login", Op::Search, |r| {
            r.top(&r.scoped(false, vec![r.must(r.text("app")), r.must(r.text("login"))]))
        }),
        case(
            "OR, 3 languages",
            "refund OR absturz OR 退货",
            Op::Search,
            |r| {
                let or = BooleanQuery::new(vec![
                    (Occur::Should, r.text("refund")),
                    (Occur::Should, r.text("absturz")),
                    (Occur::Should, r.text("退货")),
                ]);
                r.top(&r.scoped(false, vec![r.must(Box::new(or))]))
            },
        ),
        case("NOT", "acme -refund", Op::Search, |r| {
            r.top(&r.scoped(
                false,
                vec![r.must(r.text("acme")), (Occur::MustNot, r.text("refund"))],
            ))
        }),
        case("phrase", "\"login failed\"", Op::Search, |r| {
            let p = PhraseQuery::new(vec![
                Term::from_field_text(r.f.text, "login"),
                Term::from_field_text(r.f.text, "failed"),
            ]);
            r.top(&r.scoped(false, vec![r.must(Box::new(p))]))
        }),
        Case {
            note: "raw: PhraseQuery slop 5, the closest tantivy has: it allows 5 words between \
                   in order but only 3 when reversed, where NEAR/5 allows 5 either way",
            raw_count: Some(|r| {
                let q = r.scoped(false, vec![r.must(Box::new(near_as_slop(r)))]);
                Ok(r.reader.searcher().search(&q, &Count)? as u64)
            }),
            ..case("NEAR/5", "app NEAR/5 crash", Op::Search, |r| {
                r.top(&r.scoped(false, vec![r.must(Box::new(near_as_slop(r)))]))
            })
        },
        case("prefix", "deliver*", Op::Search, |r| {
            let q = RegexQuery::from_pattern("deliver.*", r.f.text)?;
            r.top(&r.scoped(false, vec![r.must(Box::new(q))]))
        }),
        case("hashtag", "#AcmeApp", Op::Search, |r| {
            r.top(&r.scoped(false, vec![r.must(r.term(r.f.hashtags, "acmeapp"))]))
        }),
        case(
            "lang + sentiment",
            "lang:de sentiment:negative",
            Op::Search,
            |r| {
                r.top(&r.scoped(
                    false,
                    vec![
                        r.must(r.term(r.f.lang, "de")),
                        r.must(r.term(r.f.sentiment, "negative")),
                    ],
                ))
            },
        ),
        case(
            "since/until",
            "login since:2025-03-01 until:2025-06-01",
            Op::Search,
            |r| {
                let range = RangeQuery::new(
                    Bound::Included(Term::from_field_i64(r.f.ts, ts_of("2025-03-01"))),
                    Bound::Excluded(Term::from_field_i64(r.f.ts, ts_of("2025-06-01"))),
                );
                r.top(&r.scoped(
                    false,
                    vec![r.must(r.text("login")), r.must(Box::new(range))],
                ))
            },
        ),
        case("CJK bigram ko", "배송", Op::Search, |r| {
            r.top(&r.scoped(false, vec![r.must(r.text("배송"))]))
        }),
        case("CJK bigram zh", "质量", Op::Search, |r| {
            r.top(&r.scoped(false, vec![r.must(r.text("质量"))]))
        }),
        case("count", "crash OR absturz OR 闪退", Op::Count, |r| {
            let or = BooleanQuery::new(vec![
                (Occur::Should, r.text("crash")),
                (Occur::Should, r.text("absturz")),
                (Occur::Should, r.text("闪退")),
            ]);
            r.count(&r.scoped(false, vec![r.must(Box::new(or))]))
        }),
        case("day x sentiment, 1 ws", "", stats_hist(), |r| {
            r.agg(&r.scoped(false, vec![]), histogram_agg())
        }),
        case(
            "day x sentiment, query",
            "crash OR refund",
            stats_hist(),
            |r| {
                let or = BooleanQuery::new(vec![
                    (Occur::Should, r.text("crash")),
                    (Occur::Should, r.text("refund")),
                ]);
                r.agg(
                    &r.scoped(false, vec![r.must(Box::new(or))]),
                    histogram_agg(),
                )
            },
        ),
        Case {
            all_ws: true,
            note: "all 10 workspaces: every item in the index",
            ..case("day x sentiment, all ws", "", stats_hist(), |r| {
                r.agg(&r.scoped(true, vec![]), histogram_agg())
            })
        },
        case(
            "language breakdown",
            "",
            Op::Stats(StatsRequest {
                breakdowns: vec!["lang"],
                ..StatsRequest::default()
            }),
            |r| {
                r.agg(
                    &r.scoped(false, vec![]),
                    serde_json::json!({"l": {"terms": {"field": "lang", "size": 100}}}),
                )
            },
        ),
        case(
            "top authors",
            "",
            Op::Stats(StatsRequest {
                authors: 10,
                ..StatsRequest::default()
            }),
            |r| {
                r.agg(
                    &r.scoped(false, vec![]),
                    serde_json::json!({"a": {
                        "terms": {"field": "author_handle", "size": 10, "order": {"f": "desc"}},
                        "aggs": {"f": {"max": {"field": "followers"}}}
                    }}),
                )
            },
        ),
    ];
    if let Some(c) = v.last_mut() {
        c.note = "raw: terms agg on author_handle ordered by max(followers)";
    }
    v
}

fn run_ours(index: &SearchIndex, c: &Case, ws: &[String]) -> Result<Fruit> {
    let q = parse(c.query).map_err(|e| anyhow::anyhow!("{}: {e}", c.query))?;
    Ok(match &c.op {
        Op::Search => Fruit::Ids(index.search(ws, &q, LIMIT, None)?.ids),
        Op::Count => Fruit::Count(index.count(ws, &q)?),
        Op::Stats(req) => Fruit::Stats(index.stats(ws, &q, req)?),
    })
}

/// Brings both engines' answers to one shape (outside the timed part).
fn outcome(c: &Case, fruit: Fruit) -> Result<Outcome> {
    let num = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    Ok(match fruit {
        Fruit::Ids(ids) => Outcome::Ids(ids),
        Fruit::Count(n) => Outcome::Count(n),
        Fruit::Stats(s) => match &c.op {
            Op::Stats(req) if req.granularity > 0 => Outcome::Histogram(
                s.histogram
                    .into_iter()
                    .flat_map(|(b, m)| m.into_iter().map(move |(k, n)| ((b, k), n)))
                    .filter(|(_, n)| *n > 0)
                    .collect(),
            ),
            Op::Stats(req) if !req.breakdowns.is_empty() => Outcome::Terms(
                s.breakdowns
                    .into_values()
                    .flatten()
                    .filter(|(_, n)| *n > 0)
                    .collect(),
            ),
            _ => Outcome::Authors(
                s.authors
                    .into_iter()
                    .map(|a| (a.handle, a.followers, a.items))
                    .collect(),
            ),
        },
        Fruit::Agg(res) => {
            let v = serde_json::to_value(&res)?;
            if let Some(h) = v.get("h") {
                let mut m = BTreeMap::new();
                for b in h["buckets"].as_array().into_iter().flatten() {
                    let key = num(&b["key"]) as i64;
                    for s in b["s"]["buckets"].as_array().into_iter().flatten() {
                        let n = num(&s["doc_count"]) as u64;
                        if n > 0 {
                            m.insert((key, s["key"].as_str().unwrap_or("").to_string()), n);
                        }
                    }
                }
                Outcome::Histogram(m)
            } else if let Some(l) = v.get("l") {
                Outcome::Terms(
                    l["buckets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|b| {
                            (
                                b["key"].as_str().unwrap_or("").to_string(),
                                num(&b["doc_count"]) as u64,
                            )
                        })
                        .collect(),
                )
            } else if let Some(a) = v.get("a") {
                Outcome::Authors(
                    a["buckets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|b| {
                            (
                                b["key"].as_str().unwrap_or("").to_string(),
                                num(&b["f"]["value"]) as i64,
                                num(&b["doc_count"]) as u64,
                            )
                        })
                        .collect(),
                )
            } else {
                bail!("unexpected aggregation result {v}")
            }
        }
    })
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

struct Row {
    name: &'static str,
    query: String,
    matches: u64,
    same: &'static str,
    ours: (f64, f64),
    raw: (f64, f64),
    histogram: bool,
}

// ---------------------------------------------------------------------------------------------
// The command

pub fn listen(items: u64, runs: usize, dir: Option<&Path>) -> Result<()> {
    if items == 0 || runs == 0 {
        bail!("--items and --runs must be at least 1");
    }
    let tmp;
    let base: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("switchboard-bench-listen")
                .tempdir()
                .context("create a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let ours_dir = base.join("ours");
    let raw_dir = base.join("raw");
    for d in [&ours_dir, &raw_dir] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("clear {}", d.display()))?;
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let can_reset = reset_peak();
    let mut build_peak: f64 = 0.0;

    // The data set on its own: how long generating it takes (it is regenerated, batch by batch,
    // inside both timed builds) and how many bytes it feeds the index.
    eprintln!("bench listen: generating {items} items ...");
    let start = Instant::now();
    let (mut bytes, mut text_bytes) = (0usize, 0usize);
    let mut per_ws = [0u64; WORKSPACES];
    for batch in batches(items) {
        for d in &batch {
            bytes += doc_bytes(d);
            text_bytes += d.text.len();
            per_ws[d.workspace_id[3..].parse::<usize>().unwrap_or(0)] += 1;
        }
    }
    let gen_secs = start.elapsed().as_secs_f64();
    let mb = bytes as f64 / 1e6;
    println!(
        "bench listen: {cores} cores, {items} items (en/de/ko/zh), {WORKSPACES} workspaces (largest {} items), {:.1} MB fed ({:.1} MB of text), writer heap {} MB",
        per_ws[0],
        mb,
        text_bytes as f64 / 1e6,
        HEAP_BYTES >> 20
    );
    println!(
        "bench listen: generating the items alone: {gen_secs:.2} s (included in both build times below)"
    );

    // Each way twice, in the order ours, raw, raw, ours, so that neither always runs first
    // or last on a machine whose load drifts; the faster round of each counts.
    let mut ours_rounds = Vec::new();
    let mut raw_rounds = Vec::new();
    for (round, mine) in [(1, true), (1, false), (2, false), (2, true)] {
        let dir = if mine { &ours_dir } else { &raw_dir };
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        let (name, b) = if mine {
            eprintln!("bench listen: building through SearchIndex (round {round}) ...");
            let b = build_ours(&ours_dir, items)?;
            std::fs::remove_dir_all(&ours_dir)?;
            ours_rounds.push(b.secs);
            ("ours (SearchIndex)", b)
        } else {
            eprintln!("bench listen: building with tantivy directly (round {round}) ...");
            let b = build_raw(&raw_dir, items)?;
            raw_rounds.push(b.secs);
            ("raw tantivy", b)
        };
        println!(
            "bench listen: build {name:<19} round {round}: {:>6.2} s, {:>6.0} items/s, {:>5.1} MB/s, merges settled {:.1} s later, peak memory {:.0} MB",
            b.secs,
            items as f64 / b.secs,
            mb / b.secs,
            b.settle_secs,
            b.peak_mb
        );
        build_peak = build_peak.max(b.peak_mb);
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (ours_secs, raw_secs) = (best(&ours_rounds), best(&raw_rounds));
    println!(
        "bench listen: build, faster round of each: ours {:.0} items/s ({:.1} MB/s), raw {:.0} items/s ({:.1} MB/s), ratio ours/raw (time) {:.2}",
        items as f64 / ours_secs,
        mb / ours_secs,
        items as f64 / raw_secs,
        mb / raw_secs,
        ours_secs / raw_secs
    );

    // Queries: both engines on the same index (the one built with tantivy directly, merges
    // finished), so the only difference is the query layer.
    reset_peak();
    let index = SearchIndex::open(&raw_dir)?;
    if index.num_docs() != items {
        bail!(
            "the index has {} documents, expected {items}",
            index.num_docs()
        );
    }
    let raw_index = Index::open_in_dir(&raw_dir)?;
    raw_index
        .tokenizers()
        .register(TOKENIZER_NAME, SbTokenizer::default());
    let reader = raw_index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let r = Raw {
        index: raw_index,
        reader,
        f: schema().1,
    };
    let segments = r.reader.searcher().segment_readers().len();
    let index_mb = dir_size(&raw_dir) as f64 / 1e6;
    println!(
        "bench listen: index {index_mb:.0} MB on disk, {segments} segments; queries in workspace {} ({} items) unless noted, {runs} runs each after one warm-up, limit {LIMIT} newest first",
        ws_id(0),
        per_ws[0]
    );
    let one_ws = vec![ws_id(0)];
    let all_ws: Vec<String> = (0..WORKSPACES).map(ws_id).collect();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for c in cases() {
        let ws = if c.all_ws { &all_ws } else { &one_ws };
        let q = parse(c.query).map_err(|e| anyhow::anyhow!("{}: {e}", c.query))?;
        let matches = index.count(ws, &q)?;
        // Warm-up, and the answers compared.
        let mine = outcome(&c, run_ours(&index, &c, ws)?)?;
        let theirs = outcome(&c, (c.raw)(&r)?)?;
        let same = if mine == theirs { "same" } else { "differs" };
        if mine != theirs {
            let detail = match (&mine, &theirs) {
                (Outcome::Count(a), Outcome::Count(b)) => format!("count {a} vs {b}"),
                (Outcome::Ids(a), Outcome::Ids(b)) => {
                    let both = a.iter().filter(|x| b.contains(x)).count();
                    format!("{both} of {} top ids in common", a.len().max(b.len()))
                }
                (Outcome::Histogram(a), Outcome::Histogram(b)) => format!(
                    "{} vs {} buckets, totals {} vs {}",
                    a.len(),
                    b.len(),
                    a.values().sum::<u64>(),
                    b.values().sum::<u64>()
                ),
                (a, b) => format!("{a:?} vs {b:?}"),
            };
            notes.push(format!("{}: answers differ ({detail})", c.name));
        }
        if let Some(f) = c.raw_count {
            notes.push(format!(
                "{}: {matches} matches through our layer, {} for the raw query",
                c.name,
                f(&r)?
            ));
        }
        if !c.note.is_empty() {
            notes.push(format!("{}: {}", c.name, c.note));
        }
        let (mut to, mut tr) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        for k in 0..runs {
            // Alternate which engine goes first, so neither always gets the warmer cache.
            for first in [k % 2 == 0, k % 2 != 0] {
                let t = Instant::now();
                if first {
                    std::hint::black_box(run_ours(&index, &c, ws)?);
                    to.push(t.elapsed());
                } else {
                    std::hint::black_box((c.raw)(&r)?);
                    tr.push(t.elapsed());
                }
            }
        }
        to.sort();
        tr.sort();
        rows.push(Row {
            name: c.name,
            query: if c.query.is_empty() {
                "(all)".to_string()
            } else {
                c.query.to_string()
            },
            matches,
            same,
            ours: (pct(&to, 0.5), pct(&to, 0.95)),
            raw: (pct(&tr, 0.5), pct(&tr, 0.95)),
            histogram: matches!(&c.op, Op::Stats(req) if req.granularity > 0),
        });
    }
    let query_peak = peak_mb();

    println!(
        "| query | text | matches | answers | ours p50 ms | ours p95 ms | raw p50 ms | raw p95 ms | ours/raw p50 | ours/raw p95 |"
    );
    println!("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in &rows {
        println!(
            "| {} | `{}` | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            row.name,
            row.query,
            row.matches,
            row.same,
            row.ours.0,
            row.ours.1,
            row.raw.0,
            row.raw.1,
            row.ours.0 / row.raw.0.max(1e-6),
            row.ours.1 / row.raw.1.max(1e-6),
        );
    }
    for n in &notes {
        println!("note: {n}");
    }
    println!("bench listen: query phase peak memory {query_peak:.0} MB");
    if !can_reset {
        println!("bench listen: (peak memory could not be reset between phases: each figure is the peak so far)");
    }

    let hist_p95 = rows
        .iter()
        .filter(|r| r.histogram)
        .map(|r| r.ours.1)
        .fold(0.0, f64::max);
    let worst = |pick: fn(&Row) -> (f64, f64)| {
        rows.iter()
            .map(|r| (r.name, pick(r).0 / pick(r).1.max(1e-6)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or(("-", 0.0))
    };
    let (p50_name, p50_ratio) = worst(|r| (r.ours.0, r.raw.0));
    let (p95_name, p95_ratio) = worst(|r| (r.ours.1, r.raw.1));
    let peak = build_peak.max(query_peak);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "bench listen: summary: {items} items; build {:.0} items/s ours vs {:.0} raw ({:.2}x time); \
         histogram p95 max {hist_p95:.1} ms (target <= 100: {}); worst ratio ours/raw p50 \
         {p50_ratio:.2} on {p50_name} (target <= 1.2: {}), p95 {p95_ratio:.2} on {p95_name}; \
         peak memory {peak:.0} MB (target <= 1024: {})",
        items as f64 / ours_secs,
        items as f64 / raw_secs,
        ours_secs / raw_secs,
        verdict(hist_p95 <= 100.0),
        verdict(p50_ratio <= 1.2),
        verdict(peak <= 1024.0)
    );
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_deterministic_and_shaped_like_posts() {
        assert_eq!(item(42), item(42));
        assert_ne!(item(42).text, item(43).text);
        let docs: Vec<IndexDoc> = (0..2_000).map(item).collect();
        for lang in ["en", "de", "ko", "zh"] {
            assert!(docs.iter().any(|d| d.lang == lang), "{lang}");
        }
        assert!(docs
            .iter()
            .all(|d| !d.text.is_empty() && (YEAR_START..YEAR_START + 365 * DAY).contains(&d.ts)));
        let ws0 = docs.iter().filter(|d| d.workspace_id == "ws-00").count();
        assert!((400..600).contains(&ws0), "{ws0}");
    }
}
