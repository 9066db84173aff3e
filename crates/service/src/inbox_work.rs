//! Working a conversation: internal notes that mention teammates, the workspace's saved
//! replies, and replying to the customer from the inbox.
//!
//! **Notes** are for the team only. `@alice` (the local part of a member's e-mail address) or
//! `@alice@example.com` (the whole address) mentions a member who can read this inbox; the
//! mentioned user ids are stored with the note, and the note appears on the conversation's
//! timeline (event `note`). Anything else after an `@` (a customer's handle, say) is text.
//!
//! **Saved replies** are templates with the variables `{{author}}` (the customer's handle,
//! with its `@`), `{{author_name}}` (their display name), `{{agent}}` (the name of the person
//! replying) and `{{workspace}}` (the workspace's name).
//!
//! **Replies** are sent exactly once. The reply row (`queued`) and its `inbox.reply` job are
//! written in one transaction; the job checks that the reply is still queued, posts it through
//! the workspace's live channel for the conversation's network (answering the latest item of
//! the customer), then marks it `sent` with the remote id, adds a `reply_sent` event and sets
//! the conversation's first response time if it has none, all in one transaction. A crash
//! between the post and that commit makes the job run again; Mastodon then sees the same
//! `Idempotency-Key` (the reply id) and returns the status it already created instead of
//! posting again; on Bluesky the reply id becomes the post's record key (a TID derived from
//! it), so a second attempt finds the post already there and returns it. Bluesky posts hold
//! 300 characters (graphemes): a longer reply to a Bluesky conversation is refused when it is
//! written. A Bluesky session renewed while sending is sealed and stored with the outcome.
//! The same `idempotency_key` sent to the API twice returns the first reply.

use crate::access::Access;
use crate::channels::Credentials;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use switchboard_connectors::{check_post_text, ConnectorError, MastodonClient};
use switchboard_core::{validate, Channel, ChannelStatus, Item, Network, Permission, Workspace};
use switchboard_store::inbox::{self as conversations, Conversation};
use switchboard_store::inbox_work::{self as store, Note, Reply, SavedReply};
use switchboard_store::items::channels;
use switchboard_store::jobs::{self, Job};
use switchboard_store::{items, new_id, now, timestamp, users, AnyConnection, StoreError};

/// The job kind that sends a reply.
pub const REPLY_JOB: &str = "inbox.reply";
/// Attempts at sending a reply before it is marked failed (network trouble, rate limits).
const REPLY_ATTEMPTS: i64 = 6;
pub const VARIABLES: &[&str] = &["author", "author_name", "agent", "workspace"];
const MAX_NOTE: usize = 10_000;
const MAX_TEMPLATE: usize = 5_000;
const MAX_REPLY: usize = 5_000;
const MAX_KEY: usize = 200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedReplyInput {
    pub name: String,
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedReplyPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

/// A reply: either `body` (sent as written) or `saved_reply` (an id, rendered for this
/// conversation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub saved_reply: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What creating a reply did.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyOutcome {
    #[serde(flatten)]
    pub reply: Reply,
    /// False when the idempotency key named an existing reply (nothing new is sent).
    #[serde(skip)]
    pub created: bool,
}

// ---------------------------------------------------------------- templates

/// A template's pieces: literal text and variable names, checked against [`VARIABLES`].
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn parse_template(body: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a {{ is not closed with }}".to_string())?;
        let name = after[..close].trim();
        if !VARIABLES.contains(&name) {
            return Err(format!(
                "unknown variable {{{{{name}}}}}; expected one of: {}",
                VARIABLES
                    .iter()
                    .map(|v| format!("{{{{{v}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(Piece::Var(name));
        rest = &after[close + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Fills a template checked by [`parse_template`].
pub fn render(body: &str, vars: &HashMap<&str, String>) -> Result<String, String> {
    Ok(parse_template(body)?
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t.to_string(),
            Piece::Var(v) => vars.get(v).cloned().unwrap_or_default(),
        })
        .collect())
}

fn check_text(field: &str, v: &str, max: usize) -> ServiceResult<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(ServiceError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(ServiceError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

fn check_template(body: &str) -> ServiceResult<String> {
    let body = check_text("body", body, MAX_TEMPLATE)?;
    parse_template(&body).map_err(|e| ServiceError::invalid("body", e))?;
    Ok(body)
}

// ---------------------------------------------------------------- mentions

/// The `@word` tokens of a text (`@alice`, `@alice@example.com`), lower-cased, in order.
pub fn mention_tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let word = |c: char| c.is_alphanumeric() || "._%+-@".contains(c);
    while i < chars.len() {
        let starts = chars[i] == '@' && (i == 0 || !word(chars[i - 1]));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && word(chars[j]) {
            j += 1;
        }
        let token: String = chars[i + 1..j].iter().collect();
        let token = token
            .trim_end_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if !token.is_empty() && !out.contains(&token) {
            out.push(token);
        }
        i = j;
    }
    out
}

impl App {
    /// Users of the workspace's organisation who can read its inbox: who a note can mention.
    async fn inbox_readers(
        &self,
        c: &mut AnyConnection,
        w: &Workspace,
    ) -> ServiceResult<Vec<switchboard_core::User>> {
        let mut out = Vec::new();
        for (user, _) in users::list_in_org(c, &w.org_id).await? {
            let access = Access::load(c, &Actor::User(user.clone())).await?;
            let can = access
                .workspaces
                .iter()
                .any(|x| x.workspace.id == w.id && x.can(Permission::InboxRead));
            if can {
                out.push(user);
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------ notes

    pub async fn add_note(
        &self,
        actor: &Actor,
        ws: &str,
        conversation: &str,
        input: NoteInput,
    ) -> ServiceResult<Note> {
        let (w, conv) = self
            .conversation_in(actor, ws, conversation, Permission::InboxReply)
            .await?;
        let body = check_text("body", &input.body, MAX_NOTE)?;
        let tokens = mention_tokens(&body);
        let mut mentioned: Vec<switchboard_core::User> = Vec::new();
        if !tokens.is_empty() {
            let mut c = self.store.read().await?;
            let readers = self.inbox_readers(&mut c, &w).await?;
            for t in &tokens {
                let hits: Vec<&switchboard_core::User> = if t.contains('@') {
                    readers
                        .iter()
                        .filter(|u| u.email.eq_ignore_ascii_case(t))
                        .collect()
                } else {
                    readers
                        .iter()
                        .filter(|u| {
                            u.email
                                .split('@')
                                .next()
                                .is_some_and(|l| l.eq_ignore_ascii_case(t))
                        })
                        .collect()
                };
                // A local part two members share names nobody in particular.
                if let [u] = hits.as_slice() {
                    if !mentioned.iter().any(|m| m.id == u.id) {
                        mentioned.push((*u).clone());
                    }
                }
            }
        }
        let note = Note {
            id: new_id(),
            conversation_id: conv.id.clone(),
            author_id: actor.user_id().map(str::to_string),
            author: actor.label(),
            body,
            mentions: mentioned.iter().map(|u| u.id.clone()).collect(),
            created_at: now(),
        };
        let mut tx = self.store.write().await?;
        store::insert_note(&mut tx, &note).await?;
        conversations::add_event(
            &mut tx,
            &conv.id,
            &actor.label(),
            "note",
            &serde_json::json!({
                "note_id": note.id,
                "body": note.body,
                "mentions": mentioned
                    .iter()
                    .map(|u| serde_json::json!({"user_id": u.id, "email": u.email, "name": u.name}))
                    .collect::<Vec<_>>(),
            }),
        )
        .await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "conversation.note",
            target_type: "conversation",
            target_id: &conv.id,
        }
        .write(&mut tx, actor, NONE, Some(&note))
        .await?;
        tx.commit().await?;
        Ok(note)
    }

    pub async fn list_notes(
        &self,
        actor: &Actor,
        ws: &str,
        conversation: &str,
    ) -> ServiceResult<Vec<Note>> {
        let (_, conv) = self
            .conversation_in(actor, ws, conversation, Permission::InboxRead)
            .await?;
        let mut c = self.store.read().await?;
        Ok(store::notes(&mut c, &conv.id).await?)
    }

    // ------------------------------------------------------------ saved replies

    pub async fn list_saved_replies(
        &self,
        actor: &Actor,
        ws: &str,
    ) -> ServiceResult<Vec<SavedReply>> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        Ok(store::list_saved_replies(&mut c, &w.id).await?)
    }

    pub async fn create_saved_reply(
        &self,
        actor: &Actor,
        ws: &str,
        input: SavedReplyInput,
    ) -> ServiceResult<SavedReply> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxManage).await?;
        drop(c);
        let name = validate::name("name", &input.name)?;
        let body = check_template(&input.body)?;
        let stamp = now();
        let s = SavedReply {
            id: new_id(),
            workspace_id: w.id.clone(),
            name,
            body,
            created_at: stamp.clone(),
            updated_at: stamp,
        };
        let mut tx = self.store.write().await?;
        store::insert_saved_reply(&mut tx, &s).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "saved_reply.create",
            target_type: "saved_reply",
            target_id: &s.id,
        }
        .write(&mut tx, actor, NONE, Some(&s))
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// A saved reply of a workspace whose inbox the caller reads, then permission `p`.
    async fn saved_reply_in(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        p: Permission,
    ) -> ServiceResult<(Workspace, SavedReply)> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::InboxRead)?;
        if !validate::looks_like_id(id) {
            return Err(ServiceError::NotFound);
        }
        let s = store::get_saved_reply(&mut c, &wa.workspace.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(p)?;
        Ok((wa.workspace.clone(), s))
    }

    pub async fn get_saved_reply(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<SavedReply> {
        Ok(self
            .saved_reply_in(actor, ws, id, Permission::InboxRead)
            .await?
            .1)
    }

    pub async fn update_saved_reply(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        patch: SavedReplyPatch,
    ) -> ServiceResult<SavedReply> {
        let (w, before) = self
            .saved_reply_in(actor, ws, id, Permission::InboxManage)
            .await?;
        let mut after = before.clone();
        if let Some(n) = &patch.name {
            after.name = validate::name("name", n)?;
        }
        if let Some(b) = &patch.body {
            after.body = check_template(b)?;
        }
        after.updated_at = now();
        let mut tx = self.store.write().await?;
        store::update_saved_reply(&mut tx, &after).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "saved_reply.update",
            target_type: "saved_reply",
            target_id: &after.id,
        }
        .write(&mut tx, actor, Some(&before), Some(&after))
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn delete_saved_reply(&self, actor: &Actor, ws: &str, id: &str) -> ServiceResult<()> {
        let (w, before) = self
            .saved_reply_in(actor, ws, id, Permission::InboxManage)
            .await?;
        let mut tx = self.store.write().await?;
        store::delete_saved_reply(&mut tx, &before.id).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "saved_reply.delete",
            target_type: "saved_reply",
            target_id: &before.id,
        }
        .write(&mut tx, actor, Some(&before), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------ replies

    /// The customer's latest item in the conversation: the newest one not written by the
    /// workspace's own account on that network.
    async fn customer_item(
        &self,
        c: &mut AnyConnection,
        conv: &Conversation,
    ) -> ServiceResult<Option<Item>> {
        let own: Vec<String> = channels::list(c, &conv.workspace_id)
            .await?
            .into_iter()
            .filter(|ch| ch.network.as_str() == conv.network)
            .map(|ch| ch.account.to_lowercase())
            .collect();
        let ids = conversations::item_ids(c, &conv.id).await?;
        let mut found = items::get_many(c, &ids).await?;
        found.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        let ours = |i: &Item| {
            let h = i.author.handle.trim_start_matches('@').to_lowercase();
            own.iter().any(|a| {
                h == *a
                    || h.strip_prefix(a.as_str())
                        .is_some_and(|r| r.starts_with('@'))
            })
        };
        Ok(found.into_iter().rev().find(|i| !ours(i)))
    }

    /// Creates a reply (queued, with its job) or, for an idempotency key already used in
    /// this conversation, returns the reply it created.
    pub async fn create_reply(
        &self,
        actor: &Actor,
        ws: &str,
        conversation: &str,
        input: ReplyInput,
    ) -> ServiceResult<ReplyOutcome> {
        let (w, conv) = self
            .conversation_in(actor, ws, conversation, Permission::InboxReply)
            .await?;
        let key = input
            .idempotency_key
            .as_deref()
            .map(|k| check_text("idempotency_key", k, MAX_KEY))
            .transpose()?;
        let mut c = self.store.read().await?;
        if let Some(k) = &key {
            if let Some(existing) = store::reply_by_key(&mut c, &conv.id, k).await? {
                return Ok(ReplyOutcome {
                    reply: existing,
                    created: false,
                });
            }
        }
        let customer = self.customer_item(&mut c, &conv).await?.ok_or_else(|| {
            ServiceError::invalid(
                "conversation",
                "the conversation has no message from a customer to answer",
            )
        })?;
        let body = match (&input.body, &input.saved_reply) {
            (Some(b), None) => check_text("body", b, MAX_REPLY)?,
            (None, Some(s)) => {
                let unknown = || {
                    ServiceError::invalid("saved_reply", "no such saved reply in this workspace")
                };
                if !validate::looks_like_id(s.trim()) {
                    return Err(unknown());
                }
                let saved = store::get_saved_reply(&mut c, &w.id, s.trim())
                    .await?
                    .ok_or_else(unknown)?;
                let agent = match actor {
                    Actor::User(u) if !u.name.trim().is_empty() => u.name.trim().to_string(),
                    Actor::User(u) => u.email.split('@').next().unwrap_or_default().to_string(),
                    Actor::Cli => "Switchboard".to_string(),
                };
                let handle = customer.author.handle.trim_start_matches('@');
                let vars: HashMap<&str, String> = [
                    ("author", format!("@{handle}")),
                    (
                        "author_name",
                        if customer.author.display_name.trim().is_empty() {
                            handle.to_string()
                        } else {
                            customer.author.display_name.trim().to_string()
                        },
                    ),
                    ("agent", agent),
                    ("workspace", w.name.clone()),
                ]
                .into_iter()
                .collect();
                let text = render(&saved.body, &vars)
                    .map_err(|e| ServiceError::invalid("saved_reply", e))?;
                check_text("body", &text, MAX_REPLY)?
            }
            (Some(_), Some(_)) => {
                return Err(ServiceError::invalid(
                    "body",
                    "give either body or saved_reply, not both",
                ))
            }
            (None, None) => {
                return Err(ServiceError::invalid(
                    "body",
                    "give the reply's body or a saved_reply",
                ))
            }
        };
        drop(c);
        if conv.network == Network::Bluesky.as_str() {
            let field = if input.saved_reply.is_some() {
                "saved_reply"
            } else {
                "body"
            };
            check_post_text(&body).map_err(|e| ServiceError::invalid(field, e))?;
        }
        let stamp = now();
        let reply = Reply {
            id: new_id(),
            conversation_id: conv.id.clone(),
            body,
            author_id: actor.user_id().map(str::to_string),
            author: actor.label(),
            status: "queued".into(),
            idempotency_key: key.clone(),
            in_reply_to: customer.external_id.clone(),
            remote_id: None,
            remote_url: None,
            error: None,
            created_at: stamp.clone(),
            updated_at: stamp.clone(),
            sent_at: None,
        };
        let mut tx = self.store.write().await?;
        match store::insert_reply(&mut tx, &reply).await {
            Ok(()) => {}
            Err(StoreError::Unique { .. }) if key.is_some() => {
                // Another request with this key won the race: answer with its reply.
                drop(tx);
                let mut c = self.store.read().await?;
                let existing = store::reply_by_key(&mut c, &conv.id, key.as_deref().unwrap_or(""))
                    .await?
                    .ok_or(ServiceError::NotFound)?;
                return Ok(ReplyOutcome {
                    reply: existing,
                    created: false,
                });
            }
            Err(e) => return Err(e.into()),
        }
        jobs::enqueue_as(
            &mut tx,
            &new_id(),
            REPLY_JOB,
            &reply.id,
            &serde_json::json!({ "reply_id": reply.id, "workspace_id": w.id }),
            &stamp,
            REPLY_ATTEMPTS,
        )
        .await?;
        conversations::add_event(
            &mut tx,
            &conv.id,
            &actor.label(),
            "reply",
            &serde_json::json!({ "reply_id": reply.id, "body": reply.body, "status": "queued" }),
        )
        .await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "conversation.reply",
            target_type: "conversation",
            target_id: &conv.id,
        }
        .write(&mut tx, actor, NONE, Some(&reply))
        .await?;
        tx.commit().await?;
        Ok(ReplyOutcome {
            reply,
            created: true,
        })
    }

    pub async fn list_replies(
        &self,
        actor: &Actor,
        ws: &str,
        conversation: &str,
    ) -> ServiceResult<Vec<Reply>> {
        let (_, conv) = self
            .conversation_in(actor, ws, conversation, Permission::InboxRead)
            .await?;
        let mut c = self.store.read().await?;
        Ok(store::replies(&mut c, &conv.id).await?)
    }

    /// The `inbox.reply` job: posts a queued reply once (see the module documentation).
    pub(crate) async fn run_reply_job(&self, job: &Job) -> ServiceResult<()> {
        let reply_id = job.payload["reply_id"].as_str().unwrap_or_default();
        let ws = job.payload["workspace_id"].as_str().unwrap_or_default();
        let mut c = self.store.read().await?;
        let reply = store::get_reply(&mut c, reply_id).await?;
        let conv = match &reply {
            Some(r) if r.status == "queued" => {
                conversations::get(&mut c, ws, &r.conversation_id).await?
            }
            _ => None,
        };
        let (Some(reply), Some(conv)) = (reply, conv) else {
            // Already sent or failed, or deleted with its conversation: nothing to send.
            drop(c);
            let mut tx = self.store.write().await?;
            jobs::complete(&mut tx, &job.id).await?;
            tx.commit().await?;
            return Ok(());
        };
        let live: Vec<Channel> = channels::list(&mut c, ws)
            .await?
            .into_iter()
            .filter(|ch| ch.network.as_str() == conv.network)
            .collect();
        // An active channel first; one that is rate limited or erring may still post.
        let pick = live
            .iter()
            .find(|ch| ch.status == ChannelStatus::Active)
            .or_else(|| {
                live.iter()
                    .find(|ch| ch.status != ChannelStatus::NeedsReconnect)
            });
        let row = match pick {
            Some(ch) => channels::get(&mut c, &ch.id).await?,
            None => None,
        };
        drop(c);
        let channel_id = row.as_ref().map(|r| r.channel.id.clone());
        let mut rotated = None;
        let outcome = match row {
            None if live.is_empty() => Send::Failed(format!(
                "the workspace has no live {} channel to reply through",
                conv.network
            )),
            None => Send::Failed(format!(
                "the workspace's {} channel needs reconnecting",
                conv.network
            )),
            Some(row) => match (row.channel.network, self.open_credentials(&row)?) {
                (Network::Mastodon, Credentials::Mastodon { access_token }) => {
                    let client = MastodonClient::new(
                        &row.channel.base_url,
                        &access_token,
                        self.http.clone(),
                    );
                    match client
                        .post_reply(&reply.in_reply_to, &reply.body, &reply.id)
                        .await
                    {
                        Ok(posted) => Send::Sent(posted.id, posted.url),
                        Err(e) => Send::from(e),
                    }
                }
                (
                    Network::Bluesky,
                    Credentials::Bluesky {
                        app_password,
                        session,
                    },
                ) => {
                    let client = self.bluesky_client(&row.channel, &app_password, session.clone());
                    let sent = client
                        .post_reply(&reply.in_reply_to, &reply.body, &reply.id)
                        .await;
                    // Kept even when the post failed: a refresh may have rotated the tokens,
                    // and the old refresh token is spent.
                    let read = Credentials::Bluesky {
                        app_password,
                        session,
                    };
                    rotated = Some((row, read, client.session()));
                    match sent {
                        Ok(posted) => Send::Sent(posted.uri, posted.url),
                        Err(e) => Send::from(e),
                    }
                }
                (n, _) => Send::Failed(format!("replying on {n} is not supported")),
            },
        };
        let at = time::OffsetDateTime::now_utc();
        let stamp = timestamp(at);
        let mut tx = self.store.write().await?;
        if let Some((row, read, after)) = rotated {
            self.keep_bluesky_session(&mut tx, &row, read, after)
                .await?;
        }
        let outcome = match outcome {
            Send::Retry(e, _) if job.is_last_attempt() => Send::Failed(e),
            o => o,
        };
        let refused = matches!(outcome, Send::Refused(_));
        match outcome {
            Send::Sent(remote_id, remote_url) => {
                if store::mark_sent(
                    &mut tx,
                    &reply.id,
                    &remote_id,
                    remote_url.as_deref(),
                    &stamp,
                )
                .await?
                {
                    store::set_first_response(&mut tx, &conv.id, &stamp).await?;
                    conversations::add_event(
                        &mut tx,
                        &conv.id,
                        &reply.author,
                        "reply_sent",
                        &serde_json::json!({ "reply_id": reply.id, "remote_id": remote_id, "remote_url": remote_url }),
                    )
                    .await?;
                }
                jobs::complete(&mut tx, &job.id).await?;
            }
            Send::Failed(error) | Send::Refused(error) => {
                if let (true, Some(ch)) = (refused, &channel_id) {
                    channels::mark_needs_reconnect(&mut tx, ch, &error).await?;
                }
                if store::mark_failed(&mut tx, &reply.id, &error, &stamp).await? {
                    conversations::add_event(
                        &mut tx,
                        &conv.id,
                        &reply.author,
                        "reply_failed",
                        &serde_json::json!({ "reply_id": reply.id, "error": error }),
                    )
                    .await?;
                }
                jobs::complete(&mut tx, &job.id).await?;
            }
            Send::Retry(error, wait) => {
                let wait = crate::jobs::backoff(job.attempts).max(wait.unwrap_or_default());
                jobs::retry(&mut tx, &job.id, &timestamp(at + wait), &error).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

enum Send {
    Sent(String, Option<String>),
    Failed(String),
    /// The network refused the channel's credentials: failed, and the channel needs
    /// reconnecting.
    Refused(String),
    Retry(String, Option<std::time::Duration>),
}

impl From<ConnectorError> for Send {
    /// Unreachable servers and rate limits are worth another attempt; refused credentials,
    /// invalid replies and protocol errors are not.
    fn from(e: ConnectorError) -> Send {
        match e {
            ConnectorError::Unavailable(_) => Send::Retry(e.to_string(), None),
            ConnectorError::RateLimited { retry_after } => {
                Send::Retry(e.to_string(), Some(retry_after))
            }
            e if e.needs_reconnect() => Send::Refused(e.to_string()),
            e => Send::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_known_variables_and_name_unknown_ones() {
        let vars: HashMap<&str, String> = [("author", "@kim".to_string()), ("agent", "Ann".into())]
            .into_iter()
            .collect();
        assert_eq!(
            render("Hi {{author}}, {{ agent }} here.", &vars).unwrap(),
            "Hi @kim, Ann here."
        );
        assert!(render("Hi {{nope}}", &vars)
            .unwrap_err()
            .contains("{{nope}}"));
        assert!(render("Hi {{author", &vars).is_err());
        assert_eq!(render("no variables", &vars).unwrap(), "no variables");
    }

    #[test]
    fn mentions_are_at_words_not_inside_addresses() {
        assert_eq!(
            mention_tokens("@Alice please look, cc @bob@acme.example. mail me at x@y.z"),
            vec!["alice".to_string(), "bob@acme.example".to_string()]
        );
        assert_eq!(
            mention_tokens("(@carol) @ @carol"),
            vec!["carol".to_string()]
        );
    }
}

// ---------------------------------------------------------------- presence

/// How long a presence heartbeat counts.
pub const PRESENCE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

pub use switchboard_store::inbox_work::Present;

/// The oldest heartbeat that still counts at `now`, as stored.
fn presence_cutoff(now: time::OffsetDateTime) -> String {
    timestamp(now - PRESENCE_TTL)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceInput {
    pub state: String,
}

impl App {
    /// A heartbeat: the caller is viewing (needs `inbox.read`) or replying to (`inbox.reply`)
    /// the conversation for the next 30 seconds. Returns who else is there.
    pub async fn set_presence(
        &self,
        actor: &Actor,
        ws: &str,
        conversation: &str,
        input: PresenceInput,
    ) -> ServiceResult<Vec<Present>> {
        let p = match input.state.trim() {
            "viewing" => Permission::InboxRead,
            "replying" => Permission::InboxReply,
            _ => {
                return Err(ServiceError::invalid(
                    "state",
                    "expected viewing or replying",
                ))
            }
        };
        let (_, conv) = self.conversation_in(actor, ws, conversation, p).await?;
        let Actor::User(u) = actor else {
            return Err(ServiceError::invalid(
                "state",
                "the command line is nobody; it cannot be present",
            ));
        };
        let now = time::OffsetDateTime::now_utc();
        let cutoff = presence_cutoff(now);
        let mut tx = self.store.write().await?;
        store::touch_presence(
            &mut tx,
            &conv.id,
            &u.id,
            input.state.trim(),
            &timestamp(now),
            &cutoff,
        )
        .await?;
        tx.commit().await?;
        let mut c = self.store.read().await?;
        Ok(store::present(&mut c, &conv.id, Some(&u.id), &cutoff).await?)
    }

    /// Who else is viewing or replying to the conversation.
    pub async fn get_presence(
        &self,
        actor: &Actor,
        ws: &str,
        conversation: &str,
    ) -> ServiceResult<Vec<Present>> {
        let (_, conv) = self
            .conversation_in(actor, ws, conversation, Permission::InboxRead)
            .await?;
        let cutoff = presence_cutoff(time::OffsetDateTime::now_utc());
        let mut c = self.store.read().await?;
        Ok(store::present(&mut c, &conv.id, actor.user_id(), &cutoff).await?)
    }
}
