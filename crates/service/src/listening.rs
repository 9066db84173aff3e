//! Listening: the search index kept in step with the store, search, topics, annotations,
//! analytics (volume, sentiment, breakdowns, top terms, share of voice) and spike alerts.
//!
//! The index is derived data. Every item write appends to the store's `item_changes` log in
//! the same transaction; whichever process holds the index's single writer (the server, or a
//! CLI command when no server runs) follows that log, so an item imported by the CLI while
//! the server runs is searchable within a second or two.

use crate::access::Access;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_core::listening::{
    describe, detect_spikes, significant_terms, SpikeDescription, SpikeParams, TermScore,
};
use switchboard_core::{
    Annotation, AnnotationKind, Item, Permission, Spike, Topic, TopicKind, Workspace,
};
use switchboard_search::index::{AuthorStat, Sampled};
use switchboard_search::matcher::Prepared;
use switchboard_search::{parse, IndexDoc, Query, SearchIndex, StatsRequest, Watermark};
use switchboard_store::{items, listening as store, new_id, now, timestamp};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Memory the index writer may buffer before it flushes a segment.
const WRITER_HEAP: usize = 64 * 1024 * 1024;
/// Changes read from the log per round.
const SYNC_BATCH: i64 = 5000;
/// Commit at least this often while catching up on a long backlog.
const COMMIT_EVERY: usize = 50_000;
/// A hole in the change log (a PostgreSQL transaction that took a sequence number and has
/// not committed yet) holds the watermark back this long before it is taken for a rollback.
const GAP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(crate) struct SyncState {
    gaps: HashMap<i64, Instant>,
}

/// The search index and the state of keeping it current; shared by clones of [`App`].
#[derive(Clone, Default)]
pub(crate) struct Search {
    index: Arc<Mutex<Option<Arc<SearchIndex>>>>,
    sync: Arc<tokio::sync::Mutex<SyncState>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Whether this process holds the writer (if not, another process keeps the index current).
    pub writer: bool,
    pub indexed: u64,
    pub deleted: u64,
    pub seq: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReindexReport {
    pub items: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    #[serde(flatten)]
    pub item: Item,
    /// Byte ranges of `text` that match the query's words.
    pub highlights: Vec<[usize; 2]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    pub total: u64,
    pub items: Vec<SearchHit>,
    pub next_cursor: Option<String>,
}

fn parse_query(field: &str, q: &str) -> ServiceResult<Query> {
    parse(q).map_err(|e| ServiceError::query(field, e))
}

fn ts_string(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(timestamp)
        .unwrap_or_default()
}

fn parse_time(field: &str, v: &str) -> ServiceResult<i64> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| ServiceError::invalid(field, "use an RFC 3339 time or YYYY-MM-DD"))
}

impl App {
    pub(crate) fn search_index(&self) -> ServiceResult<Arc<SearchIndex>> {
        let mut guard = self
            .search
            .index
            .lock()
            .map_err(|_| ServiceError::internal("search index lock poisoned"))?;
        if let Some(i) = guard.as_ref() {
            return Ok(i.clone());
        }
        let index = match &self.config.index_dir {
            Some(dir) => SearchIndex::open(dir),
            None => SearchIndex::in_memory(),
        }
        .map_err(ServiceError::internal)?;
        let index = Arc::new(index);
        *guard = Some(index.clone());
        Ok(index)
    }

    /// Lets go of the index writer (a CLI command done with it), so a server can take it.
    pub fn release_index_writer(&self) {
        if let Ok(g) = self.search.index.lock() {
            if let Some(i) = g.as_ref() {
                i.release_writer();
            }
        }
    }

    /// Brings the index up to date with the store's change log, if this process can hold the
    /// writer; otherwise picks up the other process's latest commit.
    pub async fn sync_index(&self) -> ServiceResult<SyncReport> {
        let index = self.search_index()?;
        let mut state = self.search.sync.lock().await;
        if !index
            .try_writer(WRITER_HEAP)
            .map_err(ServiceError::internal)?
        {
            index.refresh().map_err(ServiceError::internal)?;
            return Ok(SyncReport::default());
        }
        let mut report = SyncReport {
            writer: true,
            ..SyncReport::default()
        };
        let mut mark = index.watermark().unwrap_or(Watermark {
            version: switchboard_search::index::SCHEMA_VERSION,
            seq: 0,
        });
        let mut pending = 0usize;
        loop {
            let changes = {
                let mut c = self.store.read().await?;
                items::changes_after(&mut c, mark.seq, SYNC_BATCH).await?
            };
            if changes.is_empty() {
                break;
            }
            // Advance only over a contiguous run of sequence numbers; see GAP_TIMEOUT.
            let mut contiguous = mark.seq;
            let mut blocked = false;
            for (seq, _) in &changes {
                if blocked {
                    break;
                }
                if *seq == contiguous + 1 {
                    contiguous = *seq;
                    continue;
                }
                let seen = *state
                    .gaps
                    .entry(contiguous + 1)
                    .or_insert_with(Instant::now);
                if seen.elapsed() >= GAP_TIMEOUT {
                    contiguous = *seq;
                } else {
                    blocked = true;
                }
            }
            state.gaps.retain(|k, _| *k > contiguous);
            let mut ids: Vec<String> = changes.iter().map(|(_, id)| id.clone()).collect();
            ids.sort();
            ids.dedup();
            let found = {
                let mut c = self.store.read().await?;
                items::get_many(&mut c, &ids).await?
            };
            let present: HashSet<&str> = found.iter().map(|i| i.id.as_str()).collect();
            let gone: Vec<String> = ids
                .iter()
                .filter(|id| !present.contains(id.as_str()))
                .cloned()
                .collect();
            let docs: Vec<IndexDoc> = found.iter().map(IndexDoc::from_item).collect();
            index.upsert(&docs).map_err(ServiceError::internal)?;
            index.delete_ids(&gone).map_err(ServiceError::internal)?;
            report.indexed += docs.len() as u64;
            report.deleted += gone.len() as u64;
            pending += docs.len() + gone.len();
            let progressed = contiguous > mark.seq;
            mark.seq = contiguous;
            if pending >= COMMIT_EVERY {
                index.commit(&mark).map_err(ServiceError::internal)?;
                pending = 0;
            }
            if blocked || !progressed || (changes.len() as i64) < SYNC_BATCH {
                break;
            }
        }
        if pending > 0 || index.watermark().map(|w| w.seq) != Some(mark.seq) {
            index.commit(&mark).map_err(ServiceError::internal)?;
        }
        report.seq = mark.seq;
        Ok(report)
    }

    /// Rebuilds the index from the store. Fails with a conflict when another process (a
    /// running server) holds the index; that process rebuilds on request instead.
    pub async fn reindex(&self, progress: impl Fn(u64)) -> ServiceResult<ReindexReport> {
        let started = Instant::now();
        let index = self.search_index()?;
        let _state = self.search.sync.lock().await;
        if !index
            .try_writer(WRITER_HEAP)
            .map_err(ServiceError::internal)?
        {
            return Err(ServiceError::conflict(
                "index",
                "another process (a running server) holds the search index",
            ));
        }
        // Read the log position first: changes made during the scan are replayed afterwards.
        let seq = {
            let mut c = self.store.read().await?;
            items::last_change(&mut c).await?
        };
        index.delete_all().map_err(ServiceError::internal)?;
        let mut after = String::new();
        let mut n = 0u64;
        loop {
            let batch = {
                let mut c = self.store.read().await?;
                items::scan(&mut c, &after, SYNC_BATCH).await?
            };
            let Some(last) = batch.last() else { break };
            after = last.id.clone();
            let docs: Vec<IndexDoc> = batch.iter().map(IndexDoc::from_item).collect();
            index.add_new(&docs).map_err(ServiceError::internal)?;
            n += docs.len() as u64;
            progress(n);
        }
        index
            .commit(&Watermark {
                version: switchboard_search::index::SCHEMA_VERSION,
                seq,
            })
            .map_err(ServiceError::internal)?;
        drop(_state);
        self.sync_index().await?;
        Ok(ReindexReport {
            items: n,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Asks the process that holds the index (a running server) to rebuild it; returns the
    /// job's id to follow with [`App::job_done`].
    pub async fn request_reindex(&self) -> ServiceResult<String> {
        let id = new_id();
        let mut tx = self.store.write().await?;
        switchboard_store::jobs::enqueue_as(
            &mut tx,
            &id,
            REINDEX_JOB,
            &format!("{REINDEX_JOB}:{id}"),
            &serde_json::json!({}),
            &now(),
            1,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Whether a job has finished: Some(Ok) done, Some(Err) failed for good, None still due.
    pub async fn job_done(&self, id: &str) -> ServiceResult<Option<Result<(), String>>> {
        use switchboard_store::jobs::JobStatus;
        let mut c = self.store.read().await?;
        let job = switchboard_store::jobs::get(&mut c, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(match job.status {
            JobStatus::Done => Some(Ok(())),
            JobStatus::Dead => Some(Err(job.last_error.unwrap_or_default())),
            _ => None,
        })
    }

    pub(crate) async fn run_reindex_job(
        &self,
        job: &switchboard_store::jobs::Job,
    ) -> ServiceResult<()> {
        let report = self.reindex(|_| {}).await?;
        tracing::info!(
            items = report.items,
            seconds = report.seconds,
            "search index rebuilt on request"
        );
        let mut tx = self.store.write().await?;
        switchboard_store::jobs::complete(&mut tx, &job.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The workspace (with its permission checked) and the workspaces listening covers: it
    /// and its descendants, so a centre of excellence hears its regions.
    async fn listening_scope(
        &self,
        actor: &Actor,
        ws: &str,
        p: Permission,
    ) -> ServiceResult<(Workspace, Vec<String>)> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(p)?;
        let scope = access.subtree(&wa.workspace.id);
        Ok((wa.workspace.clone(), scope))
    }

    /// Makes this process's own recent writes searchable before a read, when it holds the
    /// writer and no other sync is running (otherwise the background loop is on it).
    async fn fresh_index(&self) -> ServiceResult<Arc<SearchIndex>> {
        let index = self.search_index()?;
        if self.search.sync.try_lock().is_ok() {
            self.sync_index().await?;
        }
        Ok(index)
    }

    pub async fn search(
        &self,
        actor: &Actor,
        ws: &str,
        q: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> ServiceResult<SearchPage> {
        let query = parse_query("q", q)?;
        let (_, scope) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let cursor = cursor
            .map(|c| {
                c.parse::<u64>().map_err(|_| {
                    ServiceError::invalid("cursor", "not a cursor from a previous page")
                })
            })
            .transpose()?;
        let index = self.fresh_index().await?;
        let (page, total) = {
            let (index, scope, query) = (index.clone(), scope.clone(), query.clone());
            tokio::task::spawn_blocking(move || {
                let page = index.search(&scope, &query, limit, cursor)?;
                let total = index.count(&scope, &query)?;
                Ok::<_, switchboard_search::SearchError>((page, total))
            })
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)?
        };
        let found = {
            let mut c = self.store.read().await?;
            items::get_many(&mut c, &page.ids).await?
        };
        let mut by_id: HashMap<String, Item> =
            found.into_iter().map(|i| (i.id.clone(), i)).collect();
        let items = page
            .ids
            .iter()
            .filter_map(|id| by_id.remove(id))
            .map(|item| {
                let doc = IndexDoc::from_item(&item);
                let highlights = Prepared::new(&doc)
                    .highlights(&query)
                    .into_iter()
                    .map(|(a, b)| [a, b])
                    .collect();
                SearchHit { item, highlights }
            })
            .collect();
        Ok(SearchPage {
            total,
            items,
            next_cursor: page.next.map(|n| n.to_string()),
        })
    }

    pub async fn search_count(&self, actor: &Actor, ws: &str, q: &str) -> ServiceResult<u64> {
        let query = parse_query("q", q)?;
        let (_, scope) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let index = self.fresh_index().await?;
        tokio::task::spawn_blocking(move || index.count(&scope, &query))
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)
    }
}

// ---------------------------------------------------------------- topics and annotations

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicInput {
    pub name: String,
    #[serde(default = "default_topic_kind")]
    pub kind: TopicKind,
    pub query: String,
}

fn default_topic_kind() -> TopicKind {
    TopicKind::Other
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationInput {
    pub title: String,
    #[serde(default = "default_annotation_kind")]
    pub kind: AnnotationKind,
    /// RFC 3339 time of the event.
    pub at: String,
}

fn default_annotation_kind() -> AnnotationKind {
    AnnotationKind::Event
}

fn check_topic(t: &TopicInput) -> ServiceResult<()> {
    let name = t.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::invalid(
            "name",
            "give the topic a name of 1 to 100 characters",
        ));
    }
    if t.query.trim().is_empty() {
        return Err(ServiceError::invalid("query", "a topic needs a query"));
    }
    parse_query("query", &t.query)?;
    Ok(())
}

impl App {
    async fn topic_in(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        p: Permission,
    ) -> ServiceResult<(Workspace, Topic)> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let mut c = self.store.read().await?;
        let t = store::get_topic(&mut c, &w.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        drop(c);
        if p != Permission::ListeningRead {
            self.listening_scope(actor, ws, p).await?;
        }
        Ok((w, t))
    }

    pub async fn list_topics(&self, actor: &Actor, ws: &str) -> ServiceResult<Vec<Topic>> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let mut c = self.store.read().await?;
        Ok(store::list_topics(&mut c, &w.id).await?)
    }

    pub async fn get_topic(&self, actor: &Actor, ws: &str, id: &str) -> ServiceResult<Topic> {
        Ok(self
            .topic_in(actor, ws, id, Permission::ListeningRead)
            .await?
            .1)
    }

    pub async fn create_topic(
        &self,
        actor: &Actor,
        ws: &str,
        input: TopicInput,
    ) -> ServiceResult<Topic> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningManage)
            .await?;
        check_topic(&input)?;
        let stamp = now();
        let t = Topic {
            id: new_id(),
            workspace_id: w.id.clone(),
            name: input.name.trim().to_string(),
            kind: input.kind,
            query: input.query.trim().to_string(),
            created_at: stamp.clone(),
            updated_at: stamp,
        };
        let mut tx = self.store.write().await?;
        store::insert_topic(&mut tx, &t, actor.user_id()).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "topic.create",
            target_type: "topic",
            target_id: &t.id,
        }
        .write(&mut tx, actor, NONE, Some(&t))
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn update_topic(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        input: TopicInput,
    ) -> ServiceResult<Topic> {
        let (w, before) = self
            .topic_in(actor, ws, id, Permission::ListeningManage)
            .await?;
        check_topic(&input)?;
        let t = Topic {
            name: input.name.trim().to_string(),
            kind: input.kind,
            query: input.query.trim().to_string(),
            updated_at: now(),
            ..before.clone()
        };
        let mut tx = self.store.write().await?;
        store::update_topic(&mut tx, &t).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "topic.update",
            target_type: "topic",
            target_id: &t.id,
        }
        .write(&mut tx, actor, Some(&before), Some(&t))
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn delete_topic(&self, actor: &Actor, ws: &str, id: &str) -> ServiceResult<()> {
        let (w, t) = self
            .topic_in(actor, ws, id, Permission::ListeningManage)
            .await?;
        let mut tx = self.store.write().await?;
        store::delete_topic(&mut tx, &t.id).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "topic.delete",
            target_type: "topic",
            target_id: &t.id,
        }
        .write(&mut tx, actor, Some(&t), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Annotations of the workspace and of its ancestors (a release marked by the centre of
    /// excellence shows on its regions' timelines too).
    pub async fn list_annotations(
        &self,
        actor: &Actor,
        ws: &str,
    ) -> ServiceResult<Vec<Annotation>> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let mut c = self.store.read().await?;
        let chain = crate::ingest::ancestors(&mut c, &w).await?;
        Ok(store::list_annotations(&mut c, &chain).await?)
    }

    pub async fn create_annotation(
        &self,
        actor: &Actor,
        ws: &str,
        input: AnnotationInput,
    ) -> ServiceResult<Annotation> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningManage)
            .await?;
        let title = input.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(ServiceError::invalid(
                "title",
                "give the annotation a title of 1 to 200 characters",
            ));
        }
        let at = parse_time("at", input.at.trim())?;
        let a = Annotation {
            id: new_id(),
            workspace_id: w.id.clone(),
            title: title.to_string(),
            kind: input.kind,
            at: ts_string(at),
            created_at: now(),
        };
        let mut tx = self.store.write().await?;
        store::insert_annotation(&mut tx, &a, actor.user_id()).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "annotation.create",
            target_type: "annotation",
            target_id: &a.id,
        }
        .write(&mut tx, actor, NONE, Some(&a))
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn delete_annotation(&self, actor: &Actor, ws: &str, id: &str) -> ServiceResult<()> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let mut c = self.store.read().await?;
        let a = store::get_annotation(&mut c, &w.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        drop(c);
        self.listening_scope(actor, ws, Permission::ListeningManage)
            .await?;
        let mut tx = self.store.write().await?;
        store::delete_annotation(&mut tx, &a.id).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "annotation.delete",
            target_type: "annotation",
            target_id: &a.id,
        }
        .write(&mut tx, actor, Some(&a), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

// ---------------------------------------------------------------- analytics

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    #[default]
    Day,
    Week,
}

impl std::str::FromStr for Interval {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "hour" => Ok(Interval::Hour),
            "day" => Ok(Interval::Day),
            "week" => Ok(Interval::Week),
            _ => Err(()),
        }
    }
}

/// What to aggregate: a topic or an ad-hoc query, over [from, to) in a time zone.
#[derive(Debug, Clone, Default)]
pub struct AnalyticsParams {
    pub q: Option<String>,
    pub topic: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub interval: Option<String>,
    /// IANA name, e.g. `Europe/Berlin`; default UTC.
    pub tz: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Local start of the bucket, RFC 3339 with the zone's offset.
    pub start: String,
    pub total: u64,
    pub positive: u64,
    pub negative: u64,
    pub neutral: u64,
    pub mixed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analytics {
    pub query: String,
    pub from: String,
    pub to: String,
    pub interval: Interval,
    pub tz: String,
    pub total: u64,
    pub buckets: Vec<Bucket>,
    pub sentiment: Vec<(String, u64)>,
    pub languages: Vec<(String, u64)>,
    pub networks: Vec<(String, u64)>,
    pub intents: Vec<(String, u64)>,
    pub top_authors: Vec<AuthorStat>,
    /// Words unusually frequent in the matching items against the workspace's background.
    pub top_terms: Vec<TermScore>,
    pub top_hashtags: Vec<TermScore>,
    pub annotations: Vec<Annotation>,
}

/// The resolved time frame and zone of an analytics request.
#[derive(Debug, Clone)]
pub struct Frame {
    pub from: i64,
    pub to: i64,
    pub interval: Interval,
    pub tz: jiff::tz::TimeZone,
    pub tz_name: String,
}

const MAX_BUCKETS: i64 = 5000;
/// The histogram is counted in UTC quarter hours, then folded into local buckets: every
/// zone's offset is a multiple of 15 minutes.
const QUARTER: i64 = 900;

impl Frame {
    pub fn resolve(p: &AnalyticsParams, now: i64) -> ServiceResult<Frame> {
        let interval = match p.interval.as_deref() {
            None | Some("") => Interval::Day,
            Some(s) => s
                .parse()
                .map_err(|_| ServiceError::invalid("interval", "use hour, day or week"))?,
        };
        let tz_name =
            p.tz.clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "UTC".into());
        let tz = jiff::tz::TimeZone::get(&tz_name)
            .map_err(|_| ServiceError::invalid("tz", format!("unknown time zone '{tz_name}'")))?;
        let to = match p.to.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => parse_time("to", s)?,
            None => now,
        };
        let from = match p.from.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => parse_time("from", s)?,
            None => to - 30 * 86_400,
        };
        if from >= to {
            return Err(ServiceError::invalid("from", "from must be before to"));
        }
        let width = match interval {
            Interval::Hour => 3600,
            Interval::Day => 86_400,
            Interval::Week => 7 * 86_400,
        };
        if (to - from) / width > MAX_BUCKETS {
            return Err(ServiceError::invalid(
                "interval",
                format!(
                    "more than {MAX_BUCKETS} buckets: choose a longer interval or a shorter range"
                ),
            ));
        }
        Ok(Frame {
            from,
            to,
            interval,
            tz,
            tz_name,
        })
    }

    /// The local bucket start (unix seconds) holding `t`.
    pub fn bucket_of(&self, t: i64) -> i64 {
        let Ok(ts) = jiff::Timestamp::from_second(t) else {
            return t;
        };
        let zoned = ts.to_zoned(self.tz.clone());
        let start = match self.interval {
            Interval::Hour => zoned
                .with()
                .minute(0)
                .second(0)
                .subsec_nanosecond(0)
                .build(),
            Interval::Day => zoned.start_of_day(),
            Interval::Week => {
                let back = zoned.weekday().to_monday_zero_offset() as i64;
                zoned
                    .start_of_day()
                    .and_then(|d| d.checked_sub(jiff::Span::new().days(back)))
            }
        };
        start.map(|z| z.timestamp().as_second()).unwrap_or(t)
    }

    /// Every bucket start from the one holding `from` up to `to`, in order.
    pub fn bucket_starts(&self) -> Vec<i64> {
        let mut out = Vec::new();
        let mut b = self.bucket_of(self.from);
        while b < self.to && out.len() < MAX_BUCKETS as usize + 2 {
            out.push(b);
            // Step past the bucket: its width varies with DST, so find the next start.
            let step = match self.interval {
                Interval::Hour => 3600,
                Interval::Day => 86_400,
                Interval::Week => 7 * 86_400,
            };
            let mut next = self.bucket_of(b + step + 3 * 3600);
            if next <= b {
                next = b + step;
            }
            // An hour bucket must not skip the next hour.
            if self.interval == Interval::Hour {
                next = self.bucket_of(b + 3600);
                if next <= b {
                    next = b + 3600;
                }
            }
            b = next;
        }
        out
    }

    pub fn local_string(&self, t: i64) -> String {
        jiff::Timestamp::from_second(t)
            .map(|ts| {
                ts.to_zoned(self.tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            })
            .unwrap_or_default()
    }

    fn range(&self) -> Query {
        Query::Range {
            since: Some(self.from),
            until: Some(self.to),
        }
    }
}

fn and(a: Query, b: Query) -> Query {
    match (a, b) {
        (Query::All, x) | (x, Query::All) => x,
        (Query::And(mut v), x) => {
            v.push(x);
            Query::And(v)
        }
        (a, b) => Query::And(vec![a, b]),
    }
}

/// Document frequencies of words (and of hashtags) in a sample, skipping `exclude`.
fn doc_freqs(
    sample: &[Sampled],
    exclude: &HashSet<String>,
) -> (HashMap<String, u64>, HashMap<String, u64>) {
    let mut words: HashMap<String, u64> = HashMap::new();
    let mut tags: HashMap<String, u64> = HashMap::new();
    for s in sample {
        let mut seen: HashSet<String> = HashSet::new();
        for t in switchboard_search::tokenize::display_terms(&s.text) {
            let short_latin =
                t.chars().count() < 3 && !t.chars().any(switchboard_search::tokenize::is_cjk);
            if short_latin || t.chars().all(|c| c.is_ascii_digit()) || exclude.contains(&t) {
                continue;
            }
            seen.insert(t);
        }
        for t in seen {
            *words.entry(t).or_default() += 1;
        }
        let tagset: HashSet<&String> = s.hashtags.iter().collect();
        for t in tagset {
            *tags.entry(t.clone()).or_default() += 1;
        }
    }
    (words, tags)
}

/// Terms and hashtags over-represented in `fg` against `bg`. The foreground is part of the
/// background: either already (`bg_has_fg`, a sample of everything) or added here (when `bg`
/// is a disjoint earlier period).
fn over_represented(
    fg: &[Sampled],
    bg: &[Sampled],
    bg_has_fg: bool,
    exclude: &HashSet<String>,
    limit: usize,
) -> (Vec<TermScore>, Vec<TermScore>) {
    let (fw, ft) = doc_freqs(fg, exclude);
    let (bw, bt) = doc_freqs(bg, exclude);
    let add = if bg_has_fg { 0 } else { 1 };
    let total_fg = fg.len() as u64;
    let total_bg = (bg.len() + add * fg.len()) as u64;
    let min_fg = if total_fg >= 20 { 3 } else { 2 };
    let rank = |f: HashMap<String, u64>, b: &HashMap<String, u64>| {
        let mut fv: Vec<(String, u64)> = f.into_iter().collect();
        fv.sort();
        let fl: HashMap<String, u64> = fv.iter().cloned().collect();
        significant_terms(
            &fv,
            total_fg,
            |t| b.get(t).copied().unwrap_or(0) + add as u64 * fl.get(t).copied().unwrap_or(0),
            total_bg,
            min_fg,
            limit,
        )
    };
    (rank(fw, &bw), rank(ft, &bt))
}

fn query_words(q: &Query) -> HashSet<String> {
    let (phrases, _) = q.highlight_terms();
    phrases.into_iter().flatten().collect()
}

const FG_SAMPLE: usize = 2000;
const BG_SAMPLE: usize = 5000;

impl App {
    async fn analytics_query(
        &self,
        actor: &Actor,
        ws: &str,
        p: &AnalyticsParams,
    ) -> ServiceResult<(Workspace, Vec<String>, String, Query)> {
        let (w, scope) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let text = match (&p.topic, &p.q) {
            (Some(t), _) if !t.is_empty() => {
                let mut c = self.store.read().await?;
                store::get_topic(&mut c, &w.id, t)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::invalid("topic", "no such topic in this workspace")
                    })?
                    .query
            }
            (_, Some(q)) => q.clone(),
            _ => String::new(),
        };
        let q = parse_query(if p.topic.is_some() { "topic" } else { "q" }, &text)?;
        Ok((w, scope, text, q))
    }

    pub async fn analytics(
        &self,
        actor: &Actor,
        ws: &str,
        p: &AnalyticsParams,
    ) -> ServiceResult<Analytics> {
        let (w, scope, text, q) = self.analytics_query(actor, ws, p).await?;
        let frame = Frame::resolve(p, OffsetDateTime::now_utc().unix_timestamp())?;
        let index = self.fresh_index().await?;
        let fq = and(q.clone(), frame.range());
        let exclude = query_words(&q);
        let (stats, fg, bg) = {
            // The workspace's background: everything it heard in the 30 days up to `to`
            // (or the whole range, when longer).
            let range = Query::Range {
                since: Some(frame.from.min(frame.to - 30 * 86_400)),
                until: Some(frame.to),
            };
            let (index, scope, fq) = (index.clone(), scope.clone(), fq.clone());
            tokio::task::spawn_blocking(move || {
                let stats = index.stats(
                    &scope,
                    &fq,
                    &StatsRequest {
                        granularity: QUARTER,
                        split: Some("sentiment"),
                        breakdowns: vec!["sentiment", "lang", "network", "intents"],
                        authors: 10,
                    },
                )?;
                let fg = index.sample(&scope, &fq, FG_SAMPLE)?;
                let bg = index.sample(&scope, &range, BG_SAMPLE)?;
                Ok::<_, switchboard_search::SearchError>((stats, fg, bg))
            })
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)?
        };
        let (top_terms, top_hashtags) = over_represented(&fg, &bg, true, &exclude, 15);
        let mut local: BTreeMap<i64, Bucket> = frame
            .bucket_starts()
            .into_iter()
            .map(|b| {
                (
                    b,
                    Bucket {
                        start: frame.local_string(b),
                        total: 0,
                        positive: 0,
                        negative: 0,
                        neutral: 0,
                        mixed: 0,
                    },
                )
            })
            .collect();
        for (quarter, split) in &stats.histogram {
            let b = frame.bucket_of(*quarter);
            let Some(bucket) = local.get_mut(&b) else {
                continue;
            };
            for (label, n) in split {
                bucket.total += n;
                match label.as_str() {
                    "positive" => bucket.positive += n,
                    "negative" => bucket.negative += n,
                    "neutral" => bucket.neutral += n,
                    "mixed" => bucket.mixed += n,
                    _ => {}
                }
            }
        }
        let annotations = {
            let mut c = self.store.read().await?;
            let chain = crate::ingest::ancestors(&mut c, &w).await?;
            store::list_annotations(&mut c, &chain)
                .await?
                .into_iter()
                .filter(|a| {
                    switchboard_search::document::parse_ts(&a.at)
                        .is_some_and(|t| t >= frame.from && t < frame.to)
                })
                .collect()
        };
        let get = |k: &str| stats.breakdowns.get(k).cloned().unwrap_or_default();
        Ok(Analytics {
            query: text,
            from: frame.local_string(frame.from),
            to: frame.local_string(frame.to),
            interval: frame.interval,
            tz: frame.tz_name.clone(),
            total: stats.total,
            buckets: local.into_values().collect(),
            sentiment: get("sentiment"),
            languages: get("lang"),
            networks: get("network"),
            intents: get("intents"),
            top_authors: stats.authors.clone(),
            top_terms,
            top_hashtags,
            annotations,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VoiceShare {
    pub topic_id: String,
    pub name: String,
    pub kind: TopicKind,
    pub count: u64,
    /// Percent of the summed counts of the compared topics.
    pub share: f64,
    /// Per bucket, aligned with `ShareOfVoice::buckets`.
    pub series: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareOfVoice {
    pub from: String,
    pub to: String,
    pub interval: Interval,
    pub tz: String,
    pub buckets: Vec<String>,
    pub topics: Vec<VoiceShare>,
}

impl App {
    /// Mentions of each topic (default: all of the workspace's topics) and their share.
    pub async fn share_of_voice(
        &self,
        actor: &Actor,
        ws: &str,
        topic_ids: &[String],
        p: &AnalyticsParams,
    ) -> ServiceResult<ShareOfVoice> {
        let (w, scope) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let frame = Frame::resolve(p, OffsetDateTime::now_utc().unix_timestamp())?;
        let topics = {
            let mut c = self.store.read().await?;
            store::list_topics(&mut c, &w.id).await?
        };
        let chosen: Vec<Topic> = if topic_ids.is_empty() {
            topics
        } else {
            let mut v = Vec::new();
            for id in topic_ids {
                let t = topics
                    .iter()
                    .find(|t| &t.id == id || &t.name == id)
                    .ok_or_else(|| {
                        ServiceError::invalid(
                            "topics",
                            format!("no topic '{id}' in this workspace"),
                        )
                    })?;
                v.push(t.clone());
            }
            v
        };
        let starts = frame.bucket_starts();
        let pos: HashMap<i64, usize> = starts.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let index = self.fresh_index().await?;
        let mut out = Vec::new();
        for t in &chosen {
            let q = and(parse_query("topics", &t.query)?, frame.range());
            let stats = {
                let (index, scope) = (index.clone(), scope.clone());
                tokio::task::spawn_blocking(move || {
                    index.stats(
                        &scope,
                        &q,
                        &StatsRequest {
                            granularity: QUARTER,
                            ..Default::default()
                        },
                    )
                })
                .await
                .map_err(ServiceError::internal)?
                .map_err(ServiceError::internal)?
            };
            let mut series = vec![0u64; starts.len()];
            for (quarter, m) in &stats.histogram {
                if let Some(&i) = pos.get(&frame.bucket_of(*quarter)) {
                    series[i] += m.values().sum::<u64>();
                }
            }
            out.push(VoiceShare {
                topic_id: t.id.clone(),
                name: t.name.clone(),
                kind: t.kind,
                count: stats.total,
                share: 0.0,
                series,
            });
        }
        let sum: u64 = out.iter().map(|v| v.count).sum();
        for v in &mut out {
            v.share = if sum == 0 {
                0.0
            } else {
                (v.count as f64 * 1000.0 / sum as f64).round() / 10.0
            };
        }
        Ok(ShareOfVoice {
            from: frame.local_string(frame.from),
            to: frame.local_string(frame.to),
            interval: frame.interval,
            tz: frame.tz_name.clone(),
            buckets: starts.iter().map(|b| frame.local_string(*b)).collect(),
            topics: out,
        })
    }
}

// ---------------------------------------------------------------- spikes and alerts

/// How far back the spike scan looks: the baseline's week plus the recent window examined.
const SCAN_DAYS: i64 = 14;
/// Only spikes whose window ends this recently raise alerts; older ones are history.
const ALERT_HORIZON: i64 = 3 * 86_400;
/// An annotation this long before a spike is named as its likely cause.
const ANNOTATION_HORIZON: i64 = 7 * 86_400;
const HOUR: i64 = 3600;

pub const SPIKE_EVENT: &str = "alert.spike";
/// A rebuild of the search index requested from the command line while a server holds it.
pub const REINDEX_JOB: &str = "search.reindex";

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    pub topics: usize,
    pub new_spikes: usize,
}

struct Candidate {
    series: String,
    filter: Query,
    start: i64,
    end: i64,
    observed: f64,
    baseline: f64,
    change_pct: f64,
    score: f64,
}

impl App {
    /// Looks for spikes in every topic of every workspace as of `now` (unix seconds). New
    /// spikes are stored and their alerts enqueued to the workspace's webhooks in one
    /// transaction; a spike found again is the same row, so it alerts once.
    pub async fn scan_spikes(&self, now_secs: i64) -> ServiceResult<ScanReport> {
        let topics = {
            let mut c = self.store.read().await?;
            store::all_topics(&mut c).await?
        };
        // Wait for any running sync: a scan over a stale index would miss the newest hours.
        self.sync_index().await?;
        let index = self.search_index()?;
        let mut report = ScanReport {
            topics: topics.len(),
            ..Default::default()
        };
        // Scope per workspace: the workspace and its descendants, as listening reads it.
        let mut scopes: HashMap<String, (Workspace, Vec<String>)> = HashMap::new();
        for t in &topics {
            if !scopes.contains_key(&t.workspace_id) {
                let mut c = self.store.read().await?;
                let Some(w) = switchboard_store::workspaces::get(&mut c, &t.workspace_id).await?
                else {
                    continue;
                };
                let all = switchboard_store::workspaces::list_in_org(&mut c, &w.org_id).await?;
                let mut scope = vec![w.id.clone()];
                let mut i = 0;
                while i < scope.len() {
                    let cur = scope[i].clone();
                    scope.extend(
                        all.iter()
                            .filter(|x| x.parent_id.as_deref() == Some(cur.as_str()))
                            .map(|x| x.id.clone()),
                    );
                    i += 1;
                }
                scopes.insert(t.workspace_id.clone(), (w, scope));
            }
        }
        for t in &topics {
            let Some((w, scope)) = scopes.get(&t.workspace_id) else {
                continue;
            };
            let Ok(q) = parse(&t.query) else { continue };
            report.new_spikes += self.scan_topic(&index, w, scope, t, &q, now_secs).await?;
        }
        Ok(report)
    }

    async fn scan_topic(
        &self,
        index: &Arc<SearchIndex>,
        w: &Workspace,
        scope: &[String],
        topic: &Topic,
        q: &Query,
        now_secs: i64,
    ) -> ServiceResult<usize> {
        let end = (now_secs.div_euclid(HOUR) + 1) * HOUR;
        let start = end - SCAN_DAYS * 86_400;
        let n = ((end - start) / HOUR) as usize;
        let range = Query::Range {
            since: Some(start),
            until: Some(end),
        };
        let fq = and(q.clone(), range);
        let (by_sentiment, by_intent) = {
            let (index, scope, fq) = (index.clone(), scope.to_vec(), fq.clone());
            tokio::task::spawn_blocking(move || {
                let s = index.stats(
                    &scope,
                    &fq,
                    &StatsRequest {
                        granularity: HOUR,
                        split: Some("sentiment"),
                        ..Default::default()
                    },
                )?;
                let i = index.stats(
                    &scope,
                    &fq,
                    &StatsRequest {
                        granularity: HOUR,
                        split: Some("intents"),
                        ..Default::default()
                    },
                )?;
                Ok::<_, switchboard_search::SearchError>((s, i))
            })
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)?
        };
        let mut series: BTreeMap<String, (Query, Vec<f64>)> = BTreeMap::new();
        let slot = |b: i64| -> Option<usize> {
            let i = (b - start) / HOUR;
            (0..n as i64).contains(&i).then_some(i as usize)
        };
        let volume = series
            .entry("volume".into())
            .or_insert((Query::All, vec![0.0; n]));
        for (b, m) in &by_sentiment.histogram {
            if let Some(i) = slot(*b) {
                volume.1[i] += m.values().sum::<u64>() as f64;
            }
        }
        for (stats, prefix) in [(&by_sentiment, "sentiment"), (&by_intent, "intent")] {
            for (b, m) in &stats.histogram {
                let Some(i) = slot(*b) else { continue };
                for (label, c) in m {
                    if label.is_empty()
                        || (prefix == "sentiment" && label != "negative" && label != "positive")
                    {
                        continue;
                    }
                    let filter = match prefix {
                        "sentiment" => format!("sentiment:{label}"),
                        _ => format!("intent:{label}"),
                    };
                    let Ok(fq) = parse(&filter) else { continue };
                    series
                        .entry(format!("{prefix}:{label}"))
                        .or_insert((fq, vec![0.0; n]))
                        .1[i] += *c as f64;
                }
            }
        }
        let params = SpikeParams::hourly();
        let mut candidates = Vec::new();
        for (name, (filter, values)) in &series {
            for wdw in detect_spikes(values, &params) {
                let (s, e) = (
                    start + wdw.start as i64 * HOUR,
                    start + wdw.end as i64 * HOUR,
                );
                if e < now_secs - ALERT_HORIZON {
                    continue;
                }
                candidates.push(Candidate {
                    series: name.clone(),
                    filter: filter.clone(),
                    start: s,
                    end: e,
                    observed: wdw.observed,
                    baseline: wdw.baseline,
                    change_pct: wdw.change_pct,
                    score: wdw.score,
                });
            }
        }
        // One incident, one alert: a complaint surge is also a volume, a negative and a
        // bug-report surge. Of overlapping windows in a topic, a sentiment or intent series
        // speaks for it rather than bare volume, the broadest of them (most items) first, so
        // the alert reads "negative +340% ...; intents: complaint, bug_report".
        candidates.sort_by(|a, b| {
            let spec = |c: &Candidate| if c.series == "volume" { 0 } else { 1 };
            spec(b)
                .cmp(&spec(a))
                .then(b.observed.total_cmp(&a.observed))
                .then(
                    b.series
                        .starts_with("sentiment:")
                        .cmp(&a.series.starts_with("sentiment:")),
                )
                .then(b.score.total_cmp(&a.score))
        });
        let existing = {
            let mut c = self.store.read().await?;
            store::list_spikes(&mut c, &w.id, 500).await?
        };
        let mut taken: Vec<(i64, i64)> = existing
            .iter()
            .filter(|s| s.topic_id == topic.id)
            .filter_map(|s| {
                Some((
                    switchboard_search::document::parse_ts(&s.window_start)?,
                    switchboard_search::document::parse_ts(&s.window_end)?,
                ))
            })
            .collect();
        let annotations = {
            let mut c = self.store.read().await?;
            let chain = crate::ingest::ancestors(&mut c, w).await?;
            store::list_annotations(&mut c, &chain).await?
        };
        let mut added = 0;
        for cand in candidates {
            if taken.iter().any(|(s, e)| cand.start < *e && *s < cand.end) {
                continue;
            }
            taken.push((cand.start, cand.end));
            let spike = self
                .explain_spike(index, w, scope, topic, q, &cand, start, &annotations)
                .await?;
            let mut tx = self.store.write().await?;
            if store::insert_spike(&mut tx, &spike).await? {
                crate::outbound::emit(
                    &mut tx,
                    &w.id,
                    SPIKE_EVENT,
                    &format!("spike:{}", spike.id),
                    spike_payload(&spike, topic),
                )
                .await?;
                added += 1;
            }
            tx.commit().await?;
        }
        Ok(added)
    }

    #[allow(clippy::too_many_arguments)]
    async fn explain_spike(
        &self,
        index: &Arc<SearchIndex>,
        w: &Workspace,
        scope: &[String],
        topic: &Topic,
        q: &Query,
        cand: &Candidate,
        history_start: i64,
        annotations: &[Annotation],
    ) -> ServiceResult<Spike> {
        let in_window = and(
            and(q.clone(), cand.filter.clone()),
            Query::Range {
                since: Some(cand.start),
                until: Some(cand.end),
            },
        );
        let before = and(
            q.clone(),
            Query::Range {
                since: Some(history_start),
                until: Some(cand.start),
            },
        );
        let (fg, bg) = {
            let (index, scope) = (index.clone(), scope.to_vec());
            tokio::task::spawn_blocking(move || {
                Ok::<_, switchboard_search::SearchError>((
                    index.sample(&scope, &in_window, FG_SAMPLE)?,
                    index.sample(&scope, &before, BG_SAMPLE)?,
                ))
            })
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)?
        };
        let (terms, _) = over_represented(&fg, &bg, false, &query_words(q), 5);
        let terms: Vec<String> = terms.into_iter().map(|t| t.term).collect();
        // Intents over-represented in the spike against the topic's history.
        let count_intents = |s: &[Sampled]| {
            let mut m: HashMap<String, u64> = HashMap::new();
            for x in s {
                for i in x.intents.iter().collect::<HashSet<_>>() {
                    *m.entry(i.clone()).or_default() += 1;
                }
            }
            m
        };
        let (fi, bi) = (count_intents(&fg), count_intents(&bg));
        let mut fv: Vec<(String, u64)> = fi.clone().into_iter().collect();
        fv.sort();
        let intents: Vec<String> = significant_terms(
            &fv,
            fg.len() as u64,
            |t| bi.get(t).copied().unwrap_or(0) + fi.get(t).copied().unwrap_or(0),
            (fg.len() + bg.len()) as u64,
            2,
            3,
        )
        .into_iter()
        .map(|t| t.term)
        .collect();
        let annotation = annotations
            .iter()
            .filter_map(|a| Some((a, switchboard_search::document::parse_ts(&a.at)?)))
            .filter(|(_, at)| *at <= cand.start + HOUR && cand.start - *at <= ANNOTATION_HORIZON)
            .max_by_key(|(_, at)| *at);
        let label = cand
            .series
            .split_once(':')
            .map(|(_, l)| l)
            .unwrap_or("volume");
        let summary = describe(&SpikeDescription {
            series: label,
            change_pct: cand.change_pct,
            annotation: annotation.map(|(a, at)| (a.title.as_str(), (cand.start - at).max(0))),
            terms: &terms,
            intents: &intents,
        });
        Ok(Spike {
            id: new_id(),
            workspace_id: w.id.clone(),
            topic_id: topic.id.clone(),
            series: cand.series.clone(),
            bucket_secs: HOUR,
            window_start: ts_string(cand.start),
            window_end: ts_string(cand.end),
            observed: cand.observed,
            baseline: (cand.baseline * 10.0).round() / 10.0,
            change_pct: cand.change_pct.round(),
            score: (cand.score * 100.0).round() / 100.0,
            annotation_id: annotation.map(|(a, _)| a.id.clone()),
            annotation_title: annotation.map(|(a, _)| a.title.clone()),
            terms,
            intents,
            summary: format!("{}: {}", topic.name, summary),
            acknowledged_by: None,
            acknowledged_at: None,
            created_at: now(),
        })
    }

    pub async fn list_spikes(
        &self,
        actor: &Actor,
        ws: &str,
        limit: i64,
    ) -> ServiceResult<Vec<Spike>> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let mut c = self.store.read().await?;
        Ok(store::list_spikes(&mut c, &w.id, limit.clamp(1, 500)).await?)
    }

    pub async fn acknowledge_spike(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<Spike> {
        let (w, _) = self
            .listening_scope(actor, ws, Permission::ListeningRead)
            .await?;
        let mut c = self.store.read().await?;
        let s = store::get_spike(&mut c, &w.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        drop(c);
        self.listening_scope(actor, ws, Permission::ListeningManage)
            .await?;
        let mut tx = self.store.write().await?;
        store::acknowledge_spike(&mut tx, &s.id, &actor.label(), &now()).await?;
        let after = store::get_spike(&mut tx, &w.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "spike.acknowledge",
            target_type: "spike",
            target_id: &s.id,
        }
        .write(&mut tx, actor, Some(&s), Some(&after))
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}

/// What a spike alert carries: the spike, its topic, and a `summary` line (Slack's text).
pub fn spike_payload(s: &Spike, topic: &Topic) -> serde_json::Value {
    serde_json::json!({
        "summary": s.summary,
        "spike": s,
        "topic": { "id": topic.id, "name": topic.name, "query": topic.query },
    })
}

/// Validates a topic or rule query without running it (for forms).
pub fn check_query(field: &str, q: &str) -> ServiceResult<()> {
    parse_query(field, q).map(|_| ())
}
