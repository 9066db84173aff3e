//! Fixture-driven tests: every format, concrete field values, malformed records.

use std::fs::File;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::PathBuf;

use switchboard_ingest::{
    parse_record, parse_switchboard_line, read, read_all, read_slice, CsvMapping, Format, ItemKind,
    Network, NewItem, ReadError, Record, TwitterAccount,
};

fn fixture(name: &str) -> BufReader<File> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    BufReader::new(File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn records(name: &str, format: &Format) -> Vec<Record> {
    read_all(fixture(name), format).expect("readable input")
}

fn item(r: &Record) -> &NewItem {
    r.item()
        .unwrap_or_else(|| panic!("record {} is not an item: {r:?}", r.number))
}

fn error(r: &Record) -> &str {
    &r.error()
        .unwrap_or_else(|| panic!("record {} is not an error: {r:?}", r.number))
        .message
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Mastodon
// ---------------------------------------------------------------------------------------------

#[test]
fn mastodon_status_array() {
    let recs = records("mastodon_statuses.json", &Format::Mastodon);
    assert_eq!(recs.len(), 4);
    assert_eq!(
        recs.iter().map(|r| r.number).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );

    // A Korean post with emoji, hashtags, mentions and a link split into invisible spans.
    let p = item(&recs[0]);
    assert_eq!(p.network, Network::Mastodon);
    assert_eq!(p.external_id, "113402741384730213");
    assert_eq!(p.kind, ItemKind::Post);
    assert_eq!(p.author.id, "109348755611234567");
    assert_eq!(p.author.handle, "minji@mastodon.social");
    assert_eq!(p.author.display_name, "김민지 🌸");
    assert_eq!(p.author.followers, Some(1523));
    assert_eq!(
        p.text,
        "안녕하세요 👋 새 버전이 나왔어요! #스위치보드 #Rust\n\ncc @bob & @carol\nRelease notes: https://example.com/blog/release-notes-2024?utm_source=mastodon&utm_medium=social&lang=ko#changes"
    );
    assert_eq!(p.hashtags, strs(&["스위치보드", "rust"]));
    assert_eq!(
        p.mentions,
        strs(&["bob@fosstodon.org", "carol@mastodon.social"])
    );
    assert_eq!(
        p.urls,
        strs(&["https://example.com/blog/release-notes-2024?lang=ko#changes"])
    );
    assert_eq!(p.lang.as_deref(), Some("ko"));
    assert_eq!(p.created_at, "2024-11-01T09:15:30.123Z");
    assert_eq!(
        p.url.as_deref(),
        Some("https://mastodon.social/@minji/113402741384730213")
    );
    assert_eq!(p.parent_id, None);
    assert_eq!(p.root_id, None);
    assert_eq!(
        (p.metrics.likes, p.metrics.shares, p.metrics.replies),
        (45, 12, 3)
    );
    let raw = p.raw.as_ref().expect("raw kept");
    assert_eq!(raw["id"], "113402741384730213");

    // A Japanese reply with a content warning and an offset timestamp.
    let r = item(&recs[1]);
    assert_eq!(r.kind, ItemKind::Reply);
    assert_eq!(r.parent_id.as_deref(), Some("113402741384730213"));
    assert_eq!(
        r.text,
        "ネタバレ注意\n\n@minji おめでとうございます🎉 \"素晴らしい\"✨"
    );
    assert_eq!(r.created_at, "2024-11-01T09:30:00.000Z");
    assert_eq!(r.lang.as_deref(), Some("ja"));
    assert_eq!(r.mentions, strs(&["minji@mastodon.social"]));
    assert!(r.hashtags.is_empty());
    assert_eq!(r.author.handle, "kenji@fosstodon.org");

    // A reblog: the item is the reblogged Chinese status; the booster stays in raw.
    let b = item(&recs[2]);
    assert_eq!(b.external_id, "113401000000000042");
    assert_eq!(b.kind, ItemKind::Post);
    assert_eq!(b.author.id, "300003");
    assert_eq!(b.author.handle, "wei@m.cmx.im");
    assert_eq!(b.author.display_name, "王伟");
    assert_eq!(
        b.text,
        "你好，世界！🌏 我们在 #开源 社区见。\n详情：https://example.cn/post?id=7&fbclid=IwAR0abc"
    );
    assert_eq!(b.hashtags, strs(&["开源"]));
    assert_eq!(b.urls, strs(&["https://example.cn/post?id=7"]));
    assert_eq!(b.created_at, "2024-10-31T23:59:59.999Z");
    assert_eq!(b.lang.as_deref(), Some("zh"));
    assert_eq!(
        (b.metrics.likes, b.metrics.shares, b.metrics.replies),
        (99, 30, 5)
    );
    assert_eq!(
        b.raw.as_ref().unwrap()["account"]["acct"],
        "minji",
        "the reblogger is kept in raw"
    );

    // A direct message: scripts dropped.
    let d = item(&recs[3]);
    assert_eq!(d.kind, ItemKind::DirectMessage);
    assert_eq!(d.text, "@minji can you DM me the invoice? Thanks!");
    assert_eq!(d.mentions, strs(&["minji@mastodon.social"]));
}

#[test]
fn mastodon_notifications_ndjson_with_skips_and_errors() {
    let recs = records("mastodon_notifications.ndjson", &Format::Mastodon);
    // Line 3 is blank and not a record.
    assert_eq!(
        recs.iter().map(|r| r.number).collect::<Vec<_>>(),
        [1, 2, 4, 5, 6, 7, 8]
    );

    let m = item(&recs[0]);
    assert_eq!(m.kind, ItemKind::Mention);
    assert_eq!(m.external_id, "113410000000000001");
    assert_eq!(m.author.handle, "bob@fosstodon.org");
    assert_eq!(m.author.display_name, "Bob 🦀");
    assert_eq!(m.text, "@minji is the #Switchboard API stable? 🤔");
    assert_eq!(m.hashtags, strs(&["switchboard"]));
    assert_eq!(m.mentions, strs(&["minji@mastodon.social"]));
    assert_eq!(m.parent_id.as_deref(), Some("113402741384730213"));
    assert_eq!(m.raw.as_ref().unwrap()["type"], "mention");

    assert!(recs[1].is_skipped(), "follow: no status");
    assert_eq!(recs[1].skipped, Some("notification without a status"));
    assert!(recs[2].is_skipped(), "favourite of own status");
    assert!(
        error(&recs[3]).starts_with("invalid JSON: "),
        "{:?}",
        recs[3]
    );
    assert_eq!(error(&recs[4]), "missing field `status.id`");
    assert_eq!(error(&recs[5]), "created_at: not a date: \"yesterday\"");

    let s = item(&recs[6]);
    assert_eq!(s.kind, ItemKind::Post);
    assert_eq!(
        s.text,
        "Nouvelle version : https://example.org/r?ref_src=twsrc&v=2"
    );
    assert_eq!(s.urls, strs(&["https://example.org/r?v=2"]));
    assert!(s.mentions.is_empty());
    assert_eq!(s.lang.as_deref(), Some("fr"));
}

#[test]
fn mastodon_webhook_body_via_parse_record() {
    let body = r#"{"event":"status.created","created_at":"2024-11-05T10:00:00Z","object":{"id":"1","created_at":"2024-11-05T10:00:00Z","content":"<p>hi <a href=\"https://x.example/?utm_term=a\">x</a></p>","account":{"id":"9","acct":"z@host.example"},"in_reply_to_id":"0"}}"#;
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let item = parse_record(&Format::Mastodon, v["object"].clone())
        .unwrap()
        .unwrap();
    assert_eq!(item.text, "hi x");
    assert_eq!(item.urls, strs(&["https://x.example/"]));
    assert_eq!(item.kind, ItemKind::Reply);
    assert_eq!(item.author.handle, "z@host.example");
}

// ---------------------------------------------------------------------------------------------
// ActivityPub outbox
// ---------------------------------------------------------------------------------------------

#[test]
fn activitypub_outbox() {
    let recs = records("outbox.json", &Format::ActivityPubOutbox);
    assert_eq!(recs.len(), 5);
    assert_eq!(
        recs.iter().map(|r| r.number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );

    let n = item(&recs[0]);
    assert_eq!(
        n.external_id,
        "https://mastodon.social/users/minji/statuses/113402741384730213"
    );
    assert_eq!(n.kind, ItemKind::Post);
    assert_eq!(n.author.id, "https://mastodon.social/users/minji");
    assert_eq!(n.author.handle, "minji@mastodon.social");
    assert_eq!(
        n.text,
        "한국어와 日本語 그리고 中文 🎉 #한글 @bob\n\nhttps://news.example.com/a?gclid=abc&page=2"
    );
    assert_eq!(n.hashtags, strs(&["한글"]));
    assert_eq!(n.mentions, strs(&["bob@fosstodon.org"]));
    assert_eq!(n.urls, strs(&["https://news.example.com/a?page=2"]));
    assert_eq!(n.lang.as_deref(), Some("ko"));
    assert_eq!(n.created_at, "2024-11-01T09:15:30.000Z");
    assert_eq!(
        n.url.as_deref(),
        Some("https://mastodon.social/@minji/113402741384730213")
    );

    assert!(recs[1].is_skipped(), "Announce is skipped");
    assert!(recs[1].skipped.unwrap().contains("Announce"));

    let r = item(&recs[2]);
    assert_eq!(r.kind, ItemKind::Reply);
    assert_eq!(
        r.parent_id.as_deref(),
        Some("https://fosstodon.org/users/kenji/statuses/113402800000000001")
    );
    assert_eq!(r.text, "長文\n\n@kenji ありがとう！😊\nまた今度 #日本");
    assert_eq!(r.hashtags, strs(&["日本"]));
    assert_eq!(r.mentions, strs(&["kenji@fosstodon.org"]));
    assert_eq!(r.created_at, "2024-11-03T23:00:00.000Z");
    assert_eq!(r.lang.as_deref(), Some("ja"));

    assert_eq!(
        error(&recs[3]),
        "object.published: not a date: \"not a timestamp\""
    );

    let dm = item(&recs[4]);
    assert_eq!(dm.kind, ItemKind::DirectMessage);
    assert_eq!(dm.mentions, strs(&["carol@mastodon.social"]));
    assert_eq!(dm.text, "@carol here is the invoice");
}

// ---------------------------------------------------------------------------------------------
// Bluesky
// ---------------------------------------------------------------------------------------------

#[test]
fn bluesky_search_posts_with_utf8_facets() {
    let recs = records("bluesky_search_posts.json", &Format::Bluesky);
    assert_eq!(recs.len(), 4);

    let p = item(&recs[0]);
    assert_eq!(p.network, Network::Bluesky);
    assert_eq!(
        p.external_id,
        "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3kgpj4ahqtd2k"
    );
    assert_eq!(p.kind, ItemKind::Post);
    assert_eq!(p.author.id, "did:plc:z72i7hdynmk6r22z27h6tvur");
    assert_eq!(p.author.handle, "alice.bsky.social");
    assert_eq!(p.author.display_name, "Alice ✨");
    assert_eq!(p.author.followers, Some(4200));
    assert_eq!(
        p.text,
        "안녕 @yuki.example.jp! 🦋 새 글: https://example.com/p… #블루스카이 #Rust"
    );
    assert_eq!(p.mentions, strs(&["yuki.example.jp"]));
    assert_eq!(p.urls, strs(&["https://example.com/post/42?id=42"]));
    assert_eq!(p.hashtags, strs(&["블루스카이", "rust"]));
    assert_eq!(p.lang.as_deref(), Some("ko"));
    assert_eq!(
        p.url.as_deref(),
        Some("https://bsky.app/profile/alice.bsky.social/post/3kgpj4ahqtd2k")
    );
    assert_eq!(
        (p.metrics.likes, p.metrics.shares, p.metrics.replies),
        (17, 5, 2)
    );

    let r = item(&recs[1]);
    assert_eq!(r.kind, ItemKind::Reply);
    assert_eq!(r.text, "@alice.bsky.social 素敵ですね！🌸 中文也可以 😀");
    assert_eq!(r.mentions, strs(&["alice.bsky.social"]));
    assert_eq!(r.parent_id.as_deref(), Some(p.external_id.as_str()));
    assert_eq!(r.root_id.as_deref(), Some(p.external_id.as_str()));
    assert_eq!(r.created_at, "2024-11-01T12:05:10.500Z");
    assert_eq!(r.author.followers, None);

    assert_eq!(
        error(&recs[2]),
        "record.createdAt: not a date: \"yesterday\""
    );

    // No facets: entities come from the text; the external embed's link is kept.
    let n = item(&recs[3]);
    assert_eq!(n.hashtags, strs(&["tags"]));
    assert_eq!(n.mentions, strs(&["bob.test"]));
    assert_eq!(
        n.urls,
        strs(&[
            "https://example.net/x?q=1",
            "https://card.example.org/story"
        ])
    );
    assert_eq!(n.lang, None);
    assert_eq!(n.created_at, "2024-11-02T00:00:00.000Z");
}

#[test]
fn bluesky_author_feed_with_repost_and_reply() {
    let recs = records("bluesky_author_feed.json", &Format::Bluesky);
    assert_eq!(recs.len(), 4);
    let reply = item(&recs[0]);
    assert_eq!(reply.kind, ItemKind::Reply);
    assert_eq!(reply.author.handle, "yuki.example.jp");

    // The repost's item is the original post, by its author; the reason stays in raw.
    let repost = item(&recs[1]);
    assert_eq!(repost.author.handle, "yuki.example.jp");
    assert_eq!(repost.text, "日本語の投稿です #テスト");
    assert_eq!(repost.hashtags, strs(&["テスト"]));
    assert_eq!(repost.metrics.shares, 9);
    assert_eq!(
        repost.raw.as_ref().unwrap()["reason"]["by"]["handle"],
        "alice.bsky.social"
    );

    assert_eq!(error(&recs[2]), "missing field `post.author.did`");
    assert_eq!(item(&recs[3]).kind, ItemKind::Post);
}

#[test]
fn bluesky_ndjson_and_bare_array() {
    let recs = records("bluesky_posts.ndjson", &Format::Bluesky);
    assert_eq!(recs.len(), 2);
    assert_eq!(item(&recs[1]).author.handle, "bob.test");

    let mut array = b"[".to_vec();
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bluesky_posts.ndjson"),
    )
    .unwrap();
    array.extend(text.trim().replace('\n', ",").as_bytes());
    array.push(b']');
    let mut seen = Vec::new();
    read_slice(&array, &Format::Bluesky, |r| {
        seen.push((r.number, r.into_item().unwrap().external_id));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0, 2);
}

// ---------------------------------------------------------------------------------------------
// X / Twitter archive
// ---------------------------------------------------------------------------------------------

#[test]
fn twitter_archive_tweets_js() {
    let account_js = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/account.js"),
    )
    .unwrap();
    let account = TwitterAccount::from_account_js(&account_js).unwrap();
    assert_eq!(
        account,
        TwitterAccount::new("987654321", "switchboard_hq", "Switchboard HQ")
    );
    let recs = records("tweets.js", &Format::twitter_archive(account));
    assert_eq!(recs.len(), 5);

    let t = item(&recs[0]);
    assert_eq!(t.network, Network::X);
    assert_eq!(t.external_id, "1050118621198921728");
    assert_eq!(t.kind, ItemKind::Post);
    assert_eq!(t.author.id, "987654321");
    assert_eq!(t.author.handle, "switchboard_hq");
    assert_eq!(
        t.text,
        "Launching today 🚀 & it's fast: https://example.com/launch?ref=home #Switchboard #한국 cc @bob_dev <3"
    );
    assert_eq!(t.hashtags, strs(&["switchboard", "한국"]));
    assert_eq!(t.mentions, strs(&["bob_dev"]));
    assert_eq!(t.urls, strs(&["https://example.com/launch?ref=home"]));
    assert_eq!(t.created_at, "2018-10-10T20:19:24.000Z");
    assert_eq!(
        t.url.as_deref(),
        Some("https://x.com/switchboard_hq/status/1050118621198921728")
    );
    assert_eq!((t.metrics.likes, t.metrics.shares), (42, 7));
    assert_eq!(t.lang.as_deref(), Some("en"));

    let r = item(&recs[1]);
    assert_eq!(r.kind, ItemKind::Reply);
    assert_eq!(r.parent_id.as_deref(), Some("1050118000000000000"));
    assert_eq!(r.text, "@bob_dev 谢谢！これは日本語です 😊");
    assert_eq!(r.created_at, "2018-10-10T18:00:00.000Z");
    assert_eq!(r.lang.as_deref(), Some("zh"));

    assert_eq!(error(&recs[2]), "missing field `tweet.id_str`");
    assert_eq!(
        error(&recs[3]),
        "tweet.created_at: not a date: \"sometime in 2018\""
    );
    let rt = item(&recs[4]);
    assert_eq!(rt.text, "RT @alice: 안녕하세요 world");
    assert_eq!(rt.mentions, strs(&["alice"]));
    assert_eq!(rt.kind, ItemKind::Post);
}

#[test]
fn twitter_archive_without_account_or_assignment() {
    let input = br#"[{"tweet":{"id_str":"1","full_text":"hi #x","created_at":"Wed Oct 10 20:19:24 +0000 2018"}}]"#;
    let recs = read_all(&input[..], &"twitter-archive".parse().unwrap()).unwrap();
    let t = item(&recs[0]);
    assert_eq!(t.author.id, "");
    assert_eq!(t.hashtags, strs(&["x"]));
    assert_eq!(t.url.as_deref(), Some("https://x.com/i/web/status/1"));
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

#[test]
fn csv_with_mapping_quotes_and_newlines() {
    let mapping = CsvMapping::parse(
        "text=body,external_id=review_id,created_at=posted,author_handle=user,author_name=name,likes=stars_helpful,network=net,parent_id=parent,lang=language",
        Some(Network::Reviews),
    )
    .unwrap();
    let recs = records("reviews.csv", &Format::csv(mapping.clone()));
    assert_eq!(
        recs.iter().map(|r| r.number).collect::<Vec<_>>(),
        [2, 3, 5, 6, 7]
    );

    let a = item(&recs[0]);
    assert_eq!(a.network, Network::Reviews);
    assert_eq!(a.external_id, "r-1");
    assert_eq!(a.kind, ItemKind::Post);
    assert_eq!(a.author.handle, "jane");
    assert_eq!(a.author.id, "jane");
    assert_eq!(a.author.display_name, "Jane Doe");
    assert_eq!(a.created_at, "2024-10-01T08:30:00.000Z");
    assert_eq!(a.hashtags, strs(&["rust"]));
    assert_eq!(a.mentions, strs(&["support"]));
    assert_eq!(a.urls, strs(&["https://example.com/review?page=1"]));
    assert_eq!(a.metrics.likes, 12);
    assert_eq!(a.lang.as_deref(), Some("en"));
    assert_eq!(a.raw.as_ref().unwrap()["review_id"], "r-1");

    let b = item(&recs[1]);
    assert_eq!(b.text, "첫 줄\n두 번째 줄, \"인용\" 포함 #리뷰");
    assert_eq!(b.hashtags, strs(&["리뷰"]));
    assert_eq!(b.author.display_name, "김철수");
    assert_eq!(b.parent_id.as_deref(), Some("r-1"));
    assert_eq!(b.created_at, "2024-10-02T08:00:00.000Z");

    assert_eq!(error(&recs[2]), "created_at: not a date: \"yesterday\"");
    assert_eq!(error(&recs[3]), "external_id: empty");

    let e = item(&recs[4]);
    assert_eq!(e.text, "最後の行 🎌");
    assert_eq!(
        e.network,
        Network::Reviews,
        "empty network cell: fixed network"
    );

    // The same file with a byte order mark and CRLF line ends reads the same.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reviews.csv"),
    )
    .unwrap();
    let bom_crlf = format!("\u{FEFF}{}", text.replace('\n', "\r\n"));
    let again = read_all(bom_crlf.as_bytes(), &Format::csv(mapping)).unwrap();
    assert_eq!(again.len(), recs.len());
    for (x, y) in again.iter().zip(&recs) {
        assert_eq!(x.number, y.number);
        assert_eq!(x.error().is_some(), y.error().is_some());
        if let (Some(a), Some(b)) = (x.item(), y.item()) {
            assert_eq!(a.text.replace("\r\n", "\n"), b.text);
            assert_eq!(a.external_id, b.external_id);
        }
    }
}

#[test]
fn csv_header_errors() {
    let mapping = CsvMapping::parse(
        "text=body,external_id=id,created_at=when",
        Some(Network::Web),
    )
    .unwrap();
    let err = read_all(
        &b"id,body,date\n1,x,2024-01-01\n"[..],
        &Format::csv(mapping),
    )
    .unwrap_err();
    match err {
        ReadError::CsvHeader(m) => {
            assert!(m.contains("column `when` (for created_at)"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        "csv".parse::<Format>(),
        Err(switchboard_ingest::FormatError::CsvNeedsMapping)
    ));
}

// ---------------------------------------------------------------------------------------------
// Switchboard NDJSON
// ---------------------------------------------------------------------------------------------

#[test]
fn switchboard_ndjson() {
    let recs = records("switchboard.ndjson", &Format::Switchboard);
    assert_eq!(
        recs.iter().map(|r| r.number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 8]
    );
    let a = item(&recs[0]);
    assert_eq!(a.network, Network::Bluesky);
    assert_eq!(a.author.handle, "hana.bsky.social");
    assert_eq!(a.author.display_name, "하나");
    assert_eq!(a.text, "오늘 날씨 좋다 ☀️ 今日はいい天気 #Weather");
    assert_eq!(a.hashtags, strs(&["weather"]));
    assert_eq!(a.urls, strs(&["https://ex.com/?a=1"]));
    assert_eq!(a.created_at, "2024-05-01T00:00:00.000Z");
    assert_eq!(a.metrics.likes, 3);

    assert!(
        error(&recs[1]).starts_with("invalid JSON: EOF while parsing"),
        "{:?}",
        recs[1]
    );
    assert!(
        error(&recs[2]).starts_with("missing field `external_id`"),
        "{:?}",
        recs[2]
    );
    assert_eq!(error(&recs[3]), "created_at: not a date: \"yesterday\"");
    assert!(
        error(&recs[4]).starts_with("unknown field `colour`"),
        "{:?}",
        recs[4]
    );
    assert!(error(&recs[5]).contains("myspace"), "{:?}", recs[5]);

    let last = item(&recs[6]);
    assert_eq!(last.kind, ItemKind::Reply);
    assert_eq!(last.parent_id.as_deref(), Some("76"));
    assert_eq!(last.author.handle, "");
    assert_eq!(last.metrics.likes, 0);

    // A line round-trips through serde.
    let line = serde_json::to_string(a).unwrap();
    assert_eq!(&parse_switchboard_line(&line).unwrap(), a);
}

// ---------------------------------------------------------------------------------------------
// Whole-input errors, early stop
// ---------------------------------------------------------------------------------------------

#[test]
fn top_level_errors_and_early_stop() {
    let err = read_all(&b"<html>"[..], &Format::ActivityPubOutbox).unwrap_err();
    assert!(matches!(err, ReadError::Json(_)), "{err:?}");
    let err = read_all(
        &b"{\"type\":\"OrderedCollection\"}"[..],
        &Format::ActivityPubOutbox,
    )
    .unwrap_err();
    assert!(err.to_string().contains("orderedItems"), "{err}");
    let err = read_all(&b"[{\"id\":\"1\"}, {oops"[..], &Format::Mastodon).unwrap_err();
    assert!(matches!(err, ReadError::Json(_)), "{err:?}");
    assert!(matches!(
        read_all(
            &b"hello"[..],
            &Format::twitter_archive(TwitterAccount::default())
        ),
        Err(ReadError::Json(_))
    ));
    assert_eq!(read_all(&b""[..], &Format::Mastodon).unwrap().len(), 0);
    assert_eq!(
        read_all(&b"  \n"[..], &Format::Switchboard).unwrap().len(),
        0
    );

    // Break after the first record, in an array and in NDJSON.
    for (name, format) in [
        ("mastodon_statuses.json", Format::Mastodon),
        ("mastodon_notifications.ndjson", Format::Mastodon),
        ("outbox.json", Format::ActivityPubOutbox),
    ] {
        let mut calls = 0;
        let n = read(fixture(name), &format, |_| {
            calls += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!((n, calls), (1, 1), "{name}");
    }
}

#[test]
fn format_names() {
    for name in Format::NAMES.iter().filter(|n| **n != "csv") {
        let f: Format = name.parse().unwrap();
        assert_eq!(f.name(), *name);
        assert_eq!(f.to_string(), *name);
    }
    assert!("myspace".parse::<Format>().is_err());
}

// ---------------------------------------------------------------------------------------------
// Input shapes: webhook envelopes, pretty-printed documents, BOM/CRLF, I/O errors
// ---------------------------------------------------------------------------------------------

#[test]
fn mastodon_webhook_envelope_and_pretty_printed_status() {
    let body = r#"{"event":"status.created","created_at":"2024-11-05T10:00:00.000Z","object":{"id":"42","created_at":"2024-11-05T10:00:00.000Z","content":"<p>webhook 🎉</p>","account":{"id":"9","acct":"zed","url":"https://host.example/@zed"},"visibility":"public"}}"#;
    let recs = read_all(body.as_bytes(), &Format::Mastodon).unwrap();
    let hook = item(&recs[0]);
    assert_eq!(hook.external_id, "42");
    assert_eq!(hook.text, "webhook 🎉");
    assert_eq!(hook.author.handle, "zed@host.example");
    assert_eq!(hook.raw.as_ref().unwrap()["event"], "status.created");

    let other = br#"{"event":"account.created","created_at":"2024-11-05T10:00:00.000Z","object":{"id":"1"}}"#;
    assert!(read_all(&other[..], &Format::Mastodon).unwrap()[0].is_skipped());
    let broken = br#"{"event":"status.created","object":{"id":"1"}}"#;
    assert_eq!(
        error(&read_all(&broken[..], &Format::Mastodon).unwrap()[0]),
        "missing field `object.created_at`"
    );

    // One status, pretty-printed over many lines: one record, not one error per line.
    let pretty = "{\n  \"id\": \"7\",\n  \"created_at\": \"2024-11-05T10:00:00Z\",\n  \"content\": \"<p>pretty</p>\",\n  \"account\": {\"id\": \"1\", \"acct\": \"a@b.example\"}\n}\n";
    let recs = read_all(pretty.as_bytes(), &Format::Mastodon).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(item(&recs[0]).text, "pretty");
}

#[test]
fn ndjson_with_bom_and_crlf() {
    let bom = "\u{FEFF}";
    let switchboard = format!(
        "{bom}{}\r\n\r\n{}\r\n",
        r#"{"network":"web","external_id":"1","kind":"post","author":{"id":"a"},"text":"x","created_at":"2024-01-01T00:00:00Z"}"#,
        r#"{"network":"web","external_id":"2","kind":"comment","author":{"id":"a"},"text":"y","created_at":"2024-01-01"}"#
    );
    let mastodon = format!(
        "{bom}{}\r\n\r\n{}\r\n",
        r#"{"id":"1","created_at":"2024-01-01T00:00:00Z","content":"<p>x</p>","account":{"id":"a"}}"#,
        r#"{"id":"2","created_at":"2024-01-01","content":"<p>y</p>","account":{"id":"a"},"in_reply_to_id":"1"}"#
    );
    for (format, input, kind) in [
        (Format::Switchboard, switchboard, ItemKind::Comment),
        (Format::Mastodon, mastodon, ItemKind::Reply),
    ] {
        let recs = read_all(input.as_bytes(), &format).unwrap();
        assert_eq!(recs.len(), 2, "{format}");
        assert_eq!(recs[1].number, 3);
        assert_eq!(item(&recs[0]).external_id, "1");
        assert_eq!(item(&recs[1]).kind, kind);
        assert_eq!(item(&recs[1]).created_at, "2024-01-01T00:00:00.000Z");
    }
}

/// Yields `data`, then fails.
struct FailingReader {
    data: std::io::Cursor<Vec<u8>>,
}

impl std::io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.read(buf)?;
        if n == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        Ok(n)
    }
}

#[test]
fn io_errors_fail_the_read_after_earlier_records() {
    let line = "{\"network\":\"web\",\"external_id\":\"1\",\"kind\":\"post\",\"author\":{\"id\":\"a\"},\"text\":\"x\",\"created_at\":\"2024-01-01T00:00:00Z\"}\n";
    for (format, input) in [
        (Format::Switchboard, line.repeat(100)),
        (
            Format::Mastodon,
            format!(
                "[{}",
                "{\"id\":\"1\",\"created_at\":\"2024-01-01T00:00:00Z\",\"content\":\"\",\"account\":{\"id\":\"1\"}},"
                    .repeat(100)
            ),
        ),
    ] {
        let reader = std::io::BufReader::new(FailingReader {
            data: std::io::Cursor::new(input.into_bytes()),
        });
        let mut seen = 0;
        let err = read(reader, &format, |r| {
            assert!(r.item().is_some());
            seen += 1;
            ControlFlow::Continue(())
        })
        .unwrap_err();
        assert!(matches!(err, ReadError::Io(_)), "{format}: {err:?}");
        assert!(err.to_string().contains("disk on fire"));
        assert_eq!(seen, 100, "{format}: every record before the failure");
    }
}

#[test]
fn csv_and_switchboard_stop_early() {
    let mapping = CsvMapping::parse(
        "text=body,external_id=review_id,created_at=posted",
        Some(Network::Reviews),
    )
    .unwrap();
    let n = read(fixture("reviews.csv"), &Format::csv(mapping), |_| {
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(n, 1);
    let n = read(fixture("switchboard.ndjson"), &Format::Switchboard, |_| {
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn bluesky_facets_with_ranges_that_do_not_fit_the_text() {
    // "日本 @a.test": the mention starts at byte 7. A range that splits a character or runs
    // past the end falls back to the facet's DID; links and tags do not depend on ranges.
    let post = serde_json::json!({
        "uri": "at://did:plc:x/app.bsky.feed.post/r1",
        "author": {"did": "did:plc:x", "handle": "x.test"},
        "record": {
            "text": "日本 @a.test",
            "createdAt": "2024-01-01T00:00:00Z",
            "facets": [
                {"index": {"byteStart": 7, "byteEnd": 14},
                 "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:a"}]},
                {"index": {"byteStart": 1, "byteEnd": 4},
                 "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:b"}]},
                {"index": {"byteStart": 7, "byteEnd": 99},
                 "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Tag"}]}
            ]
        }
    });
    let item = parse_record(&Format::Bluesky, post).unwrap().unwrap();
    assert_eq!(item.mentions, strs(&["a.test", "did:plc:b"]));
    assert_eq!(item.hashtags, strs(&["tag"]));
    assert_eq!(
        item.url.as_deref(),
        Some("https://bsky.app/profile/x.test/post/r1")
    );
}
