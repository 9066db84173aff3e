//! `switchboard bench inbox`: N items in M conversations (a post and its replies), stored and
//! enriched as usual, then threaded and routed by the router (timed: items/s), then the inbox
//! list queries an agent's screen makes (timed: p50/p95 per view).

use crate::bench::peak_rss_mb;
use anyhow::Result;
use std::time::Instant;
use switchboard_core::TeamFunction;
use switchboard_service::inbox::ConversationQuery;
use switchboard_service::ops::{CreateTeam, CreateWorkspace};
use switchboard_service::{Actor, App};

/// (language, text): complaints, bug reports, purchase questions, job questions, feature wishes
/// and small talk, so that every default rule and the unassigned queue get work.
const TEXTS: &[(&str, &str)] = &[
    (
        "de",
        "Die App stürzt seit dem Update ständig ab, Login geht nicht. Frechheit!",
    ),
    (
        "en",
        "The app keeps crashing since 4.2 and support does not answer. Terrible.",
    ),
    (
        "en",
        "How much does the Pro plan cost? I want to buy it for my team",
    ),
    (
        "en",
        "Are you hiring backend engineers? Would love to apply",
    ),
    ("en", "Please add a dark mode to the web client"),
    ("de", "Danke, alles gut jetzt"),
    ("ko", "배송이 너무 늦어요 환불해 주세요"),
    ("zh", "新版本很好用，推荐给大家"),
];

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn inbox(app: &App, items: u64, conversations: u64, runs: usize) -> Result<()> {
    let conversations = conversations.clamp(1, items.max(1));
    let per = items.div_ceil(conversations);
    let _ = app
        .cli_add_user("bench", "bench@example.com", None, "bench password", true)
        .await;
    let slug = format!("inbox-{}", std::process::id());
    let w = app
        .create_workspace(
            &Actor::Cli,
            CreateWorkspace {
                org: Some("bench".into()),
                name: slug.clone(),
                slug: Some(slug),
                parent: None,
            },
        )
        .await
        .map_err(err)?;
    let ws = w.workspace.id.clone();
    for (name, function) in [
        ("Support", TeamFunction::Support),
        ("Sales", TeamFunction::Sales),
        ("Recruiting", TeamFunction::Recruiting),
        ("Product", TeamFunction::Product),
    ] {
        app.create_team(
            &Actor::Cli,
            &ws,
            CreateTeam {
                name: name.into(),
                function,
            },
        )
        .await
        .map_err(err)?;
    }
    // Support answers within an hour, around the clock: every generated complaint is
    // breached, so the SLA filter has work.
    app.create_sla_policy(
        &Actor::Cli,
        &ws,
        serde_json::from_value(serde_json::json!({
            "team": "Support", "priority": "normal",
            "first_response_minutes": 60, "resolution_minutes": 480,
        }))
        .map_err(err)?,
    )
    .await
    .map_err(err)?;
    eprintln!("storing {items} items in {conversations} conversations ...");
    // One enricher for the run: `App::prepare` builds one per item, which costs more than
    // the enrichment itself.
    let enricher = switchboard_service::ingest::WorkspaceEnricher::new(app.enricher(), &[]);
    let base = time::OffsetDateTime::now_utc().unix_timestamp() - 60 * 86_400;
    let mut batch = Vec::with_capacity(2000);
    let mut stored = 0u64;
    let store_start = Instant::now();
    for c in 0..conversations {
        let (lang, text) = TEXTS[(c as usize) % TEXTS.len()];
        let t0 = base + (c as i64 * 60 * 86_400) / conversations as i64;
        for k in 0..per {
            if stored >= items {
                break;
            }
            let at = time::OffsetDateTime::from_unix_timestamp(t0 + k as i64 * 600)
                .map(switchboard_store::timestamp)
                .map_err(err)?;
            let mut v = serde_json::json!({
                "network": if c % 3 == 0 { "bluesky" } else { "mastodon" },
                "external_id": format!("c{c}-{k}"),
                "kind": if k == 0 { "mention" } else { "reply" },
                "author": {"id": format!("a{}", c % 50_000), "handle": format!("user{}@example.social", c % 50_000), "followers": (c % 5000) as i64},
                "text": if k == 0 { text.to_string() } else { format!("{text} ({k})") },
                "lang": lang,
                "created_at": at,
            });
            if k > 0 {
                v["root_id"] = format!("c{c}-0").into();
                v["parent_id"] = format!("c{c}-{}", k - 1).into();
            }
            batch.push(enricher.prepare(serde_json::from_value(v).map_err(err)?));
            stored += 1;
            if batch.len() == 2000 {
                app.store_items(&ws, std::mem::take(&mut batch))
                    .await
                    .map_err(err)?;
            }
        }
    }
    if !batch.is_empty() {
        app.store_items(&ws, batch).await.map_err(err)?;
    }
    eprintln!(
        "stored in {:.1} s; routing ...",
        store_start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let mut created = 0u64;
    let mut joined = 0u64;
    loop {
        let r = app.route_new_items().await.map_err(err)?;
        created += r.created;
        joined += r.joined;
        if r.created + r.joined + r.unchanged == 0 {
            break;
        }
    }
    let route_secs = start.elapsed().as_secs_f64();
    let routed = created + joined;

    let views: &[(&str, ConversationQuery)] = &[
        ("all, newest activity", ConversationQuery::default()),
        (
            "team queue: Support",
            ConversationQuery {
                view: Some("team:Support".into()),
                ..Default::default()
            },
        ),
        (
            "unassigned",
            ConversationQuery {
                view: Some("unassigned".into()),
                ..Default::default()
            },
        ),
        (
            "open + intent complaint",
            ConversationQuery {
                status: Some("open".into()),
                intent: Some("complaint".into()),
                ..Default::default()
            },
        ),
        (
            "Sales, lang en",
            ConversationQuery {
                view: Some("team:Sales".into()),
                lang: Some("en".into()),
                ..Default::default()
            },
        ),
        (
            "tag product",
            ConversationQuery {
                tag: Some("product".into()),
                ..Default::default()
            },
        ),
        (
            "Support, SLA breached",
            ConversationQuery {
                view: Some("team:Support".into()),
                sla: Some("breached".into()),
                ..Default::default()
            },
        ),
        (
            "q: frechheit (listening query)",
            ConversationQuery {
                q: Some("frechheit".into()),
                ..Default::default()
            },
        ),
        (
            "q: \"dark mode\" lang:en",
            ConversationQuery {
                q: Some("\"dark mode\" lang:en".into()),
                ..Default::default()
            },
        ),
    ];
    println!(
        "bench inbox: backend={} items={items} conversations={created} routed={routed} ({joined} replies joined)",
        app.store.backend().as_str()
    );
    println!(
        "routing: {:.1} s, {:.0} items/s",
        route_secs,
        routed as f64 / route_secs.max(1e-9)
    );
    println!("| view (50 per page) | listed | p50 ms | p95 ms | page 2 p50 ms |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    // The target is for the list itself; `q` (a listening query matched against every
    // candidate's items in memory) is reported apart.
    let mut worst_p95: f64 = 0.0;
    let mut worst_q_p95: f64 = 0.0;
    for (name, q) in views {
        let page = || {
            let mut q = q.clone();
            q.limit = Some(50);
            q
        };
        let first = app
            .list_conversations(&Actor::Cli, &ws, page())
            .await
            .map_err(err)?;
        let mut times = Vec::with_capacity(runs);
        let mut times2 = Vec::with_capacity(runs);
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let p = app
                .list_conversations(&Actor::Cli, &ws, page())
                .await
                .map_err(err)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if let Some(c) = p.next_cursor {
                let mut q2 = page();
                q2.cursor = Some(c);
                let t = Instant::now();
                app.list_conversations(&Actor::Cli, &ws, q2)
                    .await
                    .map_err(err)?;
                times2.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        times2.sort_by(f64::total_cmp);
        if q.q.is_some() {
            worst_q_p95 = worst_q_p95.max(percentile(&times, 0.95));
        } else {
            worst_p95 = worst_p95.max(percentile(&times, 0.95));
        }
        println!(
            "| {name} | {} | {:.2} | {:.2} | {} |",
            first.conversations.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            if times2.is_empty() {
                "-".to_string()
            } else {
                format!("{:.2}", percentile(&times2, 0.5))
            }
        );
    }
    println!(
        "summary: routing {:.0} items/s (target >= 5,000); worst list p95 {:.1} ms (target <= 50); worst p95 with q {:.1} ms; peak memory {} MB",
        routed as f64 / route_secs.max(1e-9),
        worst_p95,
        worst_q_p95,
        peak_rss_mb()
            .map(|m| format!("{m:.0}"))
            .unwrap_or_else(|| "?".into())
    );
    Ok(())
}
