//! Outbound webhooks: a workspace's events (spike alerts, CRM hand-offs, tests) POSTed to
//! URLs its admins configure, signed like inbound deliveries (see [`crate::webhook`]).
//!
//! [`emit`] runs inside the transaction of the change that raises the event: it writes one
//! delivery per subscribed webhook and enqueues a `webhook.deliver` job for each, keyed by
//! webhook and the caller's dedupe key, so an event emitted twice is delivered once. The
//! worker ([`App::run_due_jobs`]) then POSTs each delivery:
//!
//! - a 2xx answer delivers it;
//! - no answer within 10 s, a network error, 408, 425, 429 or a 5xx is retried after
//!   30 s × 2^(attempt−1) (at most 1 h, or later when the receiver sends `Retry-After`),
//!   up to 8 attempts, then the delivery is `failed`;
//! - any other status (a 4xx: the receiver rejects this request and will reject it again)
//!   fails the delivery at once, so a misconfigured receiver shows up in the delivery list
//!   within seconds rather than after an hour of retries.
//!
//! Every attempt updates the delivery (status, attempts, last HTTP status, last error, next
//! attempt). The delivery id is the `X-Switchboard-Delivery` header and stays the same on
//! every attempt, so a receiver can drop repeats.

use crate::access::{Access, WorkspaceAccess};
use crate::jobs::backoff;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_core::{
    validate, DeliveryStatus, Permission, Webhook, WebhookDelivery, WebhookFormat,
};
use switchboard_store::jobs::webhooks::WebhookRow;
use switchboard_store::jobs::{self, deliveries, webhooks, Job};
use switchboard_store::{new_id, now, timestamp, workspaces, AnyConnection};

/// The job kind that delivers one webhook delivery.
pub const DELIVER: &str = "webhook.deliver";
/// The event `POST …/webhooks/{id}/test` sends.
pub const TEST_EVENT: &str = "webhook.test";
/// Names the event of a delivery, next to the signing headers of [`crate::webhook`].
pub const EVENT_HEADER: &str = "x-switchboard-event";
/// Attempts per delivery before it is `failed`.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Retries wait at most this long, whatever a `Retry-After` asks for.
const MAX_WAIT: Duration = Duration::from_secs(3600);
const MAX_EVENTS: usize = 50;
/// How much of a 2xx answer is read (for a hand-off's remote id and link).
const MAX_ANSWER: usize = 16 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub name: String,
    /// Where deliveries are POSTed: an http or https URL.
    pub url: String,
    /// `switchboard` (default) or `slack`.
    #[serde(default)]
    pub format: Option<WebhookFormat>,
    /// Event names (`alert.spike`) or prefixes (`alert.*`); empty or absent: every event.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A new webhook with its signing secret, which is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

fn webhook_url(v: &str) -> ServiceResult<String> {
    let v = v.trim();
    let bad = || {
        ServiceError::invalid(
            "url",
            "must be an http(s) URL such as https://hooks.example.com/switchboard",
        )
    };
    if v.len() > 2048 || v.contains(char::is_whitespace) {
        return Err(bad());
    }
    let url = reqwest::Url::parse(v).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(v.to_string())
}

/// `alert.spike`, `alert.*` or `*`: lowercase letters, digits, `.`, `_` and `-`.
fn event_names(events: &[String]) -> ServiceResult<Vec<String>> {
    if events.len() > MAX_EVENTS {
        return Err(ServiceError::invalid(
            "events",
            format!("at most {MAX_EVENTS} events"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let e = e.trim();
        let name = e.strip_suffix(".*").unwrap_or(e);
        let ok = e == "*"
            || (!name.is_empty()
                && e.len() <= 64
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && !name.starts_with('.')
                && !name.ends_with('.'));
        if !ok {
            return Err(ServiceError::invalid(
                &format!("events[{i}]"),
                "an event is a name like alert.spike, a prefix like alert.*, or *",
            ));
        }
        if !out.iter().any(|x| x == e) {
            out.push(e.to_string());
        }
    }
    Ok(out)
}

/// Writes a delivery of `event` to every webhook of the workspace that subscribes to it and
/// enqueues its job, on the caller's connection (normally inside the transaction of the
/// change that raised the event). `dedupe` names the occurrence (e.g. `spike:{rule}:{hour}`):
/// emitting the same event with the same `dedupe` again adds nothing. Returns the deliveries
/// it added.
pub async fn emit(
    c: &mut AnyConnection,
    workspace_id: &str,
    event: &str,
    dedupe: &str,
    payload: Value,
) -> ServiceResult<Vec<WebhookDelivery>> {
    let mut added = Vec::new();
    for hook in webhooks::list(c, workspace_id).await? {
        if hook.wants(event) {
            if let Some(d) = enqueue_delivery(c, &hook, event, dedupe, &payload).await? {
                added.push(d);
            }
        }
    }
    Ok(added)
}

/// One delivery to one webhook and its job; None when this webhook already has `dedupe`.
pub(crate) async fn enqueue_delivery(
    c: &mut AnyConnection,
    hook: &Webhook,
    event: &str,
    dedupe: &str,
    payload: &Value,
) -> ServiceResult<Option<WebhookDelivery>> {
    let (job_id, delivery_id, stamp) = (new_id(), new_id(), now());
    let fresh = jobs::enqueue_as(
        c,
        &job_id,
        DELIVER,
        &format!("{}:{dedupe}", hook.id),
        &json!({ "delivery_id": delivery_id }),
        &stamp,
        MAX_ATTEMPTS,
    )
    .await?;
    if !fresh {
        return Ok(None);
    }
    let d = WebhookDelivery {
        id: delivery_id,
        webhook_id: hook.id.clone(),
        workspace_id: hook.workspace_id.clone(),
        job_id,
        event: event.to_string(),
        payload: payload.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_status: None,
        last_error: None,
        next_attempt_at: Some(stamp.clone()),
        created_at: stamp,
        delivered_at: None,
    };
    deliveries::insert(c, &d).await?;
    Ok(Some(d))
}

/// What one attempt got back.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<Duration>,
    /// The start of a 2xx answer's body: a hand-off's receiver names its record there.
    answer: Option<String>,
}

impl Attempt {
    fn failed(error: impl Into<String>) -> Attempt {
        Attempt {
            status: None,
            error: Some(error.into()),
            retry_after: None,
            answer: None,
        }
    }

    fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Whether trying again could succeed: no answer, a timeout, rate limiting, a server error.
    fn retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => matches!(s, 408 | 425 | 429) || s >= 500,
        }
    }
}

/// The error and its causes, without the URL (a Slack webhook URL is itself a secret).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Slack's mrkdwn treats these three as control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The body a webhook of this format receives for a delivery.
pub fn body_for(format: WebhookFormat, d: &WebhookDelivery, workspace_name: &str) -> Value {
    match format {
        WebhookFormat::Switchboard => json!({
            "id": d.id,
            "event": d.event,
            "workspace_id": d.workspace_id,
            "created_at": d.created_at,
            "data": d.payload,
        }),
        WebhookFormat::Slack => {
            let summary = d.payload["summary"]
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or(&d.event);
            let mut text = slack_escape(summary);
            if let Some(url) = d.payload["url"].as_str() {
                text.push_str(&format!("\n<{}|Open in Switchboard>", slack_escape(url)));
            }
            json!({
                "text": slack_escape(summary),
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                    {"type": "context", "elements": [{
                        "type": "mrkdwn",
                        "text": format!("Switchboard · {} · `{}`", slack_escape(workspace_name), slack_escape(&d.event)),
                    }]},
                ],
            })
        }
    }
}

impl App {
    fn workspace_access<'a>(
        access: &'a Access,
        ws: &str,
        p: Permission,
    ) -> ServiceResult<&'a WorkspaceAccess> {
        let wa = access.workspace(ws)?;
        wa.require(p)?;
        Ok(wa)
    }

    /// The webhook, if it belongs to the workspace: missing and foreign ones are "not found",
    /// visible ones the caller may not manage "forbidden".
    async fn webhook_in(
        c: &mut AnyConnection,
        wa: &WorkspaceAccess,
        id: &str,
    ) -> ServiceResult<WebhookRow> {
        let row = if validate::looks_like_id(id) {
            webhooks::get(c, id).await?
        } else {
            None
        };
        let row = row
            .filter(|r| r.webhook.workspace_id == wa.workspace.id)
            .ok_or(ServiceError::NotFound)?;
        wa.require(Permission::IntegrationsManage)?;
        Ok(row)
    }

    /// Creates a webhook with a fresh signing secret, sealed at rest and returned this once.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        ws: &str,
        input: CreateWebhook,
    ) -> ServiceResult<CreatedWebhook> {
        let name = validate::name("name", &input.name)?;
        let url = webhook_url(&input.url)?;
        let events = event_names(&input.events)?;
        let secret = format!("whsec_{}", crate::auth::random_token(32));
        let sealed = self.config.secrets.seal(&secret)?;
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = Self::workspace_access(&access, ws, Permission::IntegrationsManage)?;
        let row = WebhookRow {
            webhook: Webhook {
                id: new_id(),
                workspace_id: wa.workspace.id.clone(),
                name,
                url,
                format: input.format.unwrap_or(WebhookFormat::Switchboard),
                events,
                created_at: now(),
            },
            secret_sealed: sealed,
            key_id: self.config.secrets.key_id().to_string(),
        };
        webhooks::insert(&mut tx, &row).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "webhook.create",
            target_type: "webhook",
            target_id: &row.webhook.id,
        }
        .write(&mut tx, actor, NONE, Some(&row.webhook))
        .await?;
        tx.commit().await?;
        Ok(CreatedWebhook {
            webhook: row.webhook,
            secret,
        })
    }

    pub async fn list_webhooks(&self, actor: &Actor, ws: &str) -> ServiceResult<Vec<Webhook>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = Self::workspace_access(&access, ws, Permission::IntegrationsManage)?;
        Ok(webhooks::list(&mut c, &wa.workspace.id).await?)
    }

    /// Deletes the webhook and its deliveries; deliveries still queued are dropped.
    pub async fn delete_webhook(&self, actor: &Actor, ws: &str, id: &str) -> ServiceResult<()> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let row = Self::webhook_in(&mut tx, wa, id).await?;
        webhooks::delete(&mut tx, &row.webhook.id).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "webhook.delete",
            target_type: "webhook",
            target_id: &row.webhook.id,
        }
        .write(&mut tx, actor, Some(&row.webhook), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The webhook's deliveries, newest first, with the outcome of each one's latest attempt.
    pub async fn list_webhook_deliveries(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        limit: i64,
    ) -> ServiceResult<Vec<WebhookDelivery>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        let row = Self::webhook_in(&mut c, wa, id).await?;
        Ok(deliveries::list(&mut c, &row.webhook.id, limit.clamp(1, 500)).await?)
    }

    /// Queues a `webhook.test` event for this webhook alone, whatever it subscribes to; the
    /// worker sends it within a second or so.
    pub async fn test_webhook(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<WebhookDelivery> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let row = Self::webhook_in(&mut tx, wa, id).await?;
        let payload = json!({
            "summary": format!("Test delivery from Switchboard to the webhook \u{201c}{}\u{201d}", row.webhook.name),
            "webhook_id": row.webhook.id,
            "workspace": {"id": wa.workspace.id, "slug": wa.workspace.slug, "name": wa.workspace.name},
        });
        let delivery = enqueue_delivery(&mut tx, &row.webhook, TEST_EVENT, &new_id(), &payload)
            .await?
            .ok_or_else(|| ServiceError::Internal("a fresh dedupe key was taken".into()))?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "webhook.test",
            target_type: "webhook",
            target_id: &row.webhook.id,
        }
        .write(&mut tx, actor, NONE, Some(&delivery))
        .await?;
        tx.commit().await?;
        Ok(delivery)
    }

    /// The `webhook.deliver` handler: one attempt at one delivery, recorded on the delivery
    /// and the job in one transaction.
    pub(crate) async fn deliver_webhook(&self, job: &Job) -> ServiceResult<()> {
        let delivery_id = job.payload["delivery_id"].as_str().unwrap_or_default();
        let found = {
            let mut c = self.store.read().await?;
            match deliveries::get(&mut c, delivery_id).await? {
                Some(d) => match webhooks::get(&mut c, &d.webhook_id).await? {
                    Some(hook) => {
                        let ws_name = workspaces::get(&mut c, &d.workspace_id)
                            .await?
                            .map(|w| w.name)
                            .unwrap_or_default();
                        Some((d, hook, ws_name))
                    }
                    None => None,
                },
                None => None,
            }
        };
        let Some((delivery, hook, ws_name)) = found else {
            // The webhook was deleted (its deliveries with it): nothing left to send.
            let mut tx = self.store.write().await?;
            jobs::complete(&mut tx, &job.id).await?;
            tx.commit().await?;
            return Ok(());
        };
        let attempt = self.send(&hook, &delivery, &ws_name).await;
        let at = time::OffsetDateTime::now_utc();
        let stamp = timestamp(at);
        let error = attempt.error.clone();
        let mut tx = self.store.write().await?;
        if attempt.delivered() {
            deliveries::record_attempt(
                &mut tx,
                &delivery.id,
                DeliveryStatus::Delivered,
                job.attempts,
                attempt.status.map(i64::from),
                None,
                None,
                Some(&stamp),
            )
            .await?;
            crate::handoff::settle(&mut tx, &delivery, true, attempt.answer.as_deref(), None)
                .await?;
            jobs::complete(&mut tx, &job.id).await?;
        } else if attempt.retryable() && !job.is_last_attempt() {
            let wait = backoff(job.attempts)
                .max(attempt.retry_after.unwrap_or_default())
                .min(MAX_WAIT);
            let next = timestamp(at + wait);
            let error = error.unwrap_or_else(|| "failed".into());
            deliveries::record_attempt(
                &mut tx,
                &delivery.id,
                DeliveryStatus::Retrying,
                job.attempts,
                attempt.status.map(i64::from),
                Some(&error),
                Some(&next),
                None,
            )
            .await?;
            jobs::retry(&mut tx, &job.id, &next, &error).await?;
        } else {
            let error = error.unwrap_or_else(|| "failed".into());
            deliveries::record_attempt(
                &mut tx,
                &delivery.id,
                DeliveryStatus::Failed,
                job.attempts,
                attempt.status.map(i64::from),
                Some(&error),
                None,
                None,
            )
            .await?;
            crate::handoff::settle(&mut tx, &delivery, false, None, Some(&error)).await?;
            jobs::dead(&mut tx, &job.id, &error).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// POSTs the delivery, signed with the webhook's secret.
    async fn send(&self, hook: &WebhookRow, d: &WebhookDelivery, ws_name: &str) -> Attempt {
        let secret = match self.config.secrets.open(&hook.secret_sealed, &hook.key_id) {
            Ok(s) => s,
            Err(e) => return Attempt::failed(format!("cannot open the signing secret: {e}")),
        };
        let body = match serde_json::to_vec(&body_for(hook.webhook.format, d, ws_name)) {
            Ok(b) => b,
            Err(e) => return Attempt::failed(e.to_string()),
        };
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = match crate::webhook::sign(&secret, ts, &body) {
            Ok(s) => s,
            Err(e) => return Attempt::failed(e.to_string()),
        };
        let sent = self
            .http
            .post(&hook.webhook.url)
            .timeout(TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(crate::webhook::TIMESTAMP_HEADER, ts.to_string())
            .header(crate::webhook::DELIVERY_HEADER, &d.id)
            .header(crate::webhook::SIGNATURE_HEADER, signature)
            .header(EVENT_HEADER, &d.event)
            .body(body)
            .send()
            .await;
        let res = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::failed(describe(e)),
        };
        let status = res.status();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let (error, answer) = if status.is_success() {
            let body = tokio::time::timeout(TIMEOUT, res.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            (None, Some(body.chars().take(MAX_ANSWER).collect()))
        } else {
            // The start of the answer says most about why it was refused.
            let text = tokio::time::timeout(TIMEOUT, res.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let snippet: String = text.trim().chars().take(200).collect();
            let error = if snippet.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {snippet}")
            };
            (Some(error), None)
        };
        Attempt {
            status: Some(status.as_u16()),
            error,
            retry_after,
            answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_event_names_are_checked() {
        assert!(webhook_url("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(webhook_url(" http://127.0.0.1:8080/hook ").is_ok());
        for bad in [
            "ftp://x.example",
            "hooks.example.com",
            "https://",
            "http://a b",
            "",
        ] {
            let e = webhook_url(bad).unwrap_err();
            assert_eq!(e.field(), Some("url"), "{bad}");
        }
        assert_eq!(
            event_names(&[
                "alert.spike".into(),
                "alert.*".into(),
                "*".into(),
                "alert.spike".into()
            ])
            .unwrap(),
            ["alert.spike", "alert.*", "*"]
        );
        for bad in ["", "Alert", "alert.", ".alert", "alert spike", "*.x"] {
            let e = event_names(&["ok".into(), bad.into()]).unwrap_err();
            assert_eq!(e.field(), Some("events[1]"), "{bad:?}");
        }
    }

    #[test]
    fn slack_bodies_have_text_and_blocks_and_escape_markup() {
        let d = WebhookDelivery {
            id: "d".into(),
            webhook_id: "w".into(),
            workspace_id: "ws".into(),
            job_id: "j".into(),
            event: "alert.spike".into(),
            payload: json!({"summary": "Mentions of <Acme> & co. tripled", "url": "https://sb.example/x"}),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status: None,
            last_error: None,
            next_attempt_at: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            delivered_at: None,
        };
        let b = body_for(WebhookFormat::Slack, &d, "Acme DE");
        assert_eq!(b["text"], "Mentions of &lt;Acme&gt; &amp; co. tripled");
        assert_eq!(b["blocks"][0]["type"], "section");
        assert!(b["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("<https://sb.example/x|Open in Switchboard>"));
        assert_eq!(b["blocks"][1]["type"], "context");
        assert!(b["blocks"][1]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Acme DE"));
        let plain = body_for(
            WebhookFormat::Slack,
            &WebhookDelivery {
                payload: json!({}),
                ..d.clone()
            },
            "W",
        );
        assert_eq!(plain["text"], "alert.spike", "no summary: the event name");
        let sb = body_for(WebhookFormat::Switchboard, &d, "W");
        assert_eq!(
            (
                sb["id"].as_str(),
                sb["event"].as_str(),
                sb["data"]["url"].as_str()
            ),
            (Some("d"), Some("alert.spike"), Some("https://sb.example/x"))
        );
    }
}
