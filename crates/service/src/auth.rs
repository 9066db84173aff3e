//! Passwords, sessions, API tokens and the login rate limiter.

use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use switchboard_core::{validate, ApiToken, User};
use switchboard_store::{new_id, now, sessions, tokens, users};

/// Argon2id with the crate's defaults (19 MiB, 2 passes): OWASP's recommended minimum.
pub async fn hash_password(password: &str) -> ServiceResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(ServiceError::internal)
    })
    .await
    .map_err(ServiceError::internal)?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Verified against when the account does not exist, so a wrong e-mail address takes as
/// long as a wrong password and does not reveal which accounts exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmRkdW1teQ$2K6sZb1Pp0H3iWbqj6ymfJHjAQjwq+gjMXbcMgpYdC8";

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Secrets are stored only as their SHA-256: they are long and random, so a slow hash adds nothing.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// How a request proved who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    Session {
        token_hash: String,
        csrf_token: String,
    },
    Token {
        token_id: String,
    },
}

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    pub credential: Credential,
}

impl AuthUser {
    pub fn actor(&self) -> Actor {
        Actor::User(self.user.clone())
    }
}

pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub user: User,
    pub max_age: Duration,
}

pub const TOKEN_PREFIX: &str = "sb_";

impl App {
    /// Checks the password and opens a session. Failed attempts count against both the
    /// account and the client address; past the limit the answer is 429 until the window passes.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> ServiceResult<NewSession> {
        let email = email.trim().to_lowercase();
        let keys = [format!("account:{email}"), format!("ip:{client}")];
        self.login_limiter.check(&keys)?;
        let found = {
            let mut c = self.store.read().await?;
            users::get_by_email(&mut c, &email).await?
        };
        let ok = match &found {
            Some((_, Some(hash))) => verify_password(password, hash).await,
            _ => {
                verify_password(password, DUMMY_HASH).await;
                false
            }
        };
        let user = match (ok, found) {
            (true, Some((user, _))) => user,
            _ => {
                self.login_limiter.record_failure(&keys);
                return Err(ServiceError::InvalidCredentials);
            }
        };
        self.login_limiter.reset(&keys[0]);
        let token = random_token(32);
        let csrf_token = random_token(32);
        let expires = time::OffsetDateTime::now_utc() + self.config.session_ttl;
        let mut tx = self.store.write().await?;
        // Logins are rare enough to carry the clean-up of sessions that have run out.
        sessions::delete_expired(&mut tx, &now()).await?;
        sessions::insert(
            &mut tx,
            &secret_hash(&token),
            &user.id,
            &csrf_token,
            &switchboard_store::timestamp(expires),
        )
        .await?;
        tx.commit().await?;
        Ok(NewSession {
            token,
            csrf_token,
            user,
            max_age: self.config.session_ttl,
        })
    }

    pub async fn logout(&self, session_token: &str) -> ServiceResult<()> {
        let mut c = self.store.read().await?;
        sessions::delete(&mut c, &secret_hash(session_token)).await?;
        Ok(())
    }

    pub async fn authenticate_session(&self, session_token: &str) -> ServiceResult<AuthUser> {
        let token_hash = secret_hash(session_token);
        let mut c = self.store.read().await?;
        let row = sessions::get_live(&mut c, &token_hash, &now())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        Ok(AuthUser {
            user: row.user,
            credential: Credential::Session {
                token_hash,
                csrf_token: row.csrf_token,
            },
        })
    }

    pub async fn authenticate_token(&self, token: &str) -> ServiceResult<AuthUser> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(ServiceError::Unauthenticated);
        }
        let mut c = self.store.read().await?;
        let (t, user) = tokens::get_live_by_hash(&mut c, &secret_hash(token))
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        // Recording every use would turn each read into a write; once a minute is enough to
        // tell a live token from a forgotten one.
        let stamp = now();
        let stale = t
            .last_used_at
            .as_deref()
            .is_none_or(|last| last[..16] != stamp[..16]);
        if stale {
            tokens::touch(&mut c, &t.id, &stamp).await?;
        }
        Ok(AuthUser {
            user,
            credential: Credential::Token { token_id: t.id },
        })
    }

    /// Creates a personal API token; the secret is returned once and only its hash is kept.
    pub async fn create_token(&self, user: &User, name: &str) -> ServiceResult<(ApiToken, String)> {
        let name = validate::name("name", name)?;
        let secret = format!("{TOKEN_PREFIX}{}", random_token(32));
        let token = ApiToken {
            id: new_id(),
            user_id: user.id.clone(),
            name,
            prefix: secret[..10].to_string(),
            created_at: now(),
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.store.write().await?;
        tokens::insert(&mut tx, &token, &secret_hash(&secret)).await?;
        for m in switchboard_store::orgs::memberships(&mut tx, &user.id).await? {
            Audit {
                org_id: &m.org.id,
                workspace_id: None,
                action: "token.create",
                target_type: "api_token",
                target_id: &token.id,
            }
            .write(&mut tx, &Actor::User(user.clone()), NONE, Some(&token))
            .await?;
        }
        tx.commit().await?;
        Ok((token, secret))
    }

    pub async fn list_tokens(&self, user: &User) -> ServiceResult<Vec<ApiToken>> {
        let mut c = self.store.read().await?;
        Ok(tokens::list_for_user(&mut c, &user.id).await?)
    }

    /// Revokes one of the user's own tokens; someone else's token is "not found".
    pub async fn revoke_token(&self, user: &User, token_id: &str) -> ServiceResult<ApiToken> {
        let mut tx = self.store.write().await?;
        let token = tokens::get(&mut tx, token_id)
            .await?
            .filter(|t| t.user_id == user.id)
            .ok_or(ServiceError::NotFound)?;
        tokens::revoke(&mut tx, token_id, &now()).await?;
        for m in switchboard_store::orgs::memberships(&mut tx, &user.id).await? {
            Audit {
                org_id: &m.org.id,
                workspace_id: None,
                action: "token.revoke",
                target_type: "api_token",
                target_id: &token.id,
            }
            .write(&mut tx, &Actor::User(user.clone()), Some(&token), NONE)
            .await?;
        }
        tx.commit().await?;
        let mut c = self.store.read().await?;
        tokens::get(&mut c, token_id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    pub async fn user_by_email(&self, email: &str) -> ServiceResult<User> {
        let email = validate::email("email", email)?;
        let mut c = self.store.read().await?;
        Ok(users::get_by_email(&mut c, &email)
            .await?
            .ok_or(ServiceError::NotFound)?
            .0)
    }
}

#[derive(Debug, Clone)]
pub struct LoginLimits {
    pub per_account: usize,
    pub per_client: usize,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_client: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Counts failed logins per key in a sliding window. In memory: a restart forgets, which
/// errs on the side of letting people in; the window is short either way.
pub struct LoginLimiter {
    limits: LoginLimits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn limit_for(&self, key: &str) -> usize {
        if key.starts_with("account:") {
            self.limits.per_account
        } else {
            self.limits.per_client
        }
    }

    pub fn check(&self, keys: &[String]) -> ServiceResult<()> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(q) = map.get_mut(key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.limits.window)
                {
                    q.pop_front();
                }
                if q.len() >= self.limit_for(key) {
                    if let Some(oldest) = q.front() {
                        wait = wait.max(self.limits.window - now.duration_since(*oldest));
                    }
                }
            }
        }
        if wait > Duration::ZERO {
            return Err(ServiceError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        Ok(())
    }

    pub fn record_failure(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bound memory under a flood of distinct keys: forget windows that have passed.
            let window = self.limits.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        for key in keys {
            let q = map.entry(key.clone()).or_default();
            q.push_back(now);
            while q.len() > self.limit_for(key) {
                q.pop_front();
            }
        }
    }

    pub fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_limit_and_reports_retry_after() {
        let l = LoginLimiter::new(LoginLimits {
            per_account: 2,
            per_client: 3,
            window: Duration::from_secs(60),
        });
        let keys = ["account:a".to_string(), "ip:1".to_string()];
        l.check(&keys).unwrap();
        l.record_failure(&keys);
        l.check(&keys).unwrap();
        l.record_failure(&keys);
        match l.check(&keys) {
            Err(ServiceError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected rate limit, got {other:?}"),
        }
        // Another account from the same client still has one attempt left on the client key.
        let other = ["account:b".to_string(), "ip:1".to_string()];
        l.check(&other).unwrap();
        l.record_failure(&other);
        assert!(l.check(&other).is_err(), "client limit reached");
        l.reset("account:a");
        assert!(l.check(&keys).is_err(), "client key still blocks");
    }

    #[tokio::test]
    async fn dummy_hash_is_a_valid_argon2id_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything", DUMMY_HASH).await);
    }
}
