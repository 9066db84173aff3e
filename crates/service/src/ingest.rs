//! Getting items in: enrichment, batched durable writes, file imports that stream with flat
//! memory, and signed webhook deliveries. One pipeline serves the CLI, the API upload and
//! the webhook.

use crate::access::Access;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use switchboard_core::{
    validate, DictionaryEntry, DictionaryKind, Enrichment, IngestSource, NewItem, Permission,
    Workspace,
};
use switchboard_ingest::Format;
use switchboard_store::items::{self, ItemWrite, UpsertCounts};
use switchboard_store::{new_id, now};

/// Items per write transaction: large enough to amortise the commit, small enough that a
/// crash loses at most one unacknowledged batch and memory stays flat.
pub const BATCH: usize = 2_000;
/// Rejected records listed in a report; the count covers the rest.
const MAX_LISTED_ERRORS: usize = 100;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RejectedRecord {
    /// Line (NDJSON, CSV) or element (JSON array) number, 1-based.
    pub record: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub records: u64,
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub rejected: u64,
    /// The first rejected records with their reasons.
    pub errors: Vec<RejectedRecord>,
    /// With `strict`, true when a rejected record made the import write nothing.
    pub rolled_back: bool,
    pub bytes: u64,
}

impl ImportReport {
    fn reject(&mut self, record: u64, reason: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(RejectedRecord { record, reason });
        }
    }

    fn add(&mut self, c: UpsertCounts) {
        self.imported += c.imported;
        self.updated += c.updated;
        self.unchanged += c.unchanged;
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Reject the whole input, writing nothing, when any record is malformed.
    pub strict: bool,
}

/// Counts bytes as the parser pulls them, for MB/s and progress.
struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: BufRead> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.bytes.fetch_add(amt as u64, Ordering::Relaxed);
        self.inner.consume(amt)
    }
}

/// The content hash ignores the raw payload: it holds fields (e.g. server-side counters or
/// signatures) that change without the item changing.
fn content_hash(item: &mut NewItem) -> String {
    let raw = item.raw.take();
    let bytes = serde_json::to_vec(&*item).unwrap_or_default();
    item.raw = raw;
    hex::encode(&Sha256::digest(&bytes)[..16])
}

/// The enrichment one workspace uses: the default rules plus its (and its ancestors')
/// dictionary of brand, product and competitor names and extra intent keywords.
#[derive(Clone)]
pub struct WorkspaceEnricher {
    enricher: switchboard_enrich::Enricher,
    dictionary: switchboard_enrich::Dictionary,
    /// Intent rules written as listening queries.
    intent_queries: Vec<(String, switchboard_search::Query)>,
}

impl WorkspaceEnricher {
    pub fn new(
        base: &switchboard_enrich::Enricher,
        entries: &[DictionaryEntry],
    ) -> WorkspaceEnricher {
        let mut keywords: Vec<(switchboard_enrich::Intent, Vec<String>)> = Vec::new();
        let mut names: Vec<(String, Vec<String>)> = Vec::new();
        let mut intent_queries = Vec::new();
        for e in entries {
            match e.kind {
                DictionaryKind::Intent => {
                    if let Ok(intent) = e.label.parse::<switchboard_enrich::Intent>() {
                        if !e.terms.is_empty() {
                            keywords.push((intent, e.terms.clone()));
                        }
                        // Validated when saved; a query that no longer parses is skipped.
                        if let Some(q) = e
                            .query
                            .as_deref()
                            .and_then(|q| switchboard_search::parse(q).ok())
                        {
                            intent_queries.push((intent.as_str().to_string(), q));
                        }
                    }
                }
                kind => names.push((format!("{kind}:{}", e.label), e.terms.clone())),
            }
        }
        WorkspaceEnricher {
            enricher: base.clone().with_extra_intent_keywords(&keywords),
            dictionary: switchboard_enrich::Dictionary::new(&names),
            intent_queries,
        }
    }

    /// Enriches an item and hashes its content. CPU only; run it off the async threads for bulk work.
    pub fn prepare(&self, mut item: NewItem) -> ItemWrite {
        let analysis = self.enricher.analyze(&item.text, item.lang.as_deref());
        let enrichment = Enrichment {
            lang: analysis.lang.or_else(|| item.lang.clone()),
            sentiment: analysis.sentiment.label.as_str().to_string(),
            sentiment_score: f64::from(analysis.sentiment.score),
            intents: analysis
                .intents
                .iter()
                .map(|i| i.as_str().to_string())
                .collect(),
            tags: self.dictionary.tags(&item.text),
        };
        let mut enrichment = enrichment;
        if !self.intent_queries.is_empty() {
            let doc = switchboard_search::IndexDoc::from_new(&item, &enrichment);
            let prepared = switchboard_search::matcher::Prepared::new(&doc);
            for (intent, q) in &self.intent_queries {
                if !enrichment.intents.contains(intent) && prepared.matches(q) {
                    enrichment.intents.push(intent.clone());
                }
            }
        }
        let content_hash = content_hash(&mut item);
        ItemWrite {
            item,
            enrichment,
            content_hash,
        }
    }
}

/// The workspace's id and its ancestors' (the centres of excellence it inherits from),
/// nearest first, walking up at most 64 levels and stopping at a cycle.
pub(crate) async fn ancestor_ids(
    c: &mut switchboard_store::AnyConnection,
    workspace_id: &str,
) -> ServiceResult<Vec<String>> {
    let mut chain: Vec<String> = Vec::new();
    let mut cur = Some(workspace_id.to_string());
    while let Some(id) = cur.take() {
        if chain.len() > 64 || chain.contains(&id) {
            break;
        }
        cur = switchboard_store::workspaces::get(c, &id)
            .await?
            .and_then(|w| w.parent_id);
        chain.push(id);
    }
    Ok(chain)
}

pub(crate) async fn ancestors(
    c: &mut switchboard_store::AnyConnection,
    w: &Workspace,
) -> ServiceResult<Vec<String>> {
    ancestor_ids(c, &w.id).await
}

/// The dictionary entries of a workspace and of its ancestors.
async fn dictionary_with_ancestors(
    c: &mut switchboard_store::AnyConnection,
    workspace_id: &str,
) -> ServiceResult<Vec<DictionaryEntry>> {
    let chain = ancestor_ids(c, workspace_id).await?;
    Ok(items::dictionary::list_for(c, &chain).await?)
}

impl App {
    /// The workspace's enrichment: its own and its ancestors' dictionary entries.
    pub async fn workspace_enricher(&self, workspace_id: &str) -> ServiceResult<WorkspaceEnricher> {
        let mut c = self.store.read().await?;
        let entries = dictionary_with_ancestors(&mut c, workspace_id).await?;
        Ok(WorkspaceEnricher::new(self.enricher(), &entries))
    }

    /// Enriches with the default rules only (no workspace dictionary).
    pub fn prepare(&self, item: NewItem) -> ItemWrite {
        WorkspaceEnricher::new(self.enricher(), &[]).prepare(item)
    }

    /// Stores prepared items in one transaction: durable when this returns.
    pub async fn store_items(
        &self,
        workspace_id: &str,
        batch: Vec<ItemWrite>,
    ) -> ServiceResult<UpsertCounts> {
        let mut tx = self.store.write().await?;
        let counts = items::upsert_batch(&mut tx, workspace_id, batch).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn workspace_for(
        &self,
        actor: &Actor,
        ws: &str,
        p: Permission,
    ) -> ServiceResult<Workspace> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(p)?;
        Ok(wa.workspace.clone())
    }

    /// Streams `reader` into the workspace. Parsing and enrichment run on a blocking thread,
    /// writing on this task, with at most a few batches in flight between them, so memory
    /// stays flat for input of any size. `progress` is called after every written batch.
    pub async fn import<R: BufRead + Send + 'static>(
        &self,
        actor: &Actor,
        ws: &str,
        reader: R,
        format: Format,
        options: ImportOptions,
        progress: impl Fn(&ImportReport) + Send + Sync + 'static,
    ) -> ServiceResult<ImportReport> {
        let workspace = self
            .workspace_for(actor, ws, Permission::IntegrationsManage)
            .await?;
        let report = Arc::new(Mutex::new(ImportReport::default()));
        let bytes = Arc::new(AtomicU64::new(0));
        let (tx_batches, mut rx_batches) = tokio::sync::mpsc::channel::<Vec<ItemWrite>>(2);
        let enricher = self.workspace_enricher(&workspace.id).await?;
        let parser = {
            let report = report.clone();
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || {
                let reader = Counting {
                    inner: reader,
                    bytes,
                };
                let mut batch = Vec::with_capacity(BATCH);
                let result = switchboard_ingest::read(reader, &format, |rec| {
                    let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
                    r.records += 1;
                    match rec.result {
                        Ok(Some(item)) => {
                            drop(r);
                            batch.push(enricher.prepare(item));
                            if batch.len() >= BATCH {
                                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                                if tx_batches.blocking_send(full).is_err() {
                                    return ControlFlow::Break(());
                                }
                            }
                        }
                        Ok(None) => r.skipped += 1,
                        Err(e) => {
                            r.reject(rec.number, e.message);
                            if options.strict {
                                return ControlFlow::Break(());
                            }
                        }
                    }
                    ControlFlow::Continue(())
                });
                if !batch.is_empty() {
                    let _ = tx_batches.blocking_send(batch);
                }
                result
            })
        };

        // Strict imports write in one transaction so a rejected record leaves nothing behind.
        let mut strict_tx = if options.strict {
            Some(self.store.write().await?)
        } else {
            None
        };
        let mut write_error = None;
        while let Some(batch) = rx_batches.recv().await {
            if options.strict && report.lock().unwrap_or_else(|p| p.into_inner()).rejected > 0 {
                continue;
            }
            let counts = match strict_tx.as_mut() {
                Some(tx) => items::upsert_batch(tx, &workspace.id, batch)
                    .await
                    .map_err(ServiceError::from),
                None => self.store_items(&workspace.id, batch).await,
            };
            match counts {
                Ok(c) => {
                    let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
                    r.add(c);
                    r.bytes = bytes.load(Ordering::Relaxed);
                    progress(&r);
                }
                Err(e) => {
                    // Stop the parser: dropping the receiver makes its next send fail.
                    write_error = Some(e);
                    break;
                }
            }
        }
        drop(rx_batches);
        let parsed = parser.await.map_err(ServiceError::internal)?;
        if let Some(e) = write_error {
            return Err(e);
        }
        let mut report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
        report.bytes = bytes.load(Ordering::Relaxed);
        if let Err(e) = parsed {
            // The input could not be read on: keep what was written (non-strict), say where it stopped.
            if let Some(tx) = strict_tx.take() {
                tx.rollback().await?;
                report.rolled_back = true;
                report.imported = 0;
                report.updated = 0;
                report.unchanged = 0;
            }
            return Err(ServiceError::invalid(
                "input",
                format!("{e} (after record {})", report.records),
            ));
        }
        if let Some(tx) = strict_tx.take() {
            if report.rejected > 0 {
                tx.rollback().await?;
                report.rolled_back = true;
                report.imported = 0;
                report.updated = 0;
                report.unchanged = 0;
            } else {
                tx.commit().await?;
            }
        }
        let mut tx = self.store.write().await?;
        Audit {
            org_id: &workspace.org_id,
            workspace_id: Some(&workspace.id),
            action: "items.import",
            target_type: "workspace",
            target_id: &workspace.id,
        }
        .write(&mut tx, actor, NONE, Some(&report_summary(&report)))
        .await?;
        tx.commit().await?;
        progress(&report);
        Ok(report)
    }

    // ---- webhook sources ----

    /// Creates a signed webhook source; its secret is returned once.
    pub async fn create_ingest_source(
        &self,
        actor: &Actor,
        ws: &str,
        name: &str,
        format: &str,
    ) -> ServiceResult<(IngestSource, String)> {
        let name = validate::slug("name", name)?;
        let parsed: Format = format
            .parse()
            .map_err(|e: switchboard_ingest::FormatError| {
                ServiceError::invalid("format", e.to_string())
            })?;
        let secret = format!("whsec_{}", crate::auth::random_token(32));
        let sealed = self.config.secrets.seal(&secret)?;
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::IntegrationsManage)?;
        let source = IngestSource {
            id: new_id(),
            workspace_id: wa.workspace.id.clone(),
            name,
            format: parsed.name().to_string(),
            created_at: now(),
        };
        items::sources::insert(&mut tx, &source, &sealed, self.config.secrets.key_id()).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "ingest_source.create",
            target_type: "ingest_source",
            target_id: &source.id,
        }
        .write(&mut tx, actor, NONE, Some(&source))
        .await?;
        tx.commit().await?;
        Ok((source, secret))
    }

    pub async fn list_ingest_sources(
        &self,
        actor: &Actor,
        ws: &str,
    ) -> ServiceResult<Vec<IngestSource>> {
        let w = self
            .workspace_for(actor, ws, Permission::IntegrationsManage)
            .await?;
        let mut c = self.store.read().await?;
        Ok(items::sources::list(&mut c, &w.id).await?)
    }

    pub async fn delete_ingest_source(
        &self,
        actor: &Actor,
        ws: &str,
        name: &str,
    ) -> ServiceResult<()> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let (source, _, _) = items::sources::get_by_name(&mut tx, &wa.workspace.id, name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(Permission::IntegrationsManage)?;
        items::sources::delete(&mut tx, &source.id).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "ingest_source.delete",
            target_type: "ingest_source",
            target_id: &source.id,
        }
        .write(&mut tx, actor, Some(&source), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A signed delivery to `/api/v1/workspaces/{ws}/ingest/{source}`. Answers only after the
    /// items are durable; a delivery id seen before is acknowledged without ingesting again.
    /// An unknown workspace or source is answered like a bad signature.
    pub async fn webhook_ingest(
        &self,
        ws: &str,
        source: &str,
        delivery: WebhookDelivery<'_>,
    ) -> ServiceResult<WebhookOutcome> {
        let now_secs = time::OffsetDateTime::now_utc().unix_timestamp();
        let (ts, signature) = crate::webhook::precheck(
            delivery.timestamp,
            delivery.signature,
            now_secs,
            self.config.webhook_max_skew.as_secs() as i64,
        )?;
        let unknown = || ServiceError::InvalidSignature("signature does not match".into());
        let found = {
            let mut c = self.store.read().await?;
            let workspace = match ws.split_once('/') {
                _ if validate::looks_like_id(ws) => {
                    switchboard_store::workspaces::get(&mut c, ws).await?
                }
                Some((org, slug)) => match switchboard_store::orgs::get_by_slug(&mut c, org).await?
                {
                    Some(o) => switchboard_store::workspaces::list_in_org(&mut c, &o.id)
                        .await?
                        .into_iter()
                        .find(|w| w.slug == slug),
                    None => None,
                },
                None => None,
            };
            match workspace {
                Some(w) => items::sources::get_by_name(&mut c, &w.id, source)
                    .await?
                    .map(|s| (w, s)),
                None => None,
            }
        };
        let Some((workspace, (source, sealed, key_id))) = found else {
            return Err(unknown());
        };
        let secret = self.config.secrets.open(&sealed, &key_id)?;
        crate::webhook::check(&secret, ts, &signature, delivery.body)?;
        let delivery_id = delivery
            .delivery_id
            .map(str::trim)
            .filter(|d| !d.is_empty() && d.len() <= 200)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "X-Switchboard-Delivery",
                    "a unique delivery id of 1 to 200 characters is required",
                )
            })?;
        let format: Format = source
            .format
            .parse()
            .map_err(|e: switchboard_ingest::FormatError| ServiceError::internal(e))?;

        let enricher = self.workspace_enricher(&workspace.id).await?;
        // A delivery is all or nothing: the sender can fix and resend it under a new id.
        let mut writes = Vec::new();
        let mut skipped = 0u64;
        let mut first_error: Option<(u64, String)> = None;
        switchboard_ingest::read_slice(delivery.body, &format, |rec| {
            match rec.result {
                Ok(Some(item)) => writes.push(enricher.prepare(item)),
                Ok(None) => skipped += 1,
                Err(e) => {
                    first_error = Some((rec.number, e.message));
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| ServiceError::invalid("body", e.to_string()))?;
        if let Some((n, msg)) = first_error {
            return Err(ServiceError::invalid(&format!("record {n}"), msg));
        }
        let received = writes.len() as i64;
        let mut tx = self.store.write().await?;
        if !items::sources::record_delivery(&mut tx, &source.id, delivery_id, received).await? {
            tx.rollback().await?;
            return Ok(WebhookOutcome {
                replayed: true,
                counts: UpsertCounts::default(),
                skipped: 0,
            });
        }
        let counts = items::upsert_batch(&mut tx, &workspace.id, writes).await?;
        tx.commit().await?;
        Ok(WebhookOutcome {
            replayed: false,
            counts,
            skipped,
        })
    }
}

/// What the headers and body of a webhook delivery carry.
pub struct WebhookDelivery<'a> {
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub delivery_id: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookOutcome {
    /// True when this delivery id had been ingested before; nothing was written.
    pub replayed: bool,
    #[serde(flatten)]
    pub counts: UpsertCounts,
    pub skipped: u64,
}

fn report_summary(r: &ImportReport) -> serde_json::Value {
    serde_json::json!({
        "records": r.records, "imported": r.imported, "updated": r.updated, "unchanged": r.unchanged,
        "skipped": r.skipped, "rejected": r.rejected, "rolled_back": r.rolled_back, "bytes": r.bytes,
    })
}

/// A format by name with its options: `map` and `network` for CSV, `account` (handle, or
/// `handle:id`) for an X/Twitter archive.
pub fn format_from(
    name: &str,
    map: Option<&str>,
    network: Option<&str>,
    account: Option<&str>,
) -> ServiceResult<Format> {
    let network = network
        .map(|n| {
            n.parse::<switchboard_core::Network>()
                .map_err(|e| ServiceError::invalid("network", e))
        })
        .transpose()?;
    match name.trim().to_ascii_lowercase().as_str() {
        "csv" => {
            let spec = map.ok_or_else(|| {
                ServiceError::invalid(
                    "map",
                    "csv needs a column mapping, e.g. text=body,external_id=id,created_at=date",
                )
            })?;
            let mapping = switchboard_ingest::CsvMapping::parse(spec, network)
                .map_err(|e| ServiceError::invalid("map", e.to_string()))?;
            Ok(Format::csv(mapping))
        }
        "twitter-archive" | "x-archive" => {
            let mut acct = switchboard_ingest::TwitterAccount::default();
            if let Some(a) = account.filter(|a| !a.trim().is_empty()) {
                let (handle, id) = a
                    .trim()
                    .trim_start_matches('@')
                    .split_once(':')
                    .unwrap_or((a.trim().trim_start_matches('@'), ""));
                acct.handle = handle.to_string();
                acct.id = id.to_string();
            }
            Ok(Format::twitter_archive(acct))
        }
        other => other.parse().map_err(|e: switchboard_ingest::FormatError| {
            ServiceError::invalid("format", e.to_string())
        }),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemPage {
    pub items: Vec<switchboard_core::Item>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl App {
    /// Newest first, with an opaque cursor for the next page.
    pub async fn list_items(
        &self,
        actor: &Actor,
        ws: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> ServiceResult<ItemPage> {
        let w = self
            .workspace_for(actor, ws, Permission::ListeningRead)
            .await?;
        let before = match cursor {
            Some(c) => {
                let bad = || ServiceError::invalid("cursor", "not a cursor from a previous page");
                let decoded =
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, c)
                        .map_err(|_| bad())?;
                let text = String::from_utf8(decoded).map_err(|_| bad())?;
                let (ts, id) = text.split_once('|').ok_or_else(bad)?;
                Some((ts.to_string(), id.to_string()))
            }
            None => None,
        };
        let mut c = self.store.read().await?;
        let items = items::list_recent(
            &mut c,
            &w.id,
            before.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            limit,
        )
        .await?;
        let next_cursor = (items.len() as i64 == limit)
            .then(|| items.last())
            .flatten()
            .map(|i| {
                base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    format!("{}|{}", i.created_at, i.id),
                )
            });
        Ok(ItemPage { items, next_cursor })
    }

    pub async fn get_item(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<switchboard_core::Item> {
        let w = self
            .workspace_for(actor, ws, Permission::ListeningRead)
            .await?;
        let mut c = self.store.read().await?;
        items::get(&mut c, &w.id, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDictionaryEntry {
    pub kind: DictionaryKind,
    pub label: String,
    #[serde(default)]
    pub terms: Vec<String>,
    /// Intent entries only: a listening query (docs/query-language.md); items it matches get
    /// the intent, e.g. `refund NEAR/5 (late OR missing)` for complaints.
    #[serde(default)]
    pub query: Option<String>,
}

impl App {
    /// The workspace's own entries and those it inherits from its ancestors.
    pub async fn list_dictionary(
        &self,
        actor: &Actor,
        ws: &str,
    ) -> ServiceResult<Vec<DictionaryEntry>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::ListeningRead)?;
        dictionary_with_ancestors(&mut c, &wa.workspace.id).await
    }

    pub async fn add_dictionary_entry(
        &self,
        actor: &Actor,
        ws: &str,
        input: AddDictionaryEntry,
    ) -> ServiceResult<DictionaryEntry> {
        let label = validate::name("label", &input.label)?;
        if input.kind == DictionaryKind::Intent
            && label.parse::<switchboard_enrich::Intent>().is_err()
        {
            return Err(ServiceError::invalid(
                "label",
                "an intent entry's label is an intent: complaint, question, purchase_intent, praise, recruiting, bug_report or feature_request",
            ));
        }
        let mut terms = Vec::new();
        for (i, t) in input.terms.iter().enumerate() {
            let t = t.trim();
            if t.is_empty() || t.chars().count() > 100 {
                return Err(ServiceError::invalid(
                    &format!("terms[{i}]"),
                    "must be 1 to 100 characters",
                ));
            }
            if !terms.iter().any(|x: &String| x.eq_ignore_ascii_case(t)) {
                terms.push(t.to_string());
            }
        }
        let query = match input.query.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) => {
                if input.kind != DictionaryKind::Intent {
                    return Err(ServiceError::invalid(
                        "query",
                        "only intent entries take a query; names go in terms",
                    ));
                }
                switchboard_search::parse(q).map_err(|e| ServiceError::query("query", e))?;
                Some(q.to_string())
            }
        };
        if (terms.is_empty() && query.is_none()) || terms.len() > 100 {
            return Err(ServiceError::invalid(
                "terms",
                "give 1 to 100 names or keywords (an intent entry may give a query instead)",
            ));
        }
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::ListeningManage)?;
        let entry = DictionaryEntry {
            id: new_id(),
            workspace_id: wa.workspace.id.clone(),
            kind: input.kind,
            label,
            terms,
            query,
            created_at: now(),
        };
        items::dictionary::insert(&mut tx, &entry).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "dictionary.add",
            target_type: "dictionary_entry",
            target_id: &entry.id,
        }
        .write(&mut tx, actor, NONE, Some(&entry))
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    pub async fn delete_dictionary_entry(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<()> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let entry = items::dictionary::get(&mut tx, &wa.workspace.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(Permission::ListeningManage)?;
        items::dictionary::delete(&mut tx, &entry.id).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "dictionary.delete",
            target_type: "dictionary_entry",
            target_id: &entry.id,
        }
        .write(&mut tx, actor, Some(&entry), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
