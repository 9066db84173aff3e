//! Prints the figures of docs/quality.md from the committed eval sets under
//! `crates/enrich/data/eval/`.
//!
//! `cargo run --release -p switchboard-enrich --example evaluate`

use switchboard_enrich::training::{
    intent_scores, lang_scores, parse_labelled, sentiment_scores, EVAL_INTENTS, EVAL_INTENTS_BLIND,
    EVAL_LANG, EVAL_LANG_BLIND, EVAL_SENTIMENT, EVAL_SENTIMENT_EXTRA,
};
use switchboard_enrich::{Enricher, SentimentMethod};

fn main() {
    let e = Enricher::new();
    println!("## Sentiment (held-out)\n");
    println!("| lang | n | baseline acc | baseline macro-F1 | rules acc | rules macro-F1 | shipped acc | shipped macro-F1 |");
    println!("|---|---|---|---|---|---|---|---|");
    for (lang, src) in EVAL_SENTIMENT {
        let rows = parse_labelled(src);
        let b = sentiment_scores(&e, lang, &rows, SentimentMethod::LexiconBaseline);
        let r = sentiment_scores(&e, lang, &rows, SentimentMethod::Rules);
        let s = sentiment_scores(&e, lang, &rows, SentimentMethod::Shipped);
        println!(
            "| {lang} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.n, b.accuracy, b.macro_f1, r.accuracy, r.macro_f1, s.accuracy, s.macro_f1
        );
    }
    for (lang, name, src) in EVAL_SENTIMENT_EXTRA {
        let rows = parse_labelled(src);
        let b = sentiment_scores(&e, lang, &rows, SentimentMethod::LexiconBaseline);
        let r = sentiment_scores(&e, lang, &rows, SentimentMethod::Rules);
        let s = sentiment_scores(&e, lang, &rows, SentimentMethod::Shipped);
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.n, b.accuracy, b.macro_f1, r.accuracy, r.macro_f1, s.accuracy, s.macro_f1
        );
    }
    let intent_sets = [
        (
            "tuning set: the rules were written with it in view",
            EVAL_INTENTS,
        ),
        (
            "blind set: written after the rules were frozen",
            EVAL_INTENTS_BLIND,
        ),
    ];
    for (name, src) in intent_sets {
        println!("\n## Intents ({name})\n");
        println!("| intent | support | precision | recall |");
        println!("|---|---|---|---|");
        for (intent, pr) in intent_scores(&e, src) {
            println!(
                "| {intent} | {} | {:.3} | {:.3} |",
                pr.support,
                pr.precision(),
                pr.recall()
            );
        }
    }
    let lang_sets = [
        (
            "tuning set: function-word lists were extended with it in view",
            EVAL_LANG,
        ),
        ("blind set", EVAL_LANG_BLIND),
    ];
    for (name, src) in lang_sets {
        println!("\n## Language detection, no declared language ({name})\n");
        println!("| lang | n | accuracy |");
        println!("|---|---|---|");
        let (mut ok, mut all) = (0, 0);
        for (lang, correct, total) in lang_scores(src) {
            println!(
                "| {lang} | {total} | {:.3} |",
                correct as f64 / total as f64
            );
            ok += correct;
            all += total;
        }
        println!("| all | {all} | {:.3} |", ok as f64 / all.max(1) as f64);
    }
}
