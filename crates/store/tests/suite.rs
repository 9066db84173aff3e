//! The storage test suite, run against every backend.

use switchboard_core::role::OrgRole;
use switchboard_core::*;
use switchboard_store::*;

fn org(slug: &str) -> Organization {
    Organization {
        id: new_id(),
        slug: slug.into(),
        name: slug.to_uppercase(),
        created_at: now(),
    }
}

fn user(email: &str) -> User {
    User {
        id: new_id(),
        email: email.into(),
        name: email.into(),
        created_at: now(),
    }
}

fn ws(org: &Organization, slug: &str, parent: Option<&Workspace>) -> Workspace {
    Workspace {
        id: new_id(),
        org_id: org.id.clone(),
        slug: slug.into(),
        name: slug.into(),
        parent_id: parent.map(|p| p.id.clone()),
        created_at: now(),
    }
}

backend_tests! {
    migrations_are_idempotent => |store: Store| async move {
        assert!(store.migrate().await.unwrap().is_empty(), "second run applies nothing");
        store.ping().await.unwrap();
    };

    organisations_and_unique_slugs => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        let a = org("acme");
        orgs::insert(&mut tx, &a).await.unwrap();
        let dup = orgs::insert(&mut tx, &org("acme")).await.unwrap_err();
        assert!(matches!(dup, StoreError::Unique { ref constraint } if constraint.contains("slug")), "{dup:?}");
        tx.rollback().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert!(orgs::get_by_slug(&mut c, "acme").await.unwrap().is_none(), "rolled back");
    };

    workspace_tree_and_memberships => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        let a = org("acme");
        orgs::insert(&mut tx, &a).await.unwrap();
        let u = user("ann@example.com");
        users::insert(&mut tx, &u, Some("hash")).await.unwrap();
        orgs::set_member(&mut tx, &a.id, &u.id, OrgRole::Member).await.unwrap();
        let global = ws(&a, "global", None);
        let de = ws(&a, "de", Some(&global));
        workspaces::insert(&mut tx, &global).await.unwrap();
        workspaces::insert(&mut tx, &de).await.unwrap();
        members::upsert(&mut tx, &global.id, &u.id, Role::Agent).await.unwrap();
        members::upsert(&mut tx, &global.id, &u.id, Role::Manager).await.unwrap();
        tx.commit().await.unwrap();

        let mut c = store.read().await.unwrap();
        assert_eq!(workspaces::get(&mut c, &de.id).await.unwrap().unwrap(), de);
        assert_eq!(workspaces::count_children(&mut c, &global.id).await.unwrap(), 1);
        let roles = members::roles_in(&mut c, &u.id, &[de.id.clone(), global.id.clone()]).await.unwrap();
        assert_eq!(roles, vec![Role::Manager], "upsert replaced the role");
        assert_eq!(orgs::memberships(&mut c, &u.id).await.unwrap()[0].role, OrgRole::Member);
        assert_eq!(workspaces::list_in_orgs_of_user(&mut c, &u.id).await.unwrap().len(), 2);
        drop(c);

        // A parent with children cannot be deleted; the database itself refuses.
        let mut tx = store.write().await.unwrap();
        let refused = workspaces::delete(&mut tx, &global.id).await;
        assert!(matches!(refused, Err(StoreError::ForeignKey(_))), "{refused:?}");
        tx.rollback().await.unwrap();
    };

    parent_must_be_in_same_org => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        let (a, b) = (org("acme"), org("globex"));
        orgs::insert(&mut tx, &a).await.unwrap();
        orgs::insert(&mut tx, &b).await.unwrap();
        let pa = ws(&a, "parent", None);
        workspaces::insert(&mut tx, &pa).await.unwrap();
        let mut child = ws(&b, "child", None);
        child.parent_id = Some(pa.id.clone());
        assert!(matches!(workspaces::insert(&mut tx, &child).await, Err(StoreError::ForeignKey(_))));
    };

    teams_and_team_members => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        let a = org("acme");
        orgs::insert(&mut tx, &a).await.unwrap();
        let w = ws(&a, "global", None);
        workspaces::insert(&mut tx, &w).await.unwrap();
        let u = user("bo@example.com");
        users::insert(&mut tx, &u, None).await.unwrap();
        let t = Team { id: new_id(), workspace_id: w.id.clone(), name: "Support".into(), function: TeamFunction::Support, created_at: now() };
        teams::insert(&mut tx, &t).await.unwrap();
        tx.commit().await.unwrap();
        // A failed statement aborts a PostgreSQL transaction, so the clash gets its own.
        let mut tx = store.write().await.unwrap();
        let clash = Team { id: new_id(), ..t.clone() };
        assert!(matches!(teams::insert(&mut tx, &clash).await, Err(StoreError::Unique { .. })));
        tx.rollback().await.unwrap();

        let mut tx = store.write().await.unwrap();
        assert!(teams::add_member(&mut tx, &t.id, &u.id).await.unwrap());
        assert!(!teams::add_member(&mut tx, &t.id, &u.id).await.unwrap(), "second add is a no-op");
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert_eq!(teams::members(&mut c, &t.id).await.unwrap()[0].email, "bo@example.com");
        assert_eq!(teams::list(&mut c, &w.id).await.unwrap(), vec![t.clone()]);
        drop(c);

        // Deleting the workspace cascades to its teams and their members.
        let mut tx = store.write().await.unwrap();
        workspaces::delete(&mut tx, &w.id).await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert!(teams::get(&mut c, &t.id).await.unwrap().is_none());
    };

    sessions_expire => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        let u = user("cy@example.com");
        users::insert(&mut tx, &u, None).await.unwrap();
        sessions::insert(&mut tx, "h1", &u.id, "csrf", "2100-01-01T00:00:00.000Z").await.unwrap();
        sessions::insert(&mut tx, "h2", &u.id, "csrf", "2000-01-01T00:00:00.000Z").await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert_eq!(sessions::get_live(&mut c, "h1", &now()).await.unwrap().unwrap().user, u);
        assert!(sessions::get_live(&mut c, "h2", &now()).await.unwrap().is_none());
        assert_eq!(sessions::delete_expired(&mut c, &now()).await.unwrap(), 1);
    };

    tokens_revoke => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        let u = user("di@example.com");
        users::insert(&mut tx, &u, None).await.unwrap();
        let t = ApiToken { id: new_id(), user_id: u.id.clone(), name: "ci".into(), prefix: "sb_abc".into(), created_at: now(), last_used_at: None, revoked_at: None };
        tokens::insert(&mut tx, &t, "hash").await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert_eq!(tokens::get_live_by_hash(&mut c, "hash").await.unwrap().unwrap().1, u);
        tokens::revoke(&mut c, &t.id, &now()).await.unwrap();
        assert!(tokens::get_live_by_hash(&mut c, "hash").await.unwrap().is_none());
        assert!(tokens::get(&mut c, &t.id).await.unwrap().unwrap().revoked_at.is_some());
    };

    audit_pages_newest_first => |store: Store| async move {
        let a = org("acme");
        let mut tx = store.write().await.unwrap();
        orgs::insert(&mut tx, &a).await.unwrap();
        for i in 0..5 {
            let e = AuditEntry {
                id: new_id(), org_id: a.id.clone(), workspace_id: Some(format!("w{}", i % 2)),
                actor_id: None, actor: "cli".into(), action: format!("a{i}"), target_type: "t".into(),
                target_id: "x".into(), before: None, after: Some(serde_json::json!({"i": i})), created_at: now(),
            };
            audit::insert(&mut tx, &e).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let all = audit::list(&mut c, &a.id, None, None, 10).await.unwrap();
        assert_eq!(all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["a4", "a3", "a2", "a1", "a0"]);
        assert_eq!(all[0].after, Some(serde_json::json!({"i": 4})));
        let page2 = audit::list(&mut c, &a.id, None, Some(&all[1].id), 2).await.unwrap();
        assert_eq!(page2.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["a2", "a1"]);
        let w0 = audit::list(&mut c, &a.id, Some(&["w0".to_string()]), None, 10).await.unwrap();
        assert_eq!(w0.len(), 3);
    };
}

fn item(ext: &str, text: &str) -> items::ItemWrite {
    let item = NewItem {
        network: Network::Mastodon,
        external_id: ext.into(),
        kind: ItemKind::Post,
        author: Author {
            id: "a1".into(),
            handle: "ann@example.social".into(),
            display_name: "Ann".into(),
            followers: Some(10),
        },
        text: text.into(),
        hashtags: vec!["release".into()],
        mentions: vec![],
        urls: vec!["https://example.com/x".into()],
        lang: Some("de".into()),
        created_at: format!("2026-11-0{}T10:00:00.000Z", 1 + ext.len() % 9),
        url: None,
        parent_id: None,
        root_id: None,
        metrics: Metrics {
            likes: 1,
            shares: 2,
            replies: 3,
        },
        raw: Some(serde_json::json!({"id": ext})),
    };
    let enrichment = Enrichment {
        lang: Some("de".into()),
        sentiment: "negative".into(),
        sentiment_score: -0.5,
        intents: vec!["complaint".into()],
        tags: vec![],
    };
    items::ItemWrite {
        content_hash: format!("{ext}:{text}"),
        item,
        enrichment,
    }
}

async fn workspace_for_items(store: &Store) -> Workspace {
    let mut tx = store.write().await.unwrap();
    let a = org("acme");
    orgs::insert(&mut tx, &a).await.unwrap();
    let w = ws(&a, "global", None);
    workspaces::insert(&mut tx, &w).await.unwrap();
    tx.commit().await.unwrap();
    w
}

backend_tests! {
    items_upsert_counts_new_updated_unchanged => |store: Store| async move {
        let w = workspace_for_items(&store).await;
        let mut tx = store.write().await.unwrap();
        let c = items::upsert_batch(&mut tx, &w.id, vec![item("1", "Die App stürzt ab 😡"), item("2", "배송이 늦어요")]).await.unwrap();
        assert_eq!(c, items::UpsertCounts { imported: 2, updated: 0, unchanged: 0 });
        let c = items::upsert_batch(&mut tx, &w.id, vec![item("1", "Die App stürzt ab 😡"), item("2", "배송이 너무 늦어요"), item("3", "好")]).await.unwrap();
        assert_eq!(c, items::UpsertCounts { imported: 1, updated: 1, unchanged: 1 });
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert_eq!(items::count(&mut c, &w.id).await.unwrap(), 3);
        let two = items::get_by_external(&mut c, &w.id, "mastodon", "2").await.unwrap().unwrap();
        assert_eq!(two.text, "배송이 너무 늦어요");
        assert_eq!(two.hashtags, vec!["release".to_string()]);
        assert_eq!(two.sentiment.score, -0.5);
        assert_eq!(two.author.followers, Some(10));
        assert_eq!(items::raw(&mut c, &w.id, &two.id).await.unwrap().unwrap(), "{\"id\":\"2\"}");
    };

    items_batches_larger_than_a_statement_and_duplicates_within_a_batch => |store: Store| async move {
        let w = workspace_for_items(&store).await;
        let mut batch: Vec<_> = (0..(items::CHUNK * 2 + 7)).map(|i| item(&format!("n{i}"), "x")).collect();
        batch.push(item("n0", "edited in the same batch"));
        let mut tx = store.write().await.unwrap();
        let c = items::upsert_batch(&mut tx, &w.id, batch).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(c.imported as usize, items::CHUNK * 2 + 7);
        let mut c = store.read().await.unwrap();
        assert_eq!(items::get_by_external(&mut c, &w.id, "mastodon", "n0").await.unwrap().unwrap().text, "edited in the same batch");
        let page = items::list_recent(&mut c, &w.id, None, 5).await.unwrap();
        assert_eq!(page.len(), 5);
        let last = page.last().unwrap();
        let next = items::list_recent(&mut c, &w.id, Some((&last.created_at, &last.id)), 5).await.unwrap();
        assert!(next.iter().all(|i| (i.created_at.as_str(), i.id.as_str()) < (last.created_at.as_str(), last.id.as_str())));
    };

    delivery_ids_are_recorded_once => |store: Store| async move {
        let w = workspace_for_items(&store).await;
        let s = IngestSource { id: new_id(), workspace_id: w.id.clone(), name: "crm".into(), format: "ndjson".into(), created_at: now() };
        let mut tx = store.write().await.unwrap();
        items::sources::insert(&mut tx, &s, "sealed", "k1").await.unwrap();
        assert!(items::sources::record_delivery(&mut tx, &s.id, "d-1", 3).await.unwrap());
        assert!(!items::sources::record_delivery(&mut tx, &s.id, "d-1", 3).await.unwrap());
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let (got, sealed, key) = items::sources::get_by_name(&mut c, &w.id, "crm").await.unwrap().unwrap();
        assert_eq!((got, sealed.as_str(), key.as_str()), (s, "sealed", "k1"));
    };
}

/// Now plus (or minus) some seconds, as stored.
fn at(offset_secs: i64) -> String {
    timestamp(time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs))
}

backend_tests! {
    jobs_enqueue_once_per_dedupe_key_inside_the_callers_transaction => |store: Store| async move {
        let payload = serde_json::json!({"delivery_id": "d1"});
        let mut tx = store.write().await.unwrap();
        assert!(jobs::enqueue(&mut tx, "webhook.deliver", "w1:e1", &payload, &now()).await.unwrap());
        assert!(!jobs::enqueue(&mut tx, "webhook.deliver", "w1:e1", &serde_json::json!({"other": 1}), &now()).await.unwrap(), "same key: nothing new");
        // The transaction is still usable on PostgreSQL: the conflict did not abort it.
        assert!(jobs::enqueue(&mut tx, "webhook.deliver", "w1:e2", &payload, &now()).await.unwrap());
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let job = jobs::get_by_dedupe_key(&mut c, "w1:e1").await.unwrap().unwrap();
        assert_eq!((job.kind.as_str(), job.status, job.attempts, job.max_attempts), ("webhook.deliver", jobs::JobStatus::Queued, 0, jobs::DEFAULT_MAX_ATTEMPTS));
        assert_eq!(job.payload, payload, "the first enqueue wins");
        drop(c);

        // Rolled back with the caller's change: no job.
        let mut tx = store.write().await.unwrap();
        assert!(jobs::enqueue(&mut tx, "webhook.deliver", "w1:e3", &payload, &now()).await.unwrap());
        tx.rollback().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert!(jobs::get_by_dedupe_key(&mut c, "w1:e3").await.unwrap().is_none());
    };

    jobs_claim_has_one_winner_and_respects_kind_and_run_at => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        jobs::enqueue_as(&mut tx, "j-now", "webhook.deliver", "k-now", &serde_json::json!({}), &at(-1), 3).await.unwrap();
        jobs::enqueue(&mut tx, "webhook.deliver", "k-later", &serde_json::json!({}), &at(3600)).await.unwrap();
        jobs::enqueue(&mut tx, "publish", "k-other-kind", &serde_json::json!({}), &at(-1)).await.unwrap();
        tx.commit().await.unwrap();

        // Many workers race for the one due job of this kind.
        let mut racers = Vec::new();
        for _ in 0..6 {
            let store = store.clone();
            racers.push(tokio::spawn(async move {
                jobs::claim(&store, &["webhook.deliver"], &now(), &at(60)).await.unwrap()
            }));
        }
        let mut won = Vec::new();
        for r in racers {
            if let Some(job) = r.await.unwrap() {
                won.push(job);
            }
        }
        assert_eq!(won.len(), 1, "exactly one winner: {won:?}");
        let job = &won[0];
        assert_eq!((job.id.as_str(), job.status, job.attempts), ("j-now", jobs::JobStatus::Running, 1));
        assert!(job.lease_until.is_some());
        assert!(jobs::claim(&store, &["webhook.deliver"], &now(), &at(60)).await.unwrap().is_none(), "the other one is not due");
        assert!(jobs::claim(&store, &[], &now(), &at(60)).await.unwrap().is_none());

        // Retry, then dead: each only for a running job.
        let mut tx = store.write().await.unwrap();
        assert!(jobs::retry(&mut tx, "j-now", &at(-1), "HTTP 500").await.unwrap());
        assert!(!jobs::retry(&mut tx, "j-now", &at(-1), "again").await.unwrap(), "not running any more");
        tx.commit().await.unwrap();
        let again = jobs::claim(&store, &["webhook.deliver"], &now(), &at(60)).await.unwrap().unwrap();
        assert_eq!((again.id.as_str(), again.attempts, again.last_error.as_deref()), ("j-now", 2, Some("HTTP 500")));
        let mut tx = store.write().await.unwrap();
        assert!(jobs::dead(&mut tx, "j-now", "gave up").await.unwrap());
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let dead = jobs::get(&mut c, "j-now").await.unwrap().unwrap();
        assert_eq!((dead.status, dead.lease_until), (jobs::JobStatus::Dead, None));
        drop(c);
        assert!(jobs::claim(&store, &["webhook.deliver"], &now(), &at(60)).await.unwrap().is_none(), "dead jobs stay dead");
        let other = jobs::claim(&store, &["publish", "inbox.handoff"], &now(), &at(60)).await.unwrap().unwrap();
        assert_eq!(other.kind, "publish");
        let mut tx = store.write().await.unwrap();
        assert!(jobs::complete(&mut tx, &other.id).await.unwrap());
        tx.commit().await.unwrap();
    };

    jobs_with_an_expired_lease_are_claimed_again => |store: Store| async move {
        let mut tx = store.write().await.unwrap();
        jobs::enqueue_as(&mut tx, "j1", "webhook.deliver", "k1", &serde_json::json!({}), &at(-10), 8).await.unwrap();
        tx.commit().await.unwrap();
        // A worker claims it and dies: its lease ends in the past from the next worker's view.
        let first = jobs::claim(&store, &["webhook.deliver"], &at(-5), &at(-1)).await.unwrap().unwrap();
        assert_eq!(first.attempts, 1);
        let second = jobs::claim(&store, &["webhook.deliver"], &now(), &at(60)).await.unwrap().unwrap();
        assert_eq!((second.id.as_str(), second.attempts), ("j1", 2));
        // A live lease is respected.
        assert!(jobs::claim(&store, &["webhook.deliver"], &now(), &at(60)).await.unwrap().is_none());
        // "Retry now" moves only queued jobs.
        let mut tx = store.write().await.unwrap();
        assert!(!jobs::set_run_at(&mut tx, "j1", &now()).await.unwrap());
        assert!(jobs::retry(&mut tx, "j1", &at(3600), "timeout").await.unwrap());
        assert!(jobs::set_run_at(&mut tx, "j1", &at(-1)).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(jobs::claim(&store, &["webhook.deliver"], &now(), &at(60)).await.unwrap().unwrap().attempts, 3);
    };

    webhooks_and_deliveries_round_trip_and_cascade => |store: Store| async move {
        let w = workspace_for_items(&store).await;
        let hook = jobs::webhooks::WebhookRow {
            webhook: Webhook {
                id: new_id(), workspace_id: w.id.clone(), name: "Alerts".into(), url: "https://example.com/hook".into(),
                format: WebhookFormat::Slack, events: vec!["alert.spike".into()], created_at: now(),
            },
            secret_sealed: "sealed".into(),
            key_id: "k1".into(),
        };
        let mut tx = store.write().await.unwrap();
        jobs::webhooks::insert(&mut tx, &hook).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.write().await.unwrap();
        let clash = jobs::webhooks::WebhookRow { webhook: Webhook { id: new_id(), ..hook.webhook.clone() }, ..hook.clone() };
        let err = jobs::webhooks::insert(&mut tx, &clash).await.unwrap_err();
        assert!(matches!(err, StoreError::Unique { ref constraint } if constraint.contains("name")), "{err:?}");
        tx.rollback().await.unwrap();

        let d = WebhookDelivery {
            id: new_id(), webhook_id: hook.webhook.id.clone(), workspace_id: w.id.clone(), job_id: "j1".into(),
            event: "alert.spike".into(), payload: serde_json::json!({"summary": "Spike"}), status: DeliveryStatus::Pending,
            attempts: 0, last_status: None, last_error: None, next_attempt_at: Some(now()), created_at: now(), delivered_at: None,
        };
        let mut tx = store.write().await.unwrap();
        jobs::deliveries::insert(&mut tx, &d).await.unwrap();
        jobs::deliveries::record_attempt(&mut tx, &d.id, DeliveryStatus::Retrying, 1, Some(500), Some("HTTP 500"), Some("2100-01-01T00:00:00.000Z"), None).await.unwrap();
        tx.commit().await.unwrap();

        let mut c = store.read().await.unwrap();
        let got = jobs::webhooks::get(&mut c, &hook.webhook.id).await.unwrap().unwrap();
        assert_eq!((got.webhook, got.secret_sealed.as_str(), got.key_id.as_str()), (hook.webhook.clone(), "sealed", "k1"));
        assert_eq!(jobs::webhooks::list(&mut c, &w.id).await.unwrap(), vec![hook.webhook.clone()]);
        let listed = jobs::deliveries::list(&mut c, &hook.webhook.id, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].status, listed[0].attempts, listed[0].last_status, listed[0].last_error.as_deref()), (DeliveryStatus::Retrying, 1, Some(500), Some("HTTP 500")));
        assert_eq!(listed[0].payload, d.payload);
        drop(c);

        let mut tx = store.write().await.unwrap();
        jobs::webhooks::delete(&mut tx, &hook.webhook.id).await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert!(jobs::deliveries::get(&mut c, &d.id).await.unwrap().is_none(), "deliveries go with their webhook");
    };
}
