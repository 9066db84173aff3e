//! Items, written in batches: one statement per few hundred items, never a transaction per item.

use crate::queries::{parse, placeholders};
use crate::{classify, opt_str, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use switchboard_core::{Author, Enrichment, IngestSource, Item, Metrics, NewItem, Sentiment};

/// An item ready to store: what the network said, what enrichment found, and a hash of the
/// former to tell an unchanged re-delivery from an update.
#[derive(Debug, Clone)]
pub struct ItemWrite {
    pub item: NewItem,
    pub enrichment: Enrichment,
    pub content_hash: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpsertCounts {
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl UpsertCounts {
    pub fn add(&mut self, o: UpsertCounts) {
        self.imported += o.imported;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

const COLUMNS: &[&str] = &[
    "id",
    "workspace_id",
    "network",
    "external_id",
    "kind",
    "author_id",
    "author_handle",
    "author_name",
    "author_followers",
    "text",
    "hashtags",
    "mentions",
    "urls",
    "lang",
    "created_at",
    "url",
    "parent_id",
    "root_id",
    "likes",
    "shares",
    "replies",
    "sentiment",
    "sentiment_score",
    "intents",
    "tags",
    "raw",
    "content_hash",
    "ingested_at",
    "updated_at",
];

/// Rows per statement: 29 columns x 400 rows stays under both backends' parameter limits.
pub const CHUNK: usize = 400;

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Inserts new items and updates changed ones; a repeated (network, external id) within
/// the batch keeps its last version.
pub async fn upsert_batch(
    c: &mut AnyConnection,
    workspace_id: &str,
    batch: Vec<ItemWrite>,
) -> Result<UpsertCounts> {
    let mut last: HashMap<(String, String), usize> = HashMap::new();
    for (i, w) in batch.iter().enumerate() {
        last.insert(
            (
                w.item.network.as_str().to_string(),
                w.item.external_id.clone(),
            ),
            i,
        );
    }
    let batch: Vec<ItemWrite> = batch
        .into_iter()
        .enumerate()
        .filter(|(i, w)| {
            last.get(&(
                w.item.network.as_str().to_string(),
                w.item.external_id.clone(),
            )) == Some(i)
        })
        .map(|(_, w)| w)
        .collect();
    let mut counts = UpsertCounts::default();
    for chunk in batch.chunks(CHUNK) {
        counts.add(upsert_chunk(c, workspace_id, chunk).await?);
    }
    Ok(counts)
}

/// SQLite looks a numbered parameter up by name in a list, which makes binding thousands of
/// `$n` parameters quadratic; plain `?` binds in order. PostgreSQL needs `$n`.
/// The `i`th bind parameter: `?` on SQLite, where numbered ones cost quadratic time in long
/// statements, `$i` on PostgreSQL.
pub(crate) fn placeholder(sqlite: bool, i: usize) -> String {
    if sqlite {
        "?".to_string()
    } else {
        format!("${i}")
    }
}

/// `p, p, ...`: `n` parameters numbered from `start`, for an `IN (...)` list.
pub(crate) fn in_list(sqlite: bool, start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| placeholder(sqlite, i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(p, p, ...), (p, p, ...)`: `rows` tuples of `cols` parameters each, numbered from 1.
pub(crate) fn value_rows(sqlite: bool, rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let one = (1..=cols)
                .map(|i| placeholder(sqlite, r * cols + i))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({one})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn upsert_chunk(
    c: &mut AnyConnection,
    workspace_id: &str,
    chunk: &[ItemWrite],
) -> Result<UpsertCounts> {
    let sqlite = c.backend_name() == "SQLite";
    let now = crate::now();
    let n = COLUMNS.len();
    let values = value_rows(sqlite, chunk.len(), n);
    // On conflict everything the network can change is replaced (id and ingested_at stay),
    // but only when the content differs: an unchanged re-delivery writes nothing.
    let updates = COLUMNS
        .iter()
        .filter(|c| {
            !matches!(
                **c,
                "id" | "workspace_id" | "network" | "external_id" | "ingested_at"
            )
        })
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // RETURNING id tells the outcome apart without a lookup first: our fresh id came back for
    // an insert, the stored id for an update, and no row at all for an unchanged item.
    let sql = format!(
        "INSERT INTO items ({}) VALUES {values} ON CONFLICT (workspace_id, network, external_id) \
         DO UPDATE SET {updates} WHERE items.content_hash <> excluded.content_hash RETURNING id",
        COLUMNS.join(", ")
    );
    let ids: Vec<String> = chunk.iter().map(|_| crate::new_id()).collect();
    let mut q = sqlx::query(&sql);
    for (w, id) in chunk.iter().zip(&ids) {
        let (i, e) = (&w.item, &w.enrichment);
        q = q
            .bind(id)
            .bind(workspace_id)
            .bind(i.network.as_str())
            .bind(&i.external_id)
            .bind(i.kind.as_str())
            .bind(&i.author.id)
            .bind(&i.author.handle)
            .bind(&i.author.display_name)
            .bind(i.author.followers)
            .bind(&i.text)
            .bind(json_list(&i.hashtags))
            .bind(json_list(&i.mentions))
            .bind(json_list(&i.urls))
            .bind(e.lang.as_deref())
            .bind(&i.created_at)
            .bind(i.url.as_deref())
            .bind(i.parent_id.as_deref())
            .bind(i.root_id.as_deref())
            .bind(i.metrics.likes)
            .bind(i.metrics.shares)
            .bind(i.metrics.replies)
            .bind(&e.sentiment)
            .bind(e.sentiment_score)
            .bind(json_list(&e.intents))
            .bind(json_list(&e.tags))
            .bind(i.raw.as_ref().map(|r| r.to_string()))
            .bind(&w.content_hash)
            .bind(&now)
            .bind(&now);
    }
    let returned = q.fetch_all(&mut *c).await.map_err(classify)?;
    let fresh: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut counts = UpsertCounts::default();
    for r in &returned {
        let id: String = r.try_get("id")?;
        if fresh.contains(id.as_str()) {
            counts.imported += 1;
        } else {
            counts.updated += 1;
        }
    }
    counts.unchanged = chunk.len() as u64 - returned.len() as u64;
    if !returned.is_empty() {
        let changed: Vec<String> = returned
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<std::result::Result<_, _>>()?;
        log_changes(c, &changed, &now).await?;
    }
    Ok(counts)
}

/// Appends to `item_changes` in the caller's transaction; see the migration for why.
pub async fn log_changes(c: &mut AnyConnection, ids: &[String], now: &str) -> Result<()> {
    let sqlite = c.backend_name() == "SQLite";
    for chunk in ids.chunks(CHUNK) {
        let values = value_rows(sqlite, chunk.len(), 2);
        let sql = format!("INSERT INTO item_changes (item_id, changed_at) VALUES {values}");
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id).bind(now);
        }
        q.execute(&mut *c).await.map_err(classify)?;
    }
    Ok(())
}

/// Changes after `seq`, oldest first: (seq, item id).
pub async fn changes_after(
    c: &mut AnyConnection,
    seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    let rows =
        sqlx::query("SELECT seq, item_id FROM item_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(seq)
            .bind(limit)
            .fetch_all(c)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("seq")?, r.try_get("item_id")?)))
        .collect()
}

pub async fn last_change(c: &mut AnyConnection) -> Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM item_changes")
        .fetch_one(c)
        .await?;
    Ok(row.try_get("n")?)
}

/// Items by id in any workspace (the indexer's read); missing ids are skipped.
pub async fn get_many(c: &mut AnyConnection, ids: &[String]) -> Result<Vec<Item>> {
    let sqlite = c.backend_name() == "SQLite";
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let ph = in_list(sqlite, 1, chunk.len());
        let sql = format!("{SELECT} WHERE id IN ({ph})");
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(&mut *c).await? {
            out.push(from_row(&r)?);
        }
    }
    Ok(out)
}

/// Every item of every workspace in id order, `limit` after `after` (a rebuild's scan).
pub async fn scan(c: &mut AnyConnection, after: &str, limit: i64) -> Result<Vec<Item>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Where an item's columns come from: a row, or an object of a JSON-aggregated read.
trait Columns {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<Option<i64>>;
    fn float(&self, col: &str) -> Result<f64>;
}

fn decode_error(col: &str, what: &str) -> crate::StoreError {
    crate::StoreError::Db(sqlx::Error::Decode(format!("column {col}: {what}").into()))
}

impl Columns for AnyRow {
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        opt_str(self, col)
    }
    fn int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }
    fn float(&self, col: &str) -> Result<f64> {
        Ok(self.try_get(col)?)
    }
}

impl Columns for serde_json::Map<String, serde_json::Value> {
    fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?
            .ok_or_else(|| decode_error(col, "missing"))
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        match self.get(col) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(decode_error(col, "not text")),
        }
    }
    fn int(&self, col: &str) -> Result<Option<i64>> {
        match self.get(col) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| decode_error(col, "not an integer")),
        }
    }
    fn float(&self, col: &str) -> Result<f64> {
        self.get(col)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| decode_error(col, "not a number"))
    }
}

fn list(r: &impl Columns, col: &str) -> Result<Vec<String>> {
    Ok(serde_json::from_str(&r.text(col)?).unwrap_or_default())
}

/// A text column holding one of a closed set of names (networks, kinds).
fn named<T: std::str::FromStr<Err = String>>(r: &impl Columns, col: &str) -> Result<T> {
    r.text(col)?
        .parse()
        .map_err(|e: String| decode_error(col, &e))
}

fn from_row(r: &impl Columns) -> Result<Item> {
    Ok(Item {
        id: r.text("id")?,
        workspace_id: r.text("workspace_id")?,
        network: named(r, "network")?,
        external_id: r.text("external_id")?,
        kind: named(r, "kind")?,
        author: Author {
            id: r.text("author_id")?,
            handle: r.text("author_handle")?,
            display_name: r.text("author_name")?,
            followers: r.int("author_followers")?,
        },
        text: r.text("text")?,
        hashtags: list(r, "hashtags")?,
        mentions: list(r, "mentions")?,
        urls: list(r, "urls")?,
        lang: r.opt_text("lang")?,
        created_at: r.text("created_at")?,
        url: r.opt_text("url")?,
        parent_id: r.opt_text("parent_id")?,
        root_id: r.opt_text("root_id")?,
        metrics: Metrics {
            likes: r.int("likes")?.unwrap_or(0),
            shares: r.int("shares")?.unwrap_or(0),
            replies: r.int("replies")?.unwrap_or(0),
        },
        sentiment: Sentiment {
            label: r.text("sentiment")?,
            score: r.float("sentiment_score")?,
        },
        intents: list(r, "intents")?,
        tags: list(r, "tags")?,
        ingested_at: r.text("ingested_at")?,
        updated_at: r.text("updated_at")?,
    })
}

const SELECT: &str = "SELECT id, workspace_id, network, external_id, kind, author_id, author_handle, author_name, \
    author_followers, text, hashtags, mentions, urls, lang, created_at, url, parent_id, root_id, likes, shares, \
    replies, sentiment, sentiment_score, intents, tags, ingested_at, updated_at FROM items";

/// The items of the given inbox conversations: (conversation id, item), in no set order.
///
/// Each chunk comes back as one JSON document aggregated by the database: a row through the
/// driver costs about 16 µs here, several times what SQLite needs to find it, and an inbox
/// list filtered by a listening query reads a thousand items per page.
/// (SQLite writes a REAL into JSON with 15 significant digits, so `sentiment_score` may differ
/// from a row-by-row read past the 15th.)
pub async fn of_conversations(
    c: &mut AnyConnection,
    conversation_ids: &[String],
) -> Result<Vec<(String, Item)>> {
    let sqlite = c.backend_name() == "SQLite";
    // The columns of SELECT: all that are written but the raw payload and the hash.
    let pairs = COLUMNS
        .iter()
        .filter(|col| !matches!(**col, "raw" | "content_hash"))
        .map(|col| format!("'{col}', items.{col}"))
        .chain(std::iter::once(
            "'conversation_of', ci.conversation_id".to_string(),
        ))
        .collect::<Vec<_>>()
        .join(", ");
    let aggregate = if sqlite {
        format!("json_group_array(json_object({pairs}))")
    } else {
        format!("CAST(json_agg(json_build_object({pairs})) AS TEXT)")
    };
    let mut out = Vec::new();
    for chunk in conversation_ids.chunks(CHUNK) {
        let ph = in_list(sqlite, 1, chunk.len());
        let sql = format!(
            "SELECT {aggregate} AS doc FROM items \
             JOIN conversation_items ci ON ci.item_id = items.id WHERE ci.conversation_id IN ({ph})"
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        let doc: Option<String> = q.fetch_one(&mut *c).await?.try_get("doc")?;
        let rows: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(doc.as_deref().unwrap_or("[]"))
                .map_err(|e| decode_error("doc", &e.to_string()))?;
        for r in &rows {
            out.push((r.text("conversation_of")?, from_row(r)?));
        }
    }
    Ok(out)
}

pub async fn get(c: &mut AnyConnection, workspace_id: &str, id: &str) -> Result<Option<Item>> {
    let row = sqlx::query(&format!("{SELECT} WHERE workspace_id = $1 AND id = $2"))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get_by_external(
    c: &mut AnyConnection,
    workspace_id: &str,
    network: &str,
    external_id: &str,
) -> Result<Option<Item>> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE workspace_id = $1 AND network = $2 AND external_id = $3"
    ))
    .bind(workspace_id)
    .bind(network)
    .bind(external_id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Newest first; `before` is a (created_at, id) cursor from the previous page's last item.
pub async fn list_recent(
    c: &mut AnyConnection,
    workspace_id: &str,
    before: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<Item>> {
    let rows = match before {
        Some((ts, id)) => {
            sqlx::query(&format!(
                "{SELECT} WHERE workspace_id = $1 AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ))
            .bind(workspace_id)
            .bind(ts)
            .bind(id)
            .bind(limit)
            .fetch_all(c)
            .await?
        }
        None => {
            sqlx::query(&format!("{SELECT} WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"))
                .bind(workspace_id)
                .bind(limit)
                .fetch_all(c)
                .await?
        }
    };
    rows.iter().map(from_row).collect()
}

pub async fn count(c: &mut AnyConnection, workspace_id: &str) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM items WHERE workspace_id = $1")
        .bind(workspace_id)
        .fetch_one(c)
        .await?;
    Ok(row.try_get("n")?)
}

/// The payload as received, kept for audit.
pub async fn raw(c: &mut AnyConnection, workspace_id: &str, id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT raw FROM items WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    Ok(row
        .as_ref()
        .map(|r| opt_str(r, "raw"))
        .transpose()?
        .flatten())
}

pub mod sources {
    use super::*;

    fn from_row(r: &AnyRow) -> Result<(IngestSource, String, String)> {
        Ok((
            IngestSource {
                id: r.try_get("id")?,
                workspace_id: r.try_get("workspace_id")?,
                name: r.try_get("name")?,
                format: r.try_get("format")?,
                created_at: r.try_get("created_at")?,
            },
            r.try_get("secret_sealed")?,
            r.try_get("key_id")?,
        ))
    }

    pub async fn insert(
        c: &mut AnyConnection,
        s: &IngestSource,
        sealed: &str,
        key_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ingest_sources (id, workspace_id, name, format, secret_sealed, key_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id)
        .bind(&s.workspace_id)
        .bind(&s.name)
        .bind(&s.format)
        .bind(sealed)
        .bind(key_id)
        .bind(&s.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    /// The source with its sealed secret and key id.
    pub async fn get_by_name(
        c: &mut AnyConnection,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<(IngestSource, String, String)>> {
        let row = sqlx::query("SELECT * FROM ingest_sources WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(name)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<IngestSource>> {
        let rows =
            sqlx::query("SELECT * FROM ingest_sources WHERE workspace_id = $1 ORDER BY name")
                .bind(workspace_id)
                .fetch_all(c)
                .await?;
        rows.iter().map(|r| from_row(r).map(|t| t.0)).collect()
    }

    pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM ingest_sources WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }

    /// Records a delivery; false when this delivery id was already ingested.
    pub async fn record_delivery(
        c: &mut AnyConnection,
        source_id: &str,
        delivery_id: &str,
        items: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO ingest_deliveries (source_id, delivery_id, received_at, items) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (source_id, delivery_id) DO NOTHING",
        )
        .bind(source_id)
        .bind(delivery_id)
        .bind(crate::now())
        .bind(items)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }
}

pub mod dictionary {
    use super::*;
    use switchboard_core::DictionaryEntry;

    fn from_row(r: &AnyRow) -> Result<DictionaryEntry> {
        Ok(DictionaryEntry {
            id: r.try_get("id")?,
            workspace_id: r.try_get("workspace_id")?,
            kind: parse(r, "kind")?,
            label: r.try_get("label")?,
            terms: list(r, "terms")?,
            query: opt_str(r, "query")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, e: &DictionaryEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO dictionary_entries (id, workspace_id, kind, label, terms, query, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&e.id)
        .bind(&e.workspace_id)
        .bind(e.kind.as_str())
        .bind(&e.label)
        .bind(json_list(&e.terms))
        .bind(e.query.as_deref())
        .bind(&e.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn get(
        c: &mut AnyConnection,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<DictionaryEntry>> {
        let row =
            sqlx::query("SELECT * FROM dictionary_entries WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(id)
                .fetch_optional(c)
                .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Entries of the given workspaces (a workspace and its ancestors).
    pub async fn list_for(
        c: &mut AnyConnection,
        workspace_ids: &[String],
    ) -> Result<Vec<DictionaryEntry>> {
        if workspace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM dictionary_entries WHERE workspace_id IN ({}) ORDER BY kind, label",
            placeholders(1, workspace_ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in workspace_ids {
            q = q.bind(id);
        }
        q.fetch_all(c).await?.iter().map(from_row).collect()
    }

    pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM dictionary_entries WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }
}

pub mod channels {
    use super::*;
    use switchboard_core::{Channel, ChannelStatus};

    /// A channel with its sealed credentials, key id and cursor JSON.
    pub struct ChannelRow {
        pub channel: Channel,
        pub credentials_sealed: String,
        pub key_id: String,
        pub cursor: String,
    }

    fn from_row(r: &AnyRow) -> Result<ChannelRow> {
        Ok(ChannelRow {
            channel: Channel {
                id: r.try_get("id")?,
                workspace_id: r.try_get("workspace_id")?,
                network: parse(r, "network")?,
                name: r.try_get("name")?,
                base_url: r.try_get("base_url")?,
                account: r.try_get("account")?,
                feeds: super::list(r, "feeds")?,
                status: parse(r, "status")?,
                status_message: opt_str(r, "status_message")?,
                next_poll_at: r.try_get("next_poll_at")?,
                last_polled_at: opt_str(r, "last_polled_at")?,
                created_at: r.try_get("created_at")?,
            },
            credentials_sealed: r.try_get("credentials_sealed")?,
            key_id: r.try_get("key_id")?,
            cursor: r.try_get("cursor")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, row: &ChannelRow) -> Result<()> {
        let ch = &row.channel;
        sqlx::query(
            "INSERT INTO channels (id, workspace_id, network, name, base_url, account, credentials_sealed, key_id, \
             feeds, cursor, status, status_message, next_poll_at, last_polled_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&ch.id)
        .bind(&ch.workspace_id)
        .bind(ch.network.as_str())
        .bind(&ch.name)
        .bind(&ch.base_url)
        .bind(&ch.account)
        .bind(&row.credentials_sealed)
        .bind(&row.key_id)
        .bind(json_list(&ch.feeds))
        .bind(&row.cursor)
        .bind(ch.status.as_str())
        .bind(ch.status_message.as_deref())
        .bind(&ch.next_poll_at)
        .bind(ch.last_polled_at.as_deref())
        .bind(&ch.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<ChannelRow>> {
        let row = sqlx::query("SELECT * FROM channels WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<Channel>> {
        let rows = sqlx::query("SELECT * FROM channels WHERE workspace_id = $1 ORDER BY name")
            .bind(workspace_id)
            .fetch_all(c)
            .await?;
        rows.iter()
            .map(|r| from_row(r).map(|x| x.channel))
            .collect()
    }

    /// Channels due for a poll (not waiting for a reconnect), oldest due first.
    pub async fn due(c: &mut AnyConnection, now: &str, limit: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM channels WHERE next_poll_at <= $1 AND status <> 'needs_reconnect' ORDER BY next_poll_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Takes the channel for one poll: moves its next poll to `lease_until` if it is still
    /// due at `now`. False when another process claimed it first.
    pub async fn claim(
        c: &mut AnyConnection,
        id: &str,
        now: &str,
        lease_until: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE channels SET next_poll_at = $1 WHERE id = $2 AND next_poll_at <= $3",
        )
        .bind(lease_until)
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a poll's outcome: the new cursor and (rotated) credentials, status and next poll.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_poll(
        c: &mut AnyConnection,
        id: &str,
        cursor: &str,
        credentials_sealed: &str,
        key_id: &str,
        status: ChannelStatus,
        message: Option<&str>,
        next_poll_at: &str,
        polled_at: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE channels SET cursor = $1, credentials_sealed = $2, key_id = $3, status = $4, status_message = $5, \
             next_poll_at = $6, last_polled_at = $7 WHERE id = $8",
        )
        .bind(cursor)
        .bind(credentials_sealed)
        .bind(key_id)
        .bind(status.as_str())
        .bind(message)
        .bind(next_poll_at)
        .bind(polled_at)
        .bind(id)
        .execute(c)
        .await?;
        Ok(())
    }

    /// Marks a channel's credentials refused outside a poll (a reply was turned away): the
    /// workspace page then asks for new ones, as after a refused poll.
    pub async fn mark_needs_reconnect(
        c: &mut AnyConnection,
        id: &str,
        message: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE channels SET status = $1, status_message = $2 WHERE id = $3")
            .bind(ChannelStatus::NeedsReconnect.as_str())
            .bind(message)
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }

    pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }
}
