//! Analyses each line of standard input (optionally `lang<TAB>text`) and prints JSON.
//!
//! `echo "Love it 😍" | cargo run -p switchboard-enrich --example analyze`

use std::io::BufRead;
use switchboard_enrich::Enricher;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let e = Enricher::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let (declared, text) = match line.split_once('\t') {
            Some((l, t)) if l.len() == 2 => (Some(l), t),
            _ => (None, line.as_str()),
        };
        println!(
            "{}\t{}",
            serde_json::to_string(&e.analyze(text, declared))?,
            text
        );
    }
    Ok(())
}
