//! Trains the embedded sentiment model.
//!
//! Needs the training sets written by `python3 tools/quality/prepare.py` under
//! `tools/quality/out/train/`; writes `crates/enrich/data/model/sentiment.bin`. Rebuild
//! afterwards so the new weights get embedded, then run the `evaluate` example.
//!
//! `cargo run --release -p switchboard-enrich --example train [-- BITS EPOCHS LR L2 [dev]]`
//!
//! Every 10th training example is first held back as a dev split: a model trained on the rest
//! picks, per language, how much the n-gram part may move the calibrated rule score (`alpha`).
//! The final model is then trained on all training examples with those alphas. `data/eval/` is
//! never read here. With `dev`, it stops after printing the dev figures.

use std::path::PathBuf;
use switchboard_enrich::training::{parse_labelled, Trainer};
use switchboard_enrich::SentimentLabel;

/// (file, language, weight). The hand-written German and Korean sets are tiny next to the
/// English and Chinese corpora; repeating them keeps their per-language weights from being
/// drowned out. The review/editorial snippets are a different register from posts.
const CORPORA: &[(&str, &str, f32)] = &[
    ("en", "en", 1.0),
    ("en_snippets", "en", 0.1),
    ("zh", "zh", 1.0),
    ("zh_posts", "zh", 10.0),
    ("de", "de", 4.0),
    ("ko", "ko", 4.0),
];
const ALPHA_GRID: &[f32] = &[0.0, 0.25, 0.5, 0.75, 1.0];

type Rows = Vec<(SentimentLabel, String)>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let train_dir = crate_dir.join("../../tools/quality/out/train");
    let args: Vec<String> = std::env::args().collect();
    let bits: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(18);
    let epochs: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let lr: f32 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0.02);
    let l2: f32 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1e-6);
    let dev_only = args.get(5).is_some_and(|s| s == "dev");

    let mut corpora: Vec<(&str, &str, f32, Rows)> = Vec::new();
    // Lets the snippet weight be varied on the dev split without editing the file.
    let snippet_weight: Option<f32> = std::env::var("SNIPPET_WEIGHT")
        .ok()
        .and_then(|v| v.parse().ok());
    for &(file, lang, weight) in CORPORA {
        let weight = if file == "en_snippets" {
            snippet_weight.unwrap_or(weight)
        } else {
            weight
        };
        let path = train_dir.join(format!("sentiment_{file}.tsv"));
        let src = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let rows = parse_labelled(&src);
        println!("{file}: {} training examples", rows.len());
        corpora.push((file, lang, weight, rows));
    }

    let mut dev_trainer = Trainer::new(bits);
    for (_, lang, weight, rows) in &corpora {
        for (i, (label, text)) in rows.iter().enumerate() {
            if i % 10 != 3 {
                dev_trainer.add(text, lang, *label, *weight);
            }
        }
    }
    let dev_model = dev_trainer.train(epochs, lr, l2, &[]);
    let mut alphas: Vec<([u8; 2], f32)> = Vec::new();
    for (file, lang, _, rows) in &corpora {
        // Snippets are not posts; the English alpha is tuned on held-back tweets only.
        if *file == "en_snippets" || *file == "zh_posts" {
            continue;
        }
        let dev: Rows = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 == 3)
            .map(|(_, r)| r.clone())
            .collect();
        let e = switchboard_enrich::Enricher::new();
        let rules = switchboard_enrich::training::sentiment_scores(
            &e,
            lang,
            &dev,
            switchboard_enrich::SentimentMethod::Rules,
        );
        println!(
            "dev {file} n={} rules-only accuracy={:.3}",
            dev.len(),
            rules.accuracy
        );
        let mut best = (f64::MIN, 0.0f32);
        for &a in ALPHA_GRID {
            let acc = dev_trainer.accuracy(&dev_model, lang, &dev, a);
            println!("dev {file} n={} alpha={a:.2} accuracy={acc:.3}", dev.len());
            // Strictly better only: on ties the smaller alpha, i.e. the simpler model, wins.
            if acc > best.0 + 1e-9 {
                best = (acc, a);
            }
        }
        println!("=> {lang}: alpha {:.2}", best.1);
        let code: [u8; 2] = lang.as_bytes().try_into()?;
        alphas.push((code, best.1));
    }
    if dev_only {
        // The Chinese neutral gate is chosen on project-written dev posts with the embedded
        // (last written) model; see `neutral_gate` in src/lib.rs.
        let dev_posts = crate_dir.join("../../tools/quality/handmade/dev_zh_posts.tsv");
        let rows = parse_labelled(&std::fs::read_to_string(&dev_posts)?);
        let e = switchboard_enrich::Enricher::new();
        for gate in [0u8, 30, 50, 70, 90] {
            let s = switchboard_enrich::training::sentiment_scores(
                &e,
                "zh",
                &rows,
                switchboard_enrich::SentimentMethod::ShippedWithGate(gate),
            );
            println!(
                "dev zh posts gate={:.2}: accuracy={:.3} macro-F1={:.3}",
                f32::from(gate) / 100.0,
                s.accuracy,
                s.macro_f1
            );
        }
        return Ok(());
    }

    let mut t = Trainer::new(bits);
    for (_, lang, weight, rows) in &corpora {
        for (label, text) in rows {
            t.add(text, lang, *label, *weight);
        }
    }
    let bytes = t.train(epochs, lr, l2, &alphas);
    let out = crate_dir.join("data/model/sentiment.bin");
    std::fs::write(&out, &bytes)?;
    println!(
        "wrote {} ({} bytes, 2^{bits} buckets, {epochs} epochs)",
        out.display(),
        bytes.len()
    );
    Ok(())
}
