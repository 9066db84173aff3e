//! Outbound webhooks: where a workspace's events (spike alerts, hand-offs, tests) are sent,
//! and the record of each delivery.

use serde::{Deserialize, Serialize};

crate::role::string_enum!(
    /// The body a webhook receives: Switchboard's signed JSON envelope, or a Slack
    /// incoming-webhook message.
    WebhookFormat {
        Switchboard => "switchboard",
        Slack => "slack",
    }
);

crate::role::string_enum!(
    /// Where a delivery stands: waiting for its first attempt, delivered (2xx), waiting to be
    /// retried after a failed attempt, or failed for good.
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Retrying => "retrying",
        Failed => "failed",
    }
);

/// An outbound webhook. Its signing secret is never part of this record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub url: String,
    pub format: WebhookFormat,
    /// Event names (`alert.spike`) or prefixes (`alert.*`); empty: every event.
    pub events: Vec<String>,
    pub created_at: String,
}

impl Webhook {
    /// Whether the webhook subscribes to `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty()
            || self.events.iter().any(|e| {
                e == "*"
                    || e == event
                    || e.strip_suffix('*')
                        .is_some_and(|prefix| prefix.ends_with('.') && event.starts_with(prefix))
            })
    }
}

/// One event sent (or to be sent) to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookDelivery {
    pub id: String,
    pub webhook_id: String,
    pub workspace_id: String,
    pub job_id: String,
    pub event: String,
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// The HTTP status of the latest attempt (none when it got no answer).
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// When the next attempt is due (pending or retrying deliveries).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_match_names_prefixes_and_everything() {
        let mut w = Webhook {
            id: "w".into(),
            workspace_id: "ws".into(),
            name: "n".into(),
            url: "https://example.com".into(),
            format: WebhookFormat::Switchboard,
            events: vec![],
            created_at: String::new(),
        };
        assert!(w.wants("alert.spike"), "empty means every event");
        w.events = vec!["alert.spike".into()];
        assert!(w.wants("alert.spike") && !w.wants("alert.drop") && !w.wants("webhook.test"));
        w.events = vec!["alert.*".into()];
        assert!(w.wants("alert.spike") && w.wants("alert.drop") && !w.wants("alerts.x"));
        w.events = vec!["*".into()];
        assert!(w.wants("inbox.handoff"));
    }
}
