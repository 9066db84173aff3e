//! Hand-off: "send to CRM/helpdesk" posts a conversation, as the `inbox.handoff` event, to each
//! of the workspace's outbound webhooks that subscribe to it (the shared mechanism of
//! [`crate::outbound`]: signed JSON, retries, delivery log), and records what the receiver
//! made of it.
//!
//! The hand-off rows and their deliveries are written in one transaction with a timeline
//! entry, so a hand-off the agent was told about is never lost. Pressing the button again
//! while a hand-off to a webhook is still pending sends nothing new to that webhook; once it
//! was delivered, handing off again sends an update (the receiver finds its earlier record by
//! `conversation.id`).
//!
//! When the receiver answers 2xx with a JSON object, its `remote_id` (or `id`, `ticket_id`,
//! `key`; a string or a number) and `remote_url` (or `url`, `html_url`) are recorded on the
//! hand-off and in the timeline; a receiver that answers without them is still delivered.

use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use switchboard_core::{Permission, WebhookDelivery};
use switchboard_store::inbox as conversations;
use switchboard_store::inbox_work::{self as store, Handoff};
use switchboard_store::jobs::webhooks;
use switchboard_store::{items, new_id, now, teams, users, AnyConnection};

/// The event a hand-off is delivered as.
pub const HANDOFF_EVENT: &str = "inbox.handoff";
/// The conversation's latest items sent along.
const MAX_ITEMS: usize = 50;
const MAX_NOTE: usize = 2000;
/// Longest remote id or URL recorded from an answer.
const MAX_REMOTE: usize = 500;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffInput {
    /// For the receiving team: what they should do.
    #[serde(default)]
    pub note: Option<String>,
    /// One webhook (id or name) instead of every webhook subscribed to `inbox.handoff`.
    #[serde(default)]
    pub webhook: Option<String>,
}

/// A remote id or URL from the receiver's answer: a short string (or a number) without
/// control characters.
fn remote_field(v: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        let s = match &v[*n] {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!s.is_empty() && s.len() <= MAX_REMOTE && !s.chars().any(char::is_control)).then_some(s)
    })
}

/// The receiver's (remote id, remote URL) from a 2xx answer body.
pub fn parse_answer(body: &str) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return (None, None);
    };
    let id = remote_field(&v, &["remote_id", "id", "ticket_id", "key"]);
    let url = remote_field(&v, &["remote_url", "url", "html_url"])
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    (id, url)
}

/// Records the outcome of a hand-off's delivery on its row and the conversation's timeline;
/// called in the transaction that records the delivery attempt. Does nothing for deliveries
/// that are no hand-off.
pub(crate) async fn settle(
    c: &mut AnyConnection,
    delivery: &WebhookDelivery,
    delivered: bool,
    answer: Option<&str>,
    error: Option<&str>,
) -> ServiceResult<()> {
    if delivery.event != HANDOFF_EVENT {
        return Ok(());
    }
    let Some(h) = store::handoff_by_delivery(&mut *c, &delivery.id).await? else {
        return Ok(());
    };
    let (remote_id, remote_url) = if delivered {
        parse_answer(answer.unwrap_or_default())
    } else {
        (None, None)
    };
    let status = if delivered { "delivered" } else { "failed" };
    let finished = store::finish_handoff(
        &mut *c,
        &h.id,
        status,
        remote_id.as_deref(),
        remote_url.as_deref(),
        error,
        &now(),
    )
    .await?;
    if finished {
        conversations::add_event(
            &mut *c,
            &h.conversation_id,
            "webhook",
            if delivered {
                "handed_off"
            } else {
                "handoff_failed"
            },
            &json!({
                "handoff_id": h.id, "webhook": h.webhook_name, "remote_id": remote_id,
                "remote_url": remote_url, "error": error,
            }),
        )
        .await?;
    }
    Ok(())
}

impl App {
    /// Hands the conversation to the workspace's CRM/helpdesk webhooks; returns the hand-offs
    /// now in flight or made (see the module documentation).
    pub async fn handoff_conversation(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        input: HandoffInput,
    ) -> ServiceResult<Vec<Handoff>> {
        let (w, conv) = self
            .conversation_in(actor, ws, id, Permission::InboxReply)
            .await?;
        let note = input
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
            return Err(ServiceError::invalid(
                "note",
                format!("at most {MAX_NOTE} characters"),
            ));
        }
        let mut c = self.store.read().await?;
        let mut hooks: Vec<_> = webhooks::list(&mut c, &w.id)
            .await?
            .into_iter()
            .filter(|h| h.wants(HANDOFF_EVENT))
            .collect();
        if let Some(pick) = input.webhook.as_deref().map(str::trim) {
            hooks.retain(|h| h.id == pick || h.name.eq_ignore_ascii_case(pick));
            if hooks.is_empty() {
                return Err(ServiceError::invalid(
                    "webhook",
                    format!("no webhook {pick:?} of this workspace subscribes to {HANDOFF_EVENT}"),
                ));
            }
        }
        if hooks.is_empty() {
            return Err(ServiceError::invalid(
                "webhook",
                format!(
                    "no webhook of this workspace subscribes to {HANDOFF_EVENT}; an admin adds one \
                     (POST …/webhooks with \"events\": [\"{HANDOFF_EVENT}\"])"
                ),
            ));
        }
        let ids = conversations::item_ids(&mut c, &conv.id).await?;
        let recent = &ids[ids.len().saturating_sub(MAX_ITEMS)..];
        let mut found: HashMap<String, switchboard_core::Item> = items::get_many(&mut c, recent)
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        let thread: Vec<Value> = recent
            .iter()
            .filter_map(|id| found.remove(id))
            .map(|i| {
                json!({
                    "id": i.id, "external_id": i.external_id, "url": i.url, "kind": i.kind,
                    "created_at": i.created_at, "text": i.text, "lang": i.lang,
                    "sentiment": i.sentiment.label, "intents": i.intents,
                    "author": {
                        "id": i.author.id, "handle": i.author.handle,
                        "name": i.author.display_name, "followers": i.author.followers,
                    },
                })
            })
            .collect();
        let team = match &conv.team_id {
            Some(t) => teams::list(&mut c, &w.id)
                .await?
                .into_iter()
                .find(|x| &x.id == t)
                .map(|x| json!({ "id": x.id, "name": x.name, "function": x.function })),
            None => None,
        };
        let assignee = match &conv.assignee_id {
            Some(u) => users::get(&mut c, u)
                .await?
                .map(|u| json!({ "id": u.id, "email": u.email, "name": u.name })),
            None => None,
        };
        let existing = store::handoffs(&mut c, &conv.id).await?;
        drop(c);

        // The customer: the author of the first item that is not ours.
        let customer = thread.first().map(|i| i["author"].clone());
        let summary = format!(
            "Hand-off from {} ({} {}): {}",
            w.name,
            conv.network,
            customer
                .as_ref()
                .and_then(|a| a["handle"].as_str())
                .map(|h| format!("@{h}"))
                .unwrap_or_default(),
            thread
                .first()
                .and_then(|i| i["text"].as_str())
                .map(|t| t.chars().take(140).collect::<String>())
                .unwrap_or_default()
        );
        let stamp = now();
        let mut tx = self.store.write().await?;
        let mut out = Vec::new();
        let mut sent_to = Vec::new();
        for hook in &hooks {
            if let Some(pending) = existing
                .iter()
                .find(|h| h.webhook_id == hook.id && h.status == "pending")
            {
                out.push(pending.clone());
                continue;
            }
            let handoff_id = new_id();
            let payload = json!({
                "summary": summary,
                "handoff_id": handoff_id,
                "note": note,
                "requested_by": actor.label(),
                "workspace": { "id": w.id, "name": w.name, "slug": w.slug },
                "conversation": {
                    "id": conv.id, "network": conv.network, "kind": conv.kind,
                    "status": conv.status, "priority": conv.priority, "tags": conv.tags,
                    "team": team, "assignee": assignee,
                    "first_item_at": conv.first_item_at, "last_item_at": conv.last_item_at,
                    "item_count": conv.item_count,
                },
                "customer": customer,
                "items": thread,
            });
            let Some(delivery) = crate::outbound::enqueue_delivery(
                &mut tx,
                hook,
                HANDOFF_EVENT,
                &format!("handoff:{handoff_id}"),
                &payload,
            )
            .await?
            else {
                continue;
            };
            let h = Handoff {
                id: handoff_id,
                conversation_id: conv.id.clone(),
                webhook_id: hook.id.clone(),
                webhook_name: hook.name.clone(),
                delivery_id: delivery.id,
                status: "pending".into(),
                remote_id: None,
                remote_url: None,
                error: None,
                requested_by: actor.label(),
                note: note.clone(),
                created_at: stamp.clone(),
                updated_at: stamp.clone(),
            };
            store::insert_handoff(&mut tx, &h).await?;
            sent_to.push(hook.name.clone());
            out.push(h);
        }
        if !sent_to.is_empty() {
            conversations::add_event(
                &mut tx,
                &conv.id,
                &actor.label(),
                "handoff",
                &json!({ "webhooks": sent_to, "note": note }),
            )
            .await?;
            Audit {
                org_id: &w.org_id,
                workspace_id: Some(&w.id),
                action: "conversation.handoff",
                target_type: "conversation",
                target_id: &conv.id,
            }
            .write(&mut tx, actor, NONE, Some(&out))
            .await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The conversation's hand-offs, oldest first.
    pub async fn list_handoffs(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<Vec<Handoff>> {
        let (_, conv) = self
            .conversation_in(actor, ws, id, Permission::InboxRead)
            .await?;
        let mut c = self.store.read().await?;
        Ok(store::handoffs(&mut c, &conv.id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_give_their_id_and_link_and_nothing_else_is_trusted() {
        assert_eq!(
            parse_answer(r#"{"id": 4711, "url": "https://crm.example/leads/4711"}"#),
            (
                Some("4711".into()),
                Some("https://crm.example/leads/4711".into())
            )
        );
        assert_eq!(
            parse_answer(r#"{"remote_id": "T-9", "id": "ignored", "html_url": "javascript:x"}"#),
            (Some("T-9".into()), None)
        );
        assert_eq!(parse_answer("ok"), (None, None));
        assert_eq!(parse_answer(r#"{"id": ""}"#), (None, None));
        assert_eq!(parse_answer(r#"{"id": "a\nb"}"#), (None, None));
        assert_eq!(parse_answer(r#"[1, 2]"#), (None, None));
    }
}
