//! Inbox storage, run against every backend: threading is idempotent, one item is in one
//! conversation, and routing rules, events and the router's cursor round-trip.

use switchboard_core::*;
use switchboard_store::inbox::{self, ConversationFilter, RuleRow, ThreadRef};
use switchboard_store::*;

fn write(ext: &str, created_at: &str) -> items::ItemWrite {
    items::ItemWrite {
        item: NewItem {
            network: Network::Mastodon,
            external_id: ext.into(),
            kind: ItemKind::Post,
            author: Author {
                id: "a1".into(),
                handle: "ann@example.social".into(),
                display_name: "Ann".into(),
                followers: Some(10),
            },
            text: format!("text of {ext}"),
            hashtags: vec![],
            mentions: vec![],
            urls: vec![],
            lang: Some("de".into()),
            created_at: created_at.into(),
            url: None,
            parent_id: None,
            root_id: None,
            metrics: Metrics::default(),
            raw: None,
        },
        enrichment: Enrichment {
            lang: Some("de".into()),
            sentiment: "negative".into(),
            sentiment_score: -0.5,
            intents: vec!["complaint".into()],
            tags: vec![],
        },
        content_hash: ext.into(),
    }
}

async fn setup(store: &Store) -> (Workspace, Vec<Item>) {
    let mut tx = store.write().await.unwrap();
    let o = Organization {
        id: new_id(),
        slug: "acme".into(),
        name: "Acme".into(),
        created_at: now(),
    };
    orgs::insert(&mut tx, &o).await.unwrap();
    let w = Workspace {
        id: new_id(),
        org_id: o.id.clone(),
        slug: "de".into(),
        name: "DE".into(),
        parent_id: None,
        created_at: now(),
    };
    workspaces::insert(&mut tx, &w).await.unwrap();
    items::upsert_batch(
        &mut tx,
        &w.id,
        vec![
            write("post", "2026-11-20T10:00:00.000Z"),
            write("reply", "2026-11-20T11:00:00.000Z"),
            write("early", "2026-11-20T09:00:00.000Z"),
        ],
    )
    .await
    .unwrap();
    let mut found = Vec::new();
    for ext in ["post", "reply", "early"] {
        found.push(
            items::get_by_external(&mut tx, &w.id, "mastodon", ext)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    (w, found)
}

fn thread<'a>(w: &'a Workspace, item: &'a Item, key: &'a str) -> ThreadRef<'a> {
    ThreadRef {
        workspace_id: &w.id,
        network: "mastodon",
        thread_key: key,
        kind: "thread",
        item_id: &item.id,
        item_created_at: &item.created_at,
        reopens: true,
    }
}

/// Threads one item as the router would, unrouted.
async fn attach(tx: &mut AnyConnection, t: ThreadRef<'_>) -> inbox::Attached {
    let mut out = inbox::attach_items(tx, &[t], |_| inbox::Routing {
        priority: "normal".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    out.remove(0)
}

backend_tests! {
    statistics_are_refreshed_on_postgres_only_when_a_table_changed_a_lot => |store: Store| async move {
        let (w, _) = setup(&store).await;
        let mut c = store.read().await.unwrap();
        // Three items are no bulk load: nothing to analyze on either backend.
        assert_eq!(inbox::refresh_statistics(&mut c).await.unwrap(), Vec::<String>::new());
        drop(c);
        let mut tx = store.write().await.unwrap();
        let many: Vec<_> = (0..1200).map(|i| write(&format!("bulk-{i}"), "2026-11-22T10:00:00.000Z")).collect();
        items::upsert_batch(&mut tx, &w.id, many).await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let analyzed = inbox::refresh_statistics(&mut c).await.unwrap();
        if store.backend() == Backend::Sqlite {
            assert!(analyzed.is_empty());
        } else {
            // PostgreSQL's activity counters reach pg_stat_user_tables within a second or so:
            // whatever it saw then, `items` is the only table that could be stale.
            assert!(analyzed.iter().all(|t| t == "items"), "{analyzed:?}");
        }
    };

    one_batch_creates_each_conversation_once_and_reopens_on_a_customer_reply => |store: Store| async move {
        let (w, its) = setup(&store).await;
        let mut tx = store.write().await.unwrap();
        let mut asked = Vec::new();
        let refs = [thread(&w, &its[0], "post"), thread(&w, &its[1], "post"), thread(&w, &its[0], "post")];
        let out = inbox::attach_items(&mut tx, &refs, |i| {
            asked.push(i);
            inbox::Routing { priority: "high".into(), tags: vec!["vip".into()], ..Default::default() }
        })
        .await
        .unwrap();
        assert_eq!(asked, vec![0], "routed once, on the item that created it");
        assert!(out[0].created && !out[1].created && !out[1].already && out[2].already, "{out:?}");
        assert!(out.iter().all(|a| a.conversation_id == out[0].conversation_id));
        let id = out[0].conversation_id.clone();
        inbox::set_status(&mut tx, &id, "closed", None).await.unwrap();
        // Our own reply does not reopen it; the customer's does, once.
        let ours = ThreadRef { reopens: false, ..thread(&w, &its[2], "post") };
        let quiet = inbox::attach_items(&mut tx, &[ours], |_| unreachable!("joins")).await.unwrap();
        assert_eq!(quiet[0].reopened, None);
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let conv = inbox::get(&mut c, &w.id, &id).await.unwrap().unwrap();
        assert_eq!((conv.status.as_str(), conv.item_count, conv.priority.as_str()), ("closed", 3, "high"));
        assert_eq!(conv.tags, vec!["vip".to_string()]);
        assert_eq!(conv.first_item_at, "2026-11-20T09:00:00.000Z");
        drop(c);

        let mut tx = store.write().await.unwrap();
        items::upsert_batch(&mut tx, &w.id, vec![
            write("q1", "2026-11-21T10:00:00.000Z"),
            write("q2", "2026-11-21T11:00:00.000Z"),
            write("q3", "2026-11-21T12:00:00.000Z"),
        ]).await.unwrap();
        let mut more = Vec::new();
        for ext in ["q1", "q2", "q3"] {
            more.push(items::get_by_external(&mut tx, &w.id, "mastodon", ext).await.unwrap().unwrap());
        }
        let w2 = w.clone();
        let first = attach(&mut tx, thread(&w2, &more[0], "p")).await;
        inbox::set_status(&mut tx, &first.conversation_id, "snoozed", Some("2030-01-01T00:00:00.000Z")).await.unwrap();
        let out = inbox::attach_items(&mut tx, &[thread(&w2, &more[1], "p"), thread(&w2, &more[2], "p")], |_| unreachable!("joins"))
            .await
            .unwrap();
        assert_eq!(out[0].reopened.as_deref(), Some("snoozed"));
        assert_eq!(out[1].reopened, None, "told once per conversation");
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        let conv = inbox::get(&mut c, &w2.id, &first.conversation_id).await.unwrap().unwrap();
        assert_eq!((conv.status.as_str(), conv.snoozed_until.clone(), conv.item_count), ("open", None, 3));
    };

    threading_is_idempotent_and_one_item_is_in_one_conversation => |store: Store| async move {
        let (w, its) = setup(&store).await;
        let mut tx = store.write().await.unwrap();
        let first = attach(&mut tx, thread(&w, &its[0], "post")).await;
        assert!(first.created && !first.already);
        // The same item again: nothing changes.
        let again = attach(&mut tx, thread(&w, &its[0], "post")).await;
        assert_eq!(again.conversation_id, first.conversation_id);
        assert!(again.already && !again.created);
        // Even under another key it stays where it is.
        let elsewhere = attach(&mut tx, thread(&w, &its[0], "other")).await;
        assert_eq!(elsewhere.conversation_id, first.conversation_id);
        assert!(elsewhere.already);
        // A reply joins; an older item moves the start back.
        let reply = attach(&mut tx, thread(&w, &its[1], "post")).await;
        assert_eq!(reply.conversation_id, first.conversation_id);
        assert!(!reply.created && !reply.already);
        attach(&mut tx, thread(&w, &its[2], "post")).await;
        attach(&mut tx, thread(&w, &its[2], "post")).await;
        tx.commit().await.unwrap();

        let mut c = store.read().await.unwrap();
        let conv = inbox::get(&mut c, &w.id, &first.conversation_id).await.unwrap().unwrap();
        assert_eq!(conv.item_count, 3);
        assert_eq!(conv.first_item_at, "2026-11-20T09:00:00.000Z");
        assert_eq!(conv.last_item_at, "2026-11-20T11:00:00.000Z");
        assert_eq!((conv.status.as_str(), conv.priority.as_str(), conv.team_id.as_deref()), ("open", "normal", None));
        let ids = inbox::item_ids(&mut c, &conv.id).await.unwrap();
        assert_eq!(ids, vec![its[2].id.clone(), its[0].id.clone(), its[1].id.clone()], "oldest first");
        // The JSON-aggregated read gives the same items as the row-by-row one.
        let mut by_rows = items::get_many(&mut c, &ids).await.unwrap();
        let mut aggregated: Vec<Item> = items::of_conversations(&mut c, &[conv.id.clone(), new_id()]).await.unwrap()
            .into_iter()
            .map(|(of, item)| { assert_eq!(of, conv.id); item })
            .collect();
        by_rows.sort_by(|a, b| a.id.cmp(&b.id));
        aggregated.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(aggregated, by_rows);
        assert!(items::of_conversations(&mut c, &[new_id()]).await.unwrap().is_empty());
        let all = inbox::list(&mut c, &w.id, &ConversationFilter::default(), None, 10).await.unwrap();
        assert_eq!(all.len(), 1, "one conversation: {all:?}");
        let negative = ConversationFilter { intent: Some("complaint".into()), sentiment: Some("negative".into()), ..Default::default() };
        assert_eq!(inbox::list(&mut c, &w.id, &negative, None, 10).await.unwrap().len(), 1);
        let praise = ConversationFilter { intent: Some("praise".into()), ..Default::default() };
        assert!(inbox::list(&mut c, &w.id, &praise, None, 10).await.unwrap().is_empty());
    };

    routing_rules_events_and_cursor_round_trip => |store: Store| async move {
        let (w, its) = setup(&store).await;
        let mut tx = store.write().await.unwrap();
        assert_eq!(inbox::lock_cursor(&mut tx, "router").await.unwrap(), 0);
        inbox::set_cursor(&mut tx, "router", 42).await.unwrap();
        assert_eq!(inbox::lock_cursor(&mut tx, "router").await.unwrap(), 42);
        let rule = RuleRow {
            id: new_id(),
            workspace_id: w.id.clone(),
            position: 10,
            name: "Login".into(),
            conditions: serde_json::json!({"query": "login"}),
            actions: serde_json::json!({"add_tags": ["login"]}),
            continue_matching: true,
            enabled: false,
            created_at: now(),
            updated_at: now(),
        };
        inbox::insert_rule(&mut tx, &rule).await.unwrap();
        let dup = inbox::insert_rule(&mut tx, &RuleRow { id: new_id(), ..rule.clone() }).await.unwrap_err();
        assert!(matches!(dup, StoreError::Unique { .. }), "{dup:?}");
        tx.rollback().await.unwrap();
        let mut tx = store.write().await.unwrap();
        assert_eq!(inbox::lock_cursor(&mut tx, "router").await.unwrap(), 0, "rolled back");
        inbox::set_cursor(&mut tx, "router", 7).await.unwrap();
        inbox::insert_rule(&mut tx, &rule).await.unwrap();
        let conv = attach(&mut tx, thread(&w, &its[0], "post")).await;
        inbox::add_event(&mut tx, &conv.conversation_id, "router", "created", &serde_json::json!({"item_id": its[0].id})).await.unwrap();
        inbox::set_routing(&mut tx, &conv.conversation_id, None, None, "high", &["login".to_string()], Some(&rule.id)).await.unwrap();
        tx.commit().await.unwrap();
        let mut c = store.read().await.unwrap();
        assert_eq!(inbox::cursor(&mut c, "router").await.unwrap(), 7);
        assert_eq!(inbox::cursor(&mut c, "other").await.unwrap(), 0);
        assert_eq!(inbox::list_rules(&mut c, &w.id).await.unwrap(), vec![rule.clone()]);
        let got = inbox::get(&mut c, &w.id, &conv.conversation_id).await.unwrap().unwrap();
        assert_eq!((got.priority.as_str(), got.tags.clone(), got.routed_by_rule.clone()), ("high", vec!["login".to_string()], Some(rule.id.clone())));
        let tagged = ConversationFilter { tag: Some("login".into()), ..Default::default() };
        assert_eq!(inbox::list(&mut c, &w.id, &tagged, None, 10).await.unwrap().len(), 1);
        let events = inbox::events(&mut c, &conv.conversation_id).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data["item_id"], its[0].id.as_str());
    };
}
