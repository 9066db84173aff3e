//! Live channels: a Mastodon or Bluesky account polled for notifications and saved searches.
//! Credentials are sealed at rest and never returned; a refused credential marks the channel
//! "needs reconnect" until someone gives new ones.

use crate::access::Access;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchboard_connectors::{
    BlueskyClient, BlueskyFeed, ConnectorError, Cursor, MastodonClient, MastodonFeed, SessionTokens,
};
use switchboard_core::{validate, Channel, ChannelStatus, Network, NewItem, Permission};
use switchboard_store::items::channels::{self, ChannelRow};
use switchboard_store::items::UpsertCounts;
use switchboard_store::AnyConnection;
use switchboard_store::{new_id, now, timestamp};

/// What is sealed for a channel.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Credentials {
    Mastodon {
        access_token: String,
    },
    Bluesky {
        app_password: String,
        session: Option<SessionTokens>,
    },
}

impl Credentials {
    /// The newest Bluesky session: the one a client holds after a call (refreshes rotate
    /// the tokens), else the stored one.
    fn with_session(self, after: Option<SessionTokens>) -> Credentials {
        match self {
            Credentials::Bluesky {
                app_password,
                session,
            } => Credentials::Bluesky {
                app_password,
                session: after.or(session),
            },
            c => c,
        }
    }
}

impl App {
    /// A channel's credentials, unsealed.
    pub(crate) fn open_credentials(&self, row: &ChannelRow) -> ServiceResult<Credentials> {
        serde_json::from_str(
            &self
                .config
                .secrets
                .open(&row.credentials_sealed, &row.key_id)?,
        )
        .map_err(ServiceError::internal)
    }

    fn seal_credentials(&self, credentials: &Credentials) -> ServiceResult<String> {
        self.config
            .secrets
            .seal(&serde_json::to_string(credentials).map_err(ServiceError::internal)?)
    }

    /// The client of a Bluesky channel, starting from its stored session when it has one.
    pub(crate) fn bluesky_client(
        &self,
        ch: &Channel,
        app_password: &str,
        session: Option<SessionTokens>,
    ) -> BlueskyClient {
        let client = BlueskyClient::new(&ch.base_url, &ch.account, app_password, self.http.clone());
        match session {
            Some(s) => client.with_session(s),
            None => client,
        }
    }

    /// Stores the session a Bluesky client ended with, when it differs from the one `row`
    /// was read with, leaving the rest of the channel as it is now. Skipped when the stored
    /// credentials changed since `row` was read (a poll or a reconnect wrote newer ones).
    pub(crate) async fn keep_bluesky_session(
        &self,
        c: &mut AnyConnection,
        row: &ChannelRow,
        read: Credentials,
        after: Option<SessionTokens>,
    ) -> ServiceResult<()> {
        let Credentials::Bluesky { session, .. } = &read else {
            return Ok(());
        };
        if after.is_none() || after == *session {
            return Ok(());
        }
        let Some(now) = channels::get(c, &row.channel.id).await? else {
            return Ok(());
        };
        if now.credentials_sealed != row.credentials_sealed {
            return Ok(());
        }
        let sealed = self.seal_credentials(&read.with_session(after))?;
        let ch = &now.channel;
        channels::finish_poll(
            c,
            &ch.id,
            &now.cursor,
            &sealed,
            self.config.secrets.key_id(),
            ch.status,
            ch.status_message.as_deref(),
            &ch.next_poll_at,
            ch.last_polled_at.as_deref().unwrap_or(&ch.created_at),
        )
        .await?;
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    pub network: Network,
    pub name: String,
    /// The instance (`https://mastodon.social`) or Bluesky service (`https://bsky.social`).
    pub base_url: String,
    /// `notifications`, `tag:NAME`, `search:QUERY`; default: notifications.
    #[serde(default)]
    pub feeds: Vec<String>,
    /// Mastodon: an access token with the read scope (write too, to reply).
    #[serde(default)]
    pub access_token: Option<String>,
    /// Bluesky: the account handle and an app password.
    #[serde(default)]
    pub handle: Option<String>,
    #[serde(default)]
    pub app_password: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconnect {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub app_password: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    pub channel: Channel,
    #[serde(flatten)]
    pub counts: UpsertCounts,
    pub skipped: u64,
}

enum Feed {
    Mastodon(MastodonFeed),
    Bluesky(BlueskyFeed),
}

enum Client {
    Mastodon(MastodonClient),
    Bluesky(BlueskyClient),
}

impl Client {
    async fn poll(
        &self,
        feed: &Feed,
        cursor: &Cursor,
    ) -> Result<switchboard_connectors::PollResult, ConnectorError> {
        match (self, feed) {
            (Client::Mastodon(c), Feed::Mastodon(f)) => c.poll(f, cursor).await,
            (Client::Bluesky(c), Feed::Bluesky(f)) => c.poll(f, cursor).await,
            _ => Err(ConnectorError::Protocol("a feed of another network".into())),
        }
    }
}

fn parse_feed(network: Network, spec: &str, field: &str) -> ServiceResult<Feed> {
    let spec = spec.trim();
    let bad = || ServiceError::invalid(field, "a feed is notifications, tag:NAME or search:QUERY");
    let (kind, arg) = match spec.split_once(':') {
        Some((k, a)) if !a.trim().is_empty() => (k, Some(a.trim().to_string())),
        Some(_) => return Err(bad()),
        None => (spec, None),
    };
    Ok(match (network, kind, arg) {
        (Network::Mastodon, "notifications", None) => Feed::Mastodon(MastodonFeed::Notifications),
        (Network::Mastodon, "tag", Some(t)) => {
            Feed::Mastodon(MastodonFeed::Hashtag(t.trim_start_matches('#').to_string()))
        }
        (Network::Mastodon, "search", Some(q)) => Feed::Mastodon(MastodonFeed::Search(q)),
        (Network::Bluesky, "notifications", None) => Feed::Bluesky(BlueskyFeed::Notifications),
        (Network::Bluesky, "tag", Some(t)) => Feed::Bluesky(BlueskyFeed::Search(format!(
            "#{}",
            t.trim_start_matches('#')
        ))),
        (Network::Bluesky, "search", Some(q)) => Feed::Bluesky(BlueskyFeed::Search(q)),
        _ => return Err(bad()),
    })
}

fn base_url(v: &str) -> ServiceResult<String> {
    let v = v.trim().trim_end_matches('/');
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && v.len() > 8
        && !v.contains(char::is_whitespace);
    if !ok {
        return Err(ServiceError::invalid(
            "base_url",
            "must be an http(s) URL such as https://mastodon.social",
        ));
    }
    Ok(v.to_string())
}

/// A refused credential is the caller's to fix (422 naming the field); an unreachable server too.
fn connect_error(e: ConnectorError, credential_field: &str) -> ServiceError {
    if e.needs_reconnect() {
        ServiceError::invalid(
            credential_field,
            format!("the network refused these credentials: {e}"),
        )
    } else {
        ServiceError::invalid("base_url", format!("could not talk to the server: {e}"))
    }
}

fn required(v: Option<String>, field: &str) -> ServiceResult<String> {
    v.map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ServiceError::invalid(field, "required"))
}

impl App {
    /// Checks the credentials against the network, then stores the channel with them sealed.
    pub async fn create_channel(
        &self,
        actor: &Actor,
        ws: &str,
        input: CreateChannel,
    ) -> ServiceResult<Channel> {
        let name = validate::name("name", &input.name)?;
        let base = base_url(&input.base_url)?;
        let feeds = if input.feeds.is_empty() {
            vec!["notifications".to_string()]
        } else {
            input.feeds.clone()
        };
        for (i, f) in feeds.iter().enumerate() {
            parse_feed(input.network, f, &format!("feeds[{i}]"))?;
        }
        let workspace = {
            let mut c = self.store.read().await?;
            let access = Access::load(&mut c, actor).await?;
            let wa = access.workspace(ws)?;
            wa.require(Permission::IntegrationsManage)?;
            wa.workspace.clone()
        };
        let (account, credentials) = match input.network {
            Network::Mastodon => {
                let token = required(input.access_token, "access_token")?;
                let client = MastodonClient::new(&base, &token, self.http.clone());
                let acct = client
                    .verify_credentials()
                    .await
                    .map_err(|e| connect_error(e, "access_token"))?;
                (
                    acct.acct,
                    Credentials::Mastodon {
                        access_token: token,
                    },
                )
            }
            Network::Bluesky => {
                let handle = required(input.handle, "handle")?;
                let password = required(input.app_password, "app_password")?;
                let client = BlueskyClient::new(&base, &handle, &password, self.http.clone());
                let session = client
                    .login()
                    .await
                    .map_err(|e| connect_error(e, "app_password"))?;
                (
                    session.handle.clone(),
                    Credentials::Bluesky {
                        app_password: password,
                        session: Some(session),
                    },
                )
            }
            other => {
                return Err(ServiceError::invalid(
                    "network",
                    format!("{other} has no live connector yet; use import or a webhook"),
                ))
            }
        };
        let sealed = self.seal_credentials(&credentials)?;
        let stamp = now();
        let row = ChannelRow {
            channel: Channel {
                id: new_id(),
                workspace_id: workspace.id.clone(),
                network: input.network,
                name,
                base_url: base,
                account,
                feeds,
                status: ChannelStatus::Active,
                status_message: None,
                next_poll_at: stamp.clone(),
                last_polled_at: None,
                created_at: stamp,
            },
            credentials_sealed: sealed,
            key_id: self.config.secrets.key_id().to_string(),
            cursor: serde_json::to_string(&Cursor::default()).map_err(ServiceError::internal)?,
        };
        let mut tx = self.store.write().await?;
        channels::insert(&mut tx, &row).await?;
        Audit {
            org_id: &workspace.org_id,
            workspace_id: Some(&workspace.id),
            action: "channel.create",
            target_type: "channel",
            target_id: &row.channel.id,
        }
        .write(&mut tx, actor, NONE, Some(&row.channel))
        .await?;
        tx.commit().await?;
        Ok(row.channel)
    }

    pub async fn list_channels(&self, actor: &Actor, ws: &str) -> ServiceResult<Vec<Channel>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::WorkspaceRead)?;
        Ok(channels::list(&mut c, &wa.workspace.id).await?)
    }

    async fn channel_in(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        p: Permission,
    ) -> ServiceResult<(ChannelRow, String)> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        let row = channels::get(&mut c, id)
            .await?
            .filter(|r| r.channel.workspace_id == wa.workspace.id)
            .ok_or(ServiceError::NotFound)?;
        wa.require(p)?;
        Ok((row, wa.workspace.org_id.clone()))
    }

    pub async fn delete_channel(&self, actor: &Actor, ws: &str, id: &str) -> ServiceResult<()> {
        let (row, org_id) = self
            .channel_in(actor, ws, id, Permission::IntegrationsManage)
            .await?;
        let mut tx = self.store.write().await?;
        channels::delete(&mut tx, &row.channel.id).await?;
        Audit {
            org_id: &org_id,
            workspace_id: Some(&row.channel.workspace_id),
            action: "channel.delete",
            target_type: "channel",
            target_id: &row.channel.id,
        }
        .write(&mut tx, actor, Some(&row.channel), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// New credentials for a channel that needs reconnecting; checked before they are kept.
    pub async fn reconnect_channel(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        input: Reconnect,
    ) -> ServiceResult<Channel> {
        let (row, org_id) = self
            .channel_in(actor, ws, id, Permission::IntegrationsManage)
            .await?;
        let ch = &row.channel;
        let credentials = match ch.network {
            Network::Mastodon => {
                let token = required(input.access_token, "access_token")?;
                MastodonClient::new(&ch.base_url, &token, self.http.clone())
                    .verify_credentials()
                    .await
                    .map_err(|e| connect_error(e, "access_token"))?;
                Credentials::Mastodon {
                    access_token: token,
                }
            }
            _ => {
                let password = required(input.app_password, "app_password")?;
                let session =
                    BlueskyClient::new(&ch.base_url, &ch.account, &password, self.http.clone())
                        .login()
                        .await
                        .map_err(|e| connect_error(e, "app_password"))?;
                Credentials::Bluesky {
                    app_password: password,
                    session: Some(session),
                }
            }
        };
        let sealed = self.seal_credentials(&credentials)?;
        let mut tx = self.store.write().await?;
        channels::finish_poll(
            &mut tx,
            &ch.id,
            &row.cursor,
            &sealed,
            self.config.secrets.key_id(),
            ChannelStatus::Active,
            None,
            &now(),
            ch.last_polled_at.as_deref().unwrap_or(&ch.created_at),
        )
        .await?;
        Audit {
            org_id: &org_id,
            workspace_id: Some(&ch.workspace_id),
            action: "channel.reconnect",
            target_type: "channel",
            target_id: &ch.id,
        }
        .write(&mut tx, actor, NONE, NONE)
        .await?;
        let updated = channels::get(&mut tx, &ch.id)
            .await?
            .ok_or(ServiceError::NotFound)?
            .channel;
        tx.commit().await?;
        Ok(updated)
    }

    /// Polls a channel now (for the "poll now" button and the API).
    pub async fn poll_channel_now(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<PollReport> {
        let (row, _) = self
            .channel_in(actor, ws, id, Permission::IntegrationsManage)
            .await?;
        self.poll(row).await
    }

    /// Polls every channel that is due, each claimed with a lease so that two servers on one
    /// database never poll the same channel at once. Returns how many were polled.
    pub async fn poll_due(&self) -> ServiceResult<usize> {
        let stamp = now();
        let due = {
            let mut c = self.store.read().await?;
            channels::due(&mut c, &stamp, 50).await?
        };
        let lease = timestamp(time::OffsetDateTime::now_utc() + Duration::from_secs(300));
        let mut polled = 0;
        for id in due {
            let claimed = {
                let mut tx = self.store.write().await?;
                let ok = channels::claim(&mut tx, &id, &stamp, &lease).await?;
                tx.commit().await?;
                ok
            };
            if !claimed {
                continue;
            }
            let row = {
                let mut c = self.store.read().await?;
                channels::get(&mut c, &id).await?
            };
            if let Some(row) = row {
                if let Err(e) = self.poll(row).await {
                    tracing::warn!(channel = %id, error = %e, "poll failed");
                }
                polled += 1;
            }
        }
        Ok(polled)
    }

    async fn poll(&self, row: ChannelRow) -> ServiceResult<PollReport> {
        let ch = row.channel.clone();
        let credentials = self.open_credentials(&row)?;
        let mut cursor: Cursor = serde_json::from_str(&row.cursor).unwrap_or_default();
        let client = match &credentials {
            Credentials::Mastodon { access_token } => Client::Mastodon(MastodonClient::new(
                &ch.base_url,
                access_token,
                self.http.clone(),
            )),
            Credentials::Bluesky {
                app_password,
                session,
            } => Client::Bluesky(self.bluesky_client(&ch, app_password, session.clone())),
        };
        let mut items: Vec<NewItem> = Vec::new();
        let mut skipped = 0;
        let mut outcome: Result<Option<Duration>, ConnectorError> = Ok(None);
        for spec in &ch.feeds {
            let Ok(feed) = parse_feed(ch.network, spec, "feeds") else {
                continue;
            };
            match client.poll(&feed, &cursor).await {
                Ok(r) => {
                    items.extend(r.items);
                    skipped += r.skipped;
                    cursor = r.cursor;
                    if r.retry_after.is_some() {
                        outcome = Ok(r.retry_after);
                        break;
                    }
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        // Refreshes rotate Bluesky's tokens: keep the newest.
        let session_after = match &client {
            Client::Bluesky(b) => b.session(),
            Client::Mastodon(_) => None,
        };
        // Items first, cursor after: a crash in between re-fetches, and the upsert makes that harmless.
        let counts = if items.is_empty() {
            UpsertCounts::default()
        } else {
            let enricher = self.workspace_enricher(&ch.workspace_id).await?;
            let writes = items.into_iter().map(|i| enricher.prepare(i)).collect();
            self.store_items(&ch.workspace_id, writes).await?
        };
        let credentials = credentials.with_session(session_after);
        let polled_at = time::OffsetDateTime::now_utc();
        let (status, message, next) = match outcome {
            Ok(None) => (
                ChannelStatus::Active,
                None,
                polled_at + self.config.poll_interval,
            ),
            Ok(Some(wait)) => (
                ChannelStatus::Active,
                None,
                polled_at + wait.max(self.config.poll_interval),
            ),
            Err(e) if e.needs_reconnect() => (
                ChannelStatus::NeedsReconnect,
                Some(e.to_string()),
                polled_at + self.config.poll_interval,
            ),
            Err(ConnectorError::RateLimited { retry_after }) => (
                ChannelStatus::RateLimited,
                Some(format!(
                    "rate limited; next poll in {} s",
                    retry_after.as_secs()
                )),
                polled_at + retry_after,
            ),
            Err(e) => (
                ChannelStatus::Error,
                Some(e.to_string()),
                polled_at + self.config.poll_interval * 5,
            ),
        };
        let sealed = self.seal_credentials(&credentials)?;
        let mut tx = self.store.write().await?;
        channels::finish_poll(
            &mut tx,
            &ch.id,
            &serde_json::to_string(&cursor).map_err(ServiceError::internal)?,
            &sealed,
            self.config.secrets.key_id(),
            status,
            message.as_deref(),
            &timestamp(next),
            &timestamp(polled_at),
        )
        .await?;
        let channel = channels::get(&mut tx, &ch.id)
            .await?
            .ok_or(ServiceError::NotFound)?
            .channel;
        tx.commit().await?;
        Ok(PollReport {
            channel,
            counts,
            skipped,
        })
    }
}
