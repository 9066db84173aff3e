//! Working a conversation: internal notes (with the members they mention), a workspace's
//! saved replies, and replies sent from the inbox (queued with their job, then sent once).

use crate::{classify, opt_str, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

// ---------------------------------------------------------------- notes

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Note {
    pub id: String,
    pub conversation_id: String,
    pub author_id: Option<String>,
    pub author: String,
    pub body: String,
    /// The user ids of the workspace members the note mentions.
    pub mentions: Vec<String>,
    pub created_at: String,
}

/// Writes a note and its mentions.
pub async fn insert_note(c: &mut AnyConnection, n: &Note) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversation_notes (id, conversation_id, author_id, author, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&n.id)
    .bind(&n.conversation_id)
    .bind(n.author_id.as_deref())
    .bind(&n.author)
    .bind(&n.body)
    .bind(&n.created_at)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    for user in &n.mentions {
        sqlx::query("INSERT INTO note_mentions (note_id, user_id) VALUES ($1, $2)")
            .bind(&n.id)
            .bind(user)
            .execute(&mut *c)
            .await
            .map_err(classify)?;
    }
    Ok(())
}

/// The notes of a conversation, oldest first, with their mentions.
pub async fn notes(c: &mut AnyConnection, conversation_id: &str) -> Result<Vec<Note>> {
    let rows = sqlx::query(
        "SELECT id, conversation_id, author_id, author, body, created_at FROM conversation_notes \
         WHERE conversation_id = $1 ORDER BY created_at, id",
    )
    .bind(conversation_id)
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let mentions =
            sqlx::query("SELECT user_id FROM note_mentions WHERE note_id = $1 ORDER BY user_id")
                .bind(&id)
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(|m| m.try_get::<String, _>("user_id"))
                .collect::<std::result::Result<_, _>>()?;
        out.push(Note {
            id,
            conversation_id: r.try_get("conversation_id")?,
            author_id: opt_str(r, "author_id")?,
            author: r.try_get("author")?,
            body: r.try_get("body")?,
            mentions,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- saved replies

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SavedReply {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

fn saved_reply(r: &AnyRow) -> Result<SavedReply> {
    Ok(SavedReply {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const SAVED_REPLY: &str =
    "SELECT id, workspace_id, name, body, created_at, updated_at FROM saved_replies";

pub async fn insert_saved_reply(c: &mut AnyConnection, s: &SavedReply) -> Result<()> {
    sqlx::query(
        "INSERT INTO saved_replies (id, workspace_id, name, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.id)
    .bind(&s.workspace_id)
    .bind(&s.name)
    .bind(&s.body)
    .bind(&s.created_at)
    .bind(&s.updated_at)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn update_saved_reply(c: &mut AnyConnection, s: &SavedReply) -> Result<()> {
    sqlx::query("UPDATE saved_replies SET name = $1, body = $2, updated_at = $3 WHERE id = $4")
        .bind(&s.name)
        .bind(&s.body)
        .bind(&s.updated_at)
        .bind(&s.id)
        .execute(c)
        .await
        .map_err(classify)?;
    Ok(())
}

pub async fn delete_saved_reply(c: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM saved_replies WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn get_saved_reply(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<SavedReply>> {
    let row = sqlx::query(&format!(
        "{SAVED_REPLY} WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(saved_reply).transpose()
}

/// By name.
pub async fn list_saved_replies(
    c: &mut AnyConnection,
    workspace_id: &str,
) -> Result<Vec<SavedReply>> {
    let rows = sqlx::query(&format!(
        "{SAVED_REPLY} WHERE workspace_id = $1 ORDER BY name, id"
    ))
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(saved_reply).collect()
}

// ---------------------------------------------------------------- replies

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reply {
    pub id: String,
    pub conversation_id: String,
    pub body: String,
    pub author_id: Option<String>,
    pub author: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub idempotency_key: Option<String>,
    /// The external id of the customer's item it answers.
    pub in_reply_to: String,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub sent_at: Option<String>,
}

fn reply(r: &AnyRow) -> Result<Reply> {
    Ok(Reply {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        body: r.try_get("body")?,
        author_id: opt_str(r, "author_id")?,
        author: r.try_get("author")?,
        status: r.try_get("status")?,
        idempotency_key: opt_str(r, "idempotency_key")?,
        in_reply_to: r.try_get("in_reply_to")?,
        remote_id: opt_str(r, "remote_id")?,
        remote_url: opt_str(r, "remote_url")?,
        error: opt_str(r, "error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        sent_at: opt_str(r, "sent_at")?,
    })
}

const REPLY: &str = "SELECT id, conversation_id, body, author_id, author, status, idempotency_key, \
    in_reply_to, remote_id, remote_url, error, created_at, updated_at, sent_at FROM conversation_replies";

/// Writes a reply as given (normally `queued`). A second reply with the same idempotency key
/// in the conversation is a unique violation.
pub async fn insert_reply(c: &mut AnyConnection, r: &Reply) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversation_replies (id, conversation_id, body, author_id, author, status, \
         idempotency_key, in_reply_to, remote_id, remote_url, error, created_at, updated_at, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&r.id)
    .bind(&r.conversation_id)
    .bind(&r.body)
    .bind(r.author_id.as_deref())
    .bind(&r.author)
    .bind(&r.status)
    .bind(r.idempotency_key.as_deref())
    .bind(&r.in_reply_to)
    .bind(r.remote_id.as_deref())
    .bind(r.remote_url.as_deref())
    .bind(r.error.as_deref())
    .bind(&r.created_at)
    .bind(&r.updated_at)
    .bind(r.sent_at.as_deref())
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn get_reply(c: &mut AnyConnection, id: &str) -> Result<Option<Reply>> {
    let row = sqlx::query(&format!("{REPLY} WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(reply).transpose()
}

pub async fn reply_by_key(
    c: &mut AnyConnection,
    conversation_id: &str,
    idempotency_key: &str,
) -> Result<Option<Reply>> {
    let row = sqlx::query(&format!(
        "{REPLY} WHERE conversation_id = $1 AND idempotency_key = $2"
    ))
    .bind(conversation_id)
    .bind(idempotency_key)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(reply).transpose()
}

/// The replies of a conversation, oldest first.
pub async fn replies(c: &mut AnyConnection, conversation_id: &str) -> Result<Vec<Reply>> {
    let rows = sqlx::query(&format!(
        "{REPLY} WHERE conversation_id = $1 ORDER BY created_at, id"
    ))
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(reply).collect()
}

/// A queued reply was posted; false when it was no longer queued (nothing is written).
pub async fn mark_sent(
    c: &mut AnyConnection,
    id: &str,
    remote_id: &str,
    remote_url: Option<&str>,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE conversation_replies SET status = 'sent', remote_id = $1, remote_url = $2, error = NULL, \
         sent_at = $3, updated_at = $3 WHERE id = $4 AND status = 'queued'",
    )
    .bind(remote_id)
    .bind(remote_url)
    .bind(now)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A queued reply could not be posted and will not be tried again.
pub async fn mark_failed(c: &mut AnyConnection, id: &str, error: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE conversation_replies SET status = 'failed', error = $1, updated_at = $2 \
         WHERE id = $3 AND status = 'queued'",
    )
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the conversation's first response time unless it has one.
pub async fn set_first_response(
    c: &mut AnyConnection,
    conversation_id: &str,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET first_response_at = $1 WHERE id = $2 AND first_response_at IS NULL",
    )
    .bind(at)
    .bind(conversation_id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn first_response_at(
    c: &mut AnyConnection,
    conversation_id: &str,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT first_response_at FROM conversations WHERE id = $1")
        .bind(conversation_id)
        .fetch_optional(c)
        .await?;
    Ok(row
        .map(|r| opt_str(&r, "first_response_at"))
        .transpose()?
        .flatten())
}

// ---------------------------------------------------------------- hand-offs

/// A conversation handed to one webhook (a CRM or helpdesk).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Handoff {
    pub id: String,
    pub conversation_id: String,
    pub webhook_id: String,
    pub webhook_name: String,
    pub delivery_id: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// The receiver's id for what it made of it (a ticket, a lead), when it answered one.
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub error: Option<String>,
    pub requested_by: String,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn handoff(r: &AnyRow) -> Result<Handoff> {
    Ok(Handoff {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        webhook_id: r.try_get("webhook_id")?,
        webhook_name: r.try_get("webhook_name")?,
        delivery_id: r.try_get("delivery_id")?,
        status: r.try_get("status")?,
        remote_id: opt_str(r, "remote_id")?,
        remote_url: opt_str(r, "remote_url")?,
        error: opt_str(r, "error")?,
        requested_by: r.try_get("requested_by")?,
        note: opt_str(r, "note")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const HANDOFF: &str = "SELECT id, conversation_id, webhook_id, webhook_name, delivery_id, status, \
    remote_id, remote_url, error, requested_by, note, created_at, updated_at FROM conversation_handoffs";

pub async fn insert_handoff(c: &mut AnyConnection, h: &Handoff) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversation_handoffs (id, conversation_id, webhook_id, webhook_name, delivery_id, \
         status, remote_id, remote_url, error, requested_by, note, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&h.id)
    .bind(&h.conversation_id)
    .bind(&h.webhook_id)
    .bind(&h.webhook_name)
    .bind(&h.delivery_id)
    .bind(&h.status)
    .bind(h.remote_id.as_deref())
    .bind(h.remote_url.as_deref())
    .bind(h.error.as_deref())
    .bind(&h.requested_by)
    .bind(h.note.as_deref())
    .bind(&h.created_at)
    .bind(&h.updated_at)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

/// A conversation's hand-offs, oldest first.
pub async fn handoffs(c: &mut AnyConnection, conversation_id: &str) -> Result<Vec<Handoff>> {
    let rows = sqlx::query(&format!(
        "{HANDOFF} WHERE conversation_id = $1 ORDER BY created_at, id"
    ))
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(handoff).collect()
}

pub async fn handoff_by_delivery(
    c: &mut AnyConnection,
    delivery_id: &str,
) -> Result<Option<Handoff>> {
    let row = sqlx::query(&format!("{HANDOFF} WHERE delivery_id = $1"))
        .bind(delivery_id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(handoff).transpose()
}

/// Records the outcome of a hand-off's delivery; false when it was already final.
pub async fn finish_handoff(
    c: &mut AnyConnection,
    id: &str,
    status: &str,
    remote_id: Option<&str>,
    remote_url: Option<&str>,
    error: Option<&str>,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE conversation_handoffs SET status = $1, remote_id = $2, remote_url = $3, error = $4, \
         updated_at = $5 WHERE id = $6 AND status = 'pending'",
    )
    .bind(status)
    .bind(remote_id)
    .bind(remote_url)
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------- presence

/// Someone at a conversation, as others see them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Present {
    pub user_id: String,
    pub email: String,
    pub name: String,
    /// `viewing` or `replying`.
    pub state: String,
    pub seen_at: String,
}

/// Records a heartbeat, and forgets heartbeats older than `expired_before` everywhere (so the
/// table holds only the people at a conversation now).
pub async fn touch_presence(
    c: &mut AnyConnection,
    conversation_id: &str,
    user_id: &str,
    state: &str,
    now: &str,
    expired_before: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM conversation_presence WHERE seen_at < $1")
        .bind(expired_before)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO conversation_presence (conversation_id, user_id, state, seen_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET state = excluded.state, seen_at = excluded.seen_at",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(state)
    .bind(now)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    Ok(())
}

/// Everyone seen at the conversation since `since`, but `me`, by user id.
pub async fn present(
    c: &mut AnyConnection,
    conversation_id: &str,
    me: Option<&str>,
    since: &str,
) -> Result<Vec<Present>> {
    let rows = sqlx::query(
        "SELECT p.user_id, u.email, u.name, p.state, p.seen_at FROM conversation_presence p \
         JOIN users u ON u.id = p.user_id \
         WHERE p.conversation_id = $1 AND p.seen_at >= $2 AND p.user_id <> $3 ORDER BY p.user_id",
    )
    .bind(conversation_id)
    .bind(since)
    .bind(me.unwrap_or(""))
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Present {
                user_id: r.try_get("user_id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                state: r.try_get("state")?,
                seen_at: r.try_get("seen_at")?,
            })
        })
        .collect()
}
