//! The correctness corpus: every operator and field, in English, German, Korean and Chinese,
//! with the exact hits expected. Each query runs through the tantivy index and through the
//! in-memory matcher; both must return exactly the expected items.

use std::collections::BTreeSet;
use switchboard_search::matcher::Prepared;
use switchboard_search::{parse, IndexDoc, SearchIndex, Watermark};

const WS: &str = "ws-1";
const OTHER_WS: &str = "ws-2";

#[allow(clippy::too_many_arguments)]
fn doc(
    id: &str,
    lang: &str,
    network: &str,
    kind: &str,
    sentiment: &str,
    intents: &[&str],
    author: (&str, &str, i64),
    created: &str,
    text: &str,
    hashtags: &[&str],
    mentions: &[&str],
) -> IndexDoc {
    let mut author_keys = switchboard_search::document::handle_keys(author.0);
    author_keys.push(switchboard_search::tokenize::fold(author.1));
    IndexDoc {
        id: id.into(),
        workspace_id: WS.into(),
        network: network.into(),
        kind: kind.into(),
        lang: lang.into(),
        sentiment: sentiment.into(),
        text: text.into(),
        hashtags: hashtags
            .iter()
            .map(|h| switchboard_search::tokenize::keyword(h))
            .collect(),
        mentions: mentions
            .iter()
            .flat_map(|m| switchboard_search::document::handle_keys(m))
            .collect(),
        author_keys,
        author: author.0.into(),
        followers: author.2,
        intents: intents.iter().map(|s| s.to_string()).collect(),
        tags: vec![],
        ts: switchboard_search::document::parse_ts(created).expect("time"),
    }
}

fn corpus() -> Vec<IndexDoc> {
    vec![
        doc(
            "en1",
            "en",
            "mastodon",
            "mention",
            "negative",
            &["complaint"],
            ("anna@mastodon.social", "Anna Smith", 1200),
            "2026-01-05T10:00:00Z",
            "The new app keeps crashing at login, terrible update",
            &["AcmeApp"],
            &["acme@mastodon.social"],
        ),
        doc(
            "en2",
            "en",
            "bluesky",
            "post",
            "positive",
            &[],
            ("bob.bsky.social", "Bob", 90),
            "2026-01-10T12:00:00Z",
            "Loving the Acme delivery service, fast and friendly",
            &["acme"],
            &[],
        ),
        doc(
            "en3",
            "en",
            "mastodon",
            "reply",
            "negative",
            &["complaint", "refund"],
            ("carol@hachyderm.io", "Carol Jones", 50),
            "2026-01-20T08:30:00Z",
            "Still waiting for my refund, the delivery was very late",
            &[],
            &["acme"],
        ),
        doc(
            "en4",
            "en",
            "mastodon",
            "direct_message",
            "neutral",
            &["purchase_intent"],
            ("dan@mastodon.social", "Dan", 10),
            "2026-02-01T09:00:00Z",
            "How much does the Pro plan cost for a team of ten?",
            &[],
            &["acme"],
        ),
        doc(
            "en5",
            "en",
            "bluesky",
            "post",
            "neutral",
            &["recruiting"],
            ("erin.bsky.social", "Erin", 3000),
            "2026-02-03T15:00:00Z",
            "Are you hiring engineers in Berlin? Café meetups welcome",
            &["jobs"],
            &[],
        ),
        doc(
            "en6",
            "en",
            "mastodon",
            "post",
            "negative",
            &["bug_report"],
            ("frank@mastodon.social", "Frank", 5),
            "2026-02-04T11:00:00Z",
            "Login fails again. The app crashes, login screen frozen",
            &["AcmeApp"],
            &[],
        ),
        doc(
            "de1",
            "de",
            "mastodon",
            "mention",
            "negative",
            &["complaint"],
            ("gerd@chaos.social", "Gerd Müller", 700),
            "2026-01-06T10:00:00Z",
            "Die Lieferung kam zu spät und der Kundenservice antwortet nicht",
            &[],
            &["acme"],
        ),
        doc(
            "de2",
            "de",
            "mastodon",
            "post",
            "positive",
            &[],
            ("heike@chaos.social", "Heike", 40),
            "2026-01-07T10:00:00Z",
            "Super Qualität, schnelle Lieferung! Größe passt perfekt",
            &["Qualität"],
            &[],
        ),
        doc(
            "de3",
            "de",
            "bluesky",
            "post",
            "negative",
            &["bug_report"],
            ("ingo.bsky.social", "Ingo", 15),
            "2026-01-08T10:00:00Z",
            "Die App stürzt beim Login ab, seit dem Update nur Absturz",
            &["AcmeApp"],
            &[],
        ),
        doc(
            "de4",
            "de",
            "mastodon",
            "reply",
            "neutral",
            &[],
            ("jana@chaos.social", "Jana", 8),
            "2026-01-09T10:00:00Z",
            "Wo kann ich die Rücksendung für meine Bestellung starten?",
            &[],
            &[],
        ),
        doc(
            "ko1",
            "ko",
            "mastodon",
            "mention",
            "negative",
            &["complaint"],
            ("minji@mastodon.social", "민지", 300),
            "2026-01-11T10:00:00Z",
            "배송이 너무 늦어요 환불해 주세요",
            &[],
            &["acme"],
        ),
        doc(
            "ko2",
            "ko",
            "bluesky",
            "post",
            "positive",
            &[],
            ("sora.bsky.social", "소라", 20),
            "2026-01-12T10:00:00Z",
            "품질이 정말 좋아요 배송도 빨라요",
            &["추천"],
            &[],
        ),
        doc(
            "ko3",
            "ko",
            "mastodon",
            "post",
            "negative",
            &["bug_report"],
            ("jun@mastodon.social", "준", 5),
            "2026-01-13T10:00:00Z",
            "앱이 로그인할 때 계속 멈춰요",
            &[],
            &[],
        ),
        doc(
            "zh1",
            "zh",
            "mastodon",
            "post",
            "negative",
            &["complaint"],
            ("li@mastodon.social", "李", 100),
            "2026-01-14T10:00:00Z",
            "这个质量太差了，我要退货",
            &[],
            &[],
        ),
        doc(
            "zh2",
            "zh",
            "bluesky",
            "post",
            "positive",
            &[],
            ("wang.bsky.social", "王", 25),
            "2026-01-15T10:00:00Z",
            "质量很好，物流也很快",
            &["好评"],
            &[],
        ),
        doc(
            "zh3",
            "zh",
            "mastodon",
            "reply",
            "neutral",
            &[],
            ("zhang@mastodon.social", "张", 7),
            "2026-01-16T10:00:00Z",
            "请问什么时候发货？",
            &[],
            &["acme"],
        ),
    ]
}

fn ids(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn setup() -> (SearchIndex, Vec<IndexDoc>) {
    let index = SearchIndex::in_memory().expect("index");
    assert!(index.try_writer(20_000_000).expect("writer"));
    let docs = corpus();
    index.upsert(&docs).expect("upsert");
    // The same text in another workspace must never show up.
    let mut foreign = docs[0].clone();
    foreign.id = "foreign".into();
    foreign.workspace_id = OTHER_WS.into();
    index.upsert(&[foreign]).expect("upsert");
    index.commit(&Watermark::default()).expect("commit");
    (index, docs)
}

#[test]
fn every_operator_and_field_finds_exactly_the_expected_items() {
    let (index, docs) = setup();
    let cases: &[(&str, &[&str])] = &[
        // words, case and accents
        ("crashing", &["en1"]),
        ("LOGIN", &["en1", "en6", "de3"]),
        ("cafe", &["en5"]),
        ("CAFÉ", &["en5"]),
        ("qualitat", &["de2"]),
        ("Größe", &["de2"]),
        ("grosse", &["de2"]),
        ("spat", &["de1"]),
        // implicit AND, explicit AND/OR/NOT, leading -
        ("app login", &["en1", "en6", "de3"]),
        ("app AND login AND update", &["en1", "de3"]),
        ("refund OR rücksendung", &["en3", "de4"]),
        ("login -crashing", &["en6", "de3"]),
        ("login NOT app", &[]),
        ("login AND NOT (update OR frozen)", &[]),
        ("(delivery OR lieferung) -late", &["en2", "de2", "de1"]),
        ("delivery OR lieferung AND spat", &["en2", "en3", "de1"]),
        // phrases
        ("\"delivery was very late\"", &["en3"]),
        ("\"very late delivery\"", &[]),
        ("\"login screen\"", &["en6"]),
        // NEAR and ordered NEAR
        ("app NEAR/3 login", &["en1", "en6", "de3"]),
        ("app NEAR/1 login", &["en6"]),
        ("login NEAR/2f app", &[]),
        ("login NEAR/3f app", &["en6"]),
        ("app NEAR/2f login", &["en6", "de3"]),
        ("\"new app\" NEAR/2 login", &[]),
        ("\"new app\" NEAR/3 login", &["en1"]),
        ("refund NEAR/0 delivery", &[]),
        ("refund NEAR/1 delivery", &["en3"]),
        // prefix
        ("crash*", &["en1", "en6"]),
        ("deliver*", &["en2", "en3"]),
        ("kunden*", &["de1"]),
        // hashtags and mentions
        ("#acmeapp", &["en1", "en6", "de3"]),
        ("#Qualitat", &["de2"]),
        ("@acme", &["en1", "en3", "en4", "de1", "ko1", "zh3"]),
        ("@acme@mastodon.social", &["en1"]),
        ("#추천", &["ko2"]),
        // fields
        ("lang:de", &["de1", "de2", "de3", "de4"]),
        ("network:bluesky lang:zh", &["zh2"]),
        ("sentiment:negative lang:ko", &["ko1", "ko3"]),
        ("intent:complaint", &["en1", "en3", "de1", "ko1", "zh1"]),
        ("intent:bug-report", &["en6", "de3", "ko3"]),
        ("kind:dm", &["en4"]),
        ("author:anna", &["en1"]),
        ("author:\"Gerd Müller\"", &["de1"]),
        ("author:bob.bsky.social", &["en2"]),
        // dates: since inclusive, until exclusive
        ("since:2026-02-01", &["en4", "en5", "en6"]),
        ("until:2026-01-06T10:00:00Z", &["en1"]),
        (
            "since:2026-01-06T10:00:00Z until:2026-01-08",
            &["de1", "de2"],
        ),
        (
            "lang:en since:2026-01-10 until:2026-02-02",
            &["en2", "en3", "en4"],
        ),
        // Korean and Chinese: two or more characters match inside longer words
        ("배송", &["ko1", "ko2"]),
        ("배송이", &["ko1"]),
        ("환불", &["ko1"]),
        ("로그인", &["ko3"]),
        ("质量", &["zh1", "zh2"]),
        ("质量太差", &["zh1"]),
        ("退货 OR 发货", &["zh1", "zh3"]),
        ("质量 -很好", &["zh1"]),
        ("\"物流也很快\"", &["zh2"]),
        ("배송 NEAR/2 늦어요", &["ko1"]),
        // everything
        (
            "",
            &[
                "en1", "en2", "en3", "en4", "en5", "en6", "de1", "de2", "de3", "de4", "ko1", "ko2",
                "ko3", "zh1", "zh2", "zh3",
            ],
        ),
    ];
    let prepared: Vec<Prepared> = docs.iter().map(Prepared::new).collect();
    let mut failures = Vec::new();
    for (q, expected) in cases {
        let parsed = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let page = index
            .search(&[WS.to_string()], &parsed, 100, None)
            .expect("search");
        let got: BTreeSet<String> = page.ids.into_iter().collect();
        let matched: BTreeSet<String> = docs
            .iter()
            .zip(prepared.iter())
            .filter(|(_, p)| p.matches(&parsed))
            .map(|(d, _)| d.id.clone())
            .collect();
        let want = ids(expected);
        if got != want {
            failures.push(format!("index   {q:?}: got {got:?}, want {want:?}"));
        }
        if matched != want {
            failures.push(format!("matcher {q:?}: got {matched:?}, want {want:?}"));
        }
        let count = index.count(&[WS.to_string()], &parsed).expect("count");
        if count as usize != want.len() {
            failures.push(format!("count   {q:?}: got {count}, want {}", want.len()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn results_are_newest_first_and_cursor_pages_cover_everything_once() {
    let (index, _) = setup();
    let all = parse("").expect("parse");
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .search(&[WS.to_string()], &all, 5, cursor)
            .expect("search");
        seen.extend(page.ids);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 16);
    assert_eq!(seen[0], "en6");
    assert_eq!(seen[15], "en1");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 16);
}

#[test]
fn an_updated_item_replaces_its_old_version() {
    let (index, docs) = setup();
    let mut changed = docs[0].clone();
    changed.text = "All fixed now, thanks".into();
    index.upsert(&[changed]).expect("upsert");
    index.commit(&Watermark::default()).expect("commit");
    let ws = [WS.to_string()];
    assert_eq!(index.count(&ws, &parse("crashing").unwrap()).unwrap(), 0);
    assert_eq!(index.count(&ws, &parse("fixed").unwrap()).unwrap(), 1);
    assert_eq!(index.count(&ws, &parse("").unwrap()).unwrap(), 16);
}

#[test]
fn stats_split_buckets_and_breakdowns() {
    let (index, _) = setup();
    let ws = [WS.to_string()];
    let req = switchboard_search::StatsRequest {
        granularity: 86_400 * 365,
        split: Some("sentiment"),
        breakdowns: vec!["lang", "network"],
        authors: 2,
    };
    let s = index.stats(&ws, &parse("").unwrap(), &req).unwrap();
    assert_eq!(s.total, 16);
    let all: u64 = s.histogram.values().flat_map(|m| m.values()).sum();
    assert_eq!(all, 16);
    let neg: u64 = s.histogram.values().filter_map(|m| m.get("negative")).sum();
    assert_eq!(neg, 8);
    assert_eq!(s.breakdowns["lang"][0], ("en".to_string(), 6));
    assert_eq!(s.authors[0].handle, "erin.bsky.social");
    assert_eq!(s.authors[1].handle, "anna@mastodon.social");
}
