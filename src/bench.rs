//! `switchboard bench ingest`: generates multilingual items as Switchboard NDJSON and imports
//! them through the same pipeline as `switchboard import`, printing items/s, MB/s and peak memory.

use anyhow::{Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;
use switchboard_service::ingest::ImportOptions;
use switchboard_service::ops::CreateWorkspace;
use switchboard_service::{Actor, App};

const TEXTS: &[(&str, &str)] = &[
    (
        "en",
        "Love the new update, the app feels so much faster 😍 #release",
    ),
    (
        "en",
        "The app keeps crashing since version 4.2, I can't log in. Please fix this!",
    ),
    (
        "en",
        "Where can I buy the Pro plan? Is there a student discount?",
    ),
    (
        "en",
        "Are you hiring backend engineers in Berlin? Would love to apply",
    ),
    ("en", "Would be great to have a dark mode in the web client"),
    (
        "de",
        "Die App stürzt seit dem Update 4.2 ständig ab, Login geht nicht 😡",
    ),
    ("de", "Super Service, danke für die schnelle Hilfe! 👍"),
    ("de", "Wann kommt endlich der Dunkelmodus? Bitte einbauen"),
    ("ko", "배송이 너무 늦어요 환불해 주세요"),
    ("ko", "앱 업데이트 후에 로그인이 안 돼요 😭"),
    ("ko", "새 기능 정말 좋아요 감사합니다 ❤️"),
    ("zh", "这个质量太差了，我要退货"),
    ("zh", "新版本很好用，推荐给大家 👍"),
    ("ja", "アプリがすぐ落ちます。修正してください"),
    (
        "fr",
        "Je n'arrive plus à me connecter depuis la mise à jour",
    ),
    ("es", "¿Dónde puedo comprar el plan Pro? Me encanta la app"),
];

/// Writes `n` items; external ids, authors, times and numbers vary so no two lines are equal.
fn generate(path: &Path, n: u64) -> Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for i in 0..n {
        let (lang, text) = TEXTS[(i % TEXTS.len() as u64) as usize];
        let network = if i % 3 == 0 { "bluesky" } else { "mastodon" };
        let kind = match i % 5 {
            0 => "reply",
            1 => "mention",
            _ => "post",
        };
        let line = serde_json::json!({
            "network": network,
            "external_id": format!("bench-{i}"),
            "kind": kind,
            "author": {"id": format!("u{}", i % 50_000), "handle": format!("user{}@example.social", i % 50_000), "display_name": format!("User {}", i % 50_000), "followers": (i * 7919) % 100_000},
            "text": format!("{text} #{i}"),
            "hashtags": ["release"],
            "lang": lang,
            "created_at": format!("2026-{:02}-{:02}T{:02}:{:02}:{:02}.000Z", 1 + (i / 2_678_400) % 12, 1 + (i / 86_400) % 28, (i / 3600) % 24, (i / 60) % 60, i % 60),
            "parent_id": if kind == "reply" { Some(format!("bench-{}", i.saturating_sub(1))) } else { None },
            "metrics": {"likes": i % 97, "shares": i % 13, "replies": i % 7},
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Peak resident memory of this process so far (Linux), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

pub async fn ingest(app: &App, items: u64, work_dir: &Path) -> Result<()> {
    let input = work_dir.join("bench-items.ndjson");
    eprintln!("generating {items} items ...");
    let bytes = generate(&input, items)?;
    eprintln!(
        "generated {:.1} MB; importing on the {} store ...",
        bytes as f64 / 1e6,
        app.store.backend().as_str()
    );
    let _ = app
        .cli_add_user("bench", "bench@example.com", None, "bench password", true)
        .await;
    let ws = format!("bench-{}", std::process::id());
    let w = app
        .create_workspace(
            &Actor::Cli,
            CreateWorkspace {
                org: Some("bench".into()),
                name: ws.clone(),
                slug: Some(ws),
                parent: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Warm the enricher outside the timed part, as a running server would have it.
    app.enricher();
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(&input).context("open generated input")?,
    );
    let start = Instant::now();
    let report = app
        .import(
            &Actor::Cli,
            &w.workspace.id,
            reader,
            switchboard_ingest::Format::Switchboard,
            ImportOptions::default(),
            |_| {},
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let stored = report.imported + report.updated + report.unchanged;
    println!(
        "bench ingest: backend={} items={} stored={} rejected={}",
        app.store.backend().as_str(),
        report.records,
        stored,
        report.rejected
    );
    println!(
        "bench ingest: {:.2} s, {:.0} items/s, {:.1} MB/s (parse + enrich + store)",
        secs,
        report.records as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    if let Some(mb) = peak_rss_mb() {
        println!("bench ingest: peak memory {mb:.0} MB");
    }
    std::fs::remove_file(&input).ok();
    Ok(())
}
