//! Topics, annotations and spikes (which are also the alerts).

use crate::queries::parse;
use crate::{classify, opt_str, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use switchboard_core::{Annotation, Spike, Topic};

fn topic(r: &AnyRow) -> Result<Topic> {
    Ok(Topic {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        name: r.try_get("name")?,
        kind: parse(r, "kind")?,
        query: r.try_get("query")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const TOPIC: &str =
    "SELECT id, workspace_id, name, kind, query, created_at, updated_at FROM topics";

pub async fn insert_topic(c: &mut AnyConnection, t: &Topic, by: Option<&str>) -> Result<()> {
    sqlx::query(
        "INSERT INTO topics (id, workspace_id, name, kind, query, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&t.id)
    .bind(&t.workspace_id)
    .bind(&t.name)
    .bind(t.kind.as_str())
    .bind(&t.query)
    .bind(by)
    .bind(&t.created_at)
    .bind(&t.updated_at)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn update_topic(c: &mut AnyConnection, t: &Topic) -> Result<()> {
    sqlx::query(
        "UPDATE topics SET name = $1, kind = $2, query = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&t.name)
    .bind(t.kind.as_str())
    .bind(&t.query)
    .bind(&t.updated_at)
    .bind(&t.id)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn get_topic(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Topic>> {
    let r = sqlx::query(&format!("{TOPIC} WHERE workspace_id = $1 AND id = $2"))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(topic).transpose()
}

pub async fn list_topics(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<Topic>> {
    let rows = sqlx::query(&format!("{TOPIC} WHERE workspace_id = $1 ORDER BY name"))
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(topic).collect()
}

/// Every topic of every workspace (the spike scan).
pub async fn all_topics(c: &mut AnyConnection) -> Result<Vec<Topic>> {
    let rows = sqlx::query(&format!("{TOPIC} ORDER BY workspace_id, name"))
        .fetch_all(c)
        .await?;
    rows.iter().map(topic).collect()
}

pub async fn delete_topic(c: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM topics WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

fn annotation(r: &AnyRow) -> Result<Annotation> {
    Ok(Annotation {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        title: r.try_get("title")?,
        kind: parse(r, "kind")?,
        at: r.try_get("at")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_annotation(
    c: &mut AnyConnection,
    a: &Annotation,
    by: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO annotations (id, workspace_id, title, kind, at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.id)
    .bind(&a.workspace_id)
    .bind(&a.title)
    .bind(a.kind.as_str())
    .bind(&a.at)
    .bind(by)
    .bind(&a.created_at)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

/// Annotations of the given workspaces (a workspace and its ancestors: a release announced by
/// the centre of excellence applies to its regions too), oldest first.
pub async fn list_annotations(
    c: &mut AnyConnection,
    workspace_ids: &[String],
) -> Result<Vec<Annotation>> {
    let mut out = Vec::new();
    for ws in workspace_ids {
        let rows = sqlx::query(
            "SELECT id, workspace_id, title, kind, at, created_at FROM annotations WHERE workspace_id = $1",
        )
        .bind(ws)
        .fetch_all(&mut *c)
        .await?;
        for r in &rows {
            out.push(annotation(r)?);
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

pub async fn get_annotation(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Annotation>> {
    let r = sqlx::query(
        "SELECT id, workspace_id, title, kind, at, created_at FROM annotations WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    r.as_ref().map(annotation).transpose()
}

pub async fn delete_annotation(c: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM annotations WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

fn list_col(r: &AnyRow, col: &str) -> Result<Vec<String>> {
    let s: String = r.try_get(col)?;
    Ok(serde_json::from_str(&s).unwrap_or_default())
}

fn spike(r: &AnyRow) -> Result<Spike> {
    Ok(Spike {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        topic_id: r.try_get("topic_id")?,
        series: r.try_get("series")?,
        bucket_secs: r.try_get("bucket_secs")?,
        window_start: r.try_get("window_start")?,
        window_end: r.try_get("window_end")?,
        observed: r.try_get("observed")?,
        baseline: r.try_get("baseline")?,
        change_pct: r.try_get("change_pct")?,
        score: r.try_get("score")?,
        annotation_id: opt_str(r, "annotation_id")?,
        annotation_title: opt_str(r, "annotation_title")?,
        terms: list_col(r, "terms")?,
        intents: list_col(r, "intents")?,
        summary: r.try_get("summary")?,
        acknowledged_by: opt_str(r, "acknowledged_by")?,
        acknowledged_at: opt_str(r, "acknowledged_at")?,
        created_at: r.try_get("created_at")?,
    })
}

const SPIKE: &str = "SELECT id, workspace_id, topic_id, series, bucket_secs, window_start, window_end, observed, \
    baseline, change_pct, score, annotation_id, annotation_title, terms, intents, summary, acknowledged_by, \
    acknowledged_at, created_at FROM spikes";

/// Records a spike unless the same (topic, series, window start) is already recorded.
/// Returns whether it was new: only a new spike raises an alert.
pub async fn insert_spike(c: &mut AnyConnection, s: &Spike) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO spikes (id, workspace_id, topic_id, series, bucket_secs, window_start, window_end, observed, \
         baseline, change_pct, score, annotation_id, annotation_title, terms, intents, summary, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (topic_id, series, window_start) DO NOTHING",
    )
    .bind(&s.id)
    .bind(&s.workspace_id)
    .bind(&s.topic_id)
    .bind(&s.series)
    .bind(s.bucket_secs)
    .bind(&s.window_start)
    .bind(&s.window_end)
    .bind(s.observed)
    .bind(s.baseline)
    .bind(s.change_pct)
    .bind(s.score)
    .bind(s.annotation_id.as_deref())
    .bind(s.annotation_title.as_deref())
    .bind(serde_json::to_string(&s.terms).unwrap_or_else(|_| "[]".into()))
    .bind(serde_json::to_string(&s.intents).unwrap_or_else(|_| "[]".into()))
    .bind(&s.summary)
    .bind(&s.created_at)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(r.rows_affected() == 1)
}

/// Newest first.
pub async fn list_spikes(
    c: &mut AnyConnection,
    workspace_id: &str,
    limit: i64,
) -> Result<Vec<Spike>> {
    let rows = sqlx::query(&format!(
        "{SPIKE} WHERE workspace_id = $1 ORDER BY window_start DESC, id DESC LIMIT $2"
    ))
    .bind(workspace_id)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(spike).collect()
}

pub async fn get_spike(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Spike>> {
    let r = sqlx::query(&format!("{SPIKE} WHERE workspace_id = $1 AND id = $2"))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(spike).transpose()
}

pub async fn acknowledge_spike(c: &mut AnyConnection, id: &str, by: &str, at: &str) -> Result<()> {
    sqlx::query("UPDATE spikes SET acknowledged_by = $1, acknowledged_at = $2 WHERE id = $3")
        .bind(by)
        .bind(at)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}
