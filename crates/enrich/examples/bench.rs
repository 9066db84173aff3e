//! Throughput of `Enricher::analyze` on one core over a generated multilingual set of
//! tweet-length texts.
//!
//! `cargo run --release -p switchboard-enrich --example bench [-- N]`

use std::hint::black_box;
use std::time::Instant;
use switchboard_enrich::Enricher;

const STEMS: &[&str] = &[
    "Love the new update, great job 😍",
    "Where can I buy the Pro plan? Is there a discount?",
    "The app crashes every time I open the camera, please fix this asap @acme",
    "Are you hiring backend engineers in Berlin? https://example.com/jobs",
    "Die App stürzt seit dem Update 4.2 ständig ab, Login geht nicht",
    "Danke für die schnelle Hilfe, echt top! Würde ich jederzeit wieder kaufen",
    "Es wäre toll, wenn ihr einen Dunkelmodus einbauen könntet #feature",
    "배송이 너무 늦어요 환불해 주세요",
    "이번 업데이트 정말 좋아요 👍 다크 모드도 추가해 주세요",
    "这个质量太差了，等了两周还没到货，我要退款",
    "客服态度很好，谢谢！希望增加夜间模式",
    "Merci beaucoup, c'est vraiment génial ! Où acheter la version Pro ?",
    "¿Dónde puedo comprar el plan anual? Me encanta la app",
    "アプリがすぐ落ちる、エラーばかり 😡",
    "not good at all, worst customer service ever 😭 still waiting for my refund",
    "Just landed in Tokyo, meeting moved to 3pm tomorrow",
];
const SUFFIXES: &[&str] = &[
    "",
    " lol",
    " !!",
    " 🙏",
    " #monday",
    " @support",
    " 2024",
    " ...",
];

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    // Vary the texts so nothing is served from a warm branch-predictor loop over one string.
    let texts: Vec<String> = (0..4096)
        .map(|i| {
            format!(
                "{}{}{}",
                STEMS[i % STEMS.len()],
                SUFFIXES[(i / STEMS.len()) % SUFFIXES.len()],
                if i % 3 == 0 { " " } else { "" }
            )
        })
        .collect();
    let start = Instant::now();
    let e = Enricher::new();
    let _ = e.analyze("warm up", None);
    println!(
        "Enricher::new + first analyze: {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    run(&e, "short posts", &texts, n);
    // Long posts (three stems joined, ~160 chars): the upper end of a tweet.
    let long: Vec<String> = (0..texts.len())
        .map(|i| {
            format!(
                "{} {} {}",
                texts[i],
                STEMS[(i + 5) % STEMS.len()],
                STEMS[(i + 11) % STEMS.len()]
            )
        })
        .collect();
    run(&e, "long posts", &long, n / 2);
    if std::env::var_os("BENCH_PARTS").is_some() {
        let t = Instant::now();
        for i in 0..n / 2 {
            black_box(switchboard_enrich::detect_language(black_box(
                &long[i % long.len()],
            )));
        }
        println!(
            "  language only: {:.2} µs/text",
            t.elapsed().as_secs_f64() * 1e6 / (n / 2) as f64
        );
        let t = Instant::now();
        for i in 0..n / 2 {
            black_box(e.sentiment_with(
                black_box(&long[i % long.len()]),
                Some("en"),
                switchboard_enrich::SentimentMethod::Shipped,
            ));
        }
        println!(
            "  sentiment only: {:.2} µs/text",
            t.elapsed().as_secs_f64() * 1e6 / (n / 2) as f64
        );
    }
}

fn run(e: &Enricher, name: &str, texts: &[String], n: usize) {
    let avg_len =
        texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / texts.len() as f64;
    let start = Instant::now();
    let mut intents = 0usize;
    for i in 0..n {
        let a = e.analyze(black_box(&texts[i % texts.len()]), None);
        intents += a.intents.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {n} texts (avg {avg_len:.0} chars) in {secs:.3} s on one thread: {:.0} texts/s, {:.2} µs/text ({intents} intents)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}
