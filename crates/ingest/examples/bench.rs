//! Throughput of the Mastodon reader on generated NDJSON (and the same records as one JSON
//! array): `cargo run --release -p switchboard-ingest --example ingest-bench [RECORDS [ndjson]]`.

use std::ops::ControlFlow;
use std::time::Instant;

use switchboard_ingest::{read_slice, Format};

fn status(i: u64) -> String {
    format!(
        r#"{{"id":"{i}","created_at":"2024-11-01T09:15:30.123Z","in_reply_to_id":{parent},"in_reply_to_account_id":null,"sensitive":false,"spoiler_text":"","visibility":"public","language":"en","uri":"https://mastodon.example/users/user{a}/statuses/{i}","url":"https://mastodon.example/@user{a}/{i}","replies_count":{r},"reblogs_count":{s},"favourites_count":{l},"edited_at":null,"content":"<p>Status number {i} about <a href=\"https://mastodon.example/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>rust</span></a> and 한국어 텍스트 🎉, hello <span class=\"h-card\"><a href=\"https://other.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span>!</p><p>Read more: <a href=\"https://example.com/articles/{i}?utm_source=mastodon&amp;utm_medium=social&amp;page=2\" rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/articles/{i}</span><span class=\"invisible\">?utm_source=mastodon&amp;page=2</span></a></p>","reblog":null,"application":{{"name":"Web","website":null}},"account":{{"id":"{a}","username":"user{a}","acct":"user{a}","display_name":"User {a} 🌸","locked":false,"bot":false,"created_at":"2022-01-01T00:00:00.000Z","note":"","url":"https://mastodon.example/@user{a}","followers_count":{f},"following_count":10,"statuses_count":100}},"media_attachments":[],"mentions":[{{"id":"77","username":"bob","url":"https://other.example/@bob","acct":"bob@other.example"}}],"tags":[{{"name":"rust","url":"https://mastodon.example/tags/rust"}}],"emojis":[],"card":null,"poll":null}}"#,
        parent = match i % 3 {
            0 => format!("\"{}\"", i / 2),
            _ => "null".into(),
        },
        a = i % 5000,
        r = i % 7,
        s = i % 11,
        l = i % 13,
        f = i % 10_000,
    )
}

fn measure(label: &str, data: &[u8], format: &Format) {
    let start = Instant::now();
    let mut items = 0u64;
    let n = read_slice(data, format, |r| {
        if r.item().is_some() {
            items += 1;
        }
        ControlFlow::Continue(())
    })
    .expect("read");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(items, n);
    println!(
        "{label}: {n} records, {:.1} MB in {secs:.2} s: {:.0} records/s, {:.1} MB/s",
        data.len() as f64 / 1e6,
        n as f64 / secs,
        data.len() as f64 / 1e6 / secs
    );
}

fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("RECORDS must be a number"))
        .unwrap_or(200_000);
    let mut ndjson = Vec::new();
    let mut array = vec![b'['];
    for i in 0..count {
        let s = status(i);
        ndjson.extend_from_slice(s.as_bytes());
        ndjson.push(b'\n');
        if i > 0 {
            array.push(b',');
        }
        array.extend_from_slice(s.as_bytes());
    }
    array.push(b']');
    // Baseline: only parsing each line into a serde_json::Value (what `raw` needs anyway).
    let start = Instant::now();
    let mut values = 0u64;
    for line in ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("json");
        values += u64::from(v.is_object());
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "baseline (serde_json::Value per line only): {:.0} records/s, {:.1} MB/s",
        values as f64 / secs,
        ndjson.len() as f64 / 1e6 / secs
    );
    measure("mastodon ndjson", &ndjson, &Format::Mastodon);
    if std::env::args().nth(2).as_deref() != Some("ndjson") {
        measure("mastodon array ", &array, &Format::Mastodon);
    }
}
