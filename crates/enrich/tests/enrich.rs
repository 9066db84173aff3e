//! Behaviour the rest of Switchboard relies on: the spec's examples, negation, emoji, language
//! fallback, dictionaries, workspace intents, and that the shipped sentiment method keeps beating
//! the lexicon baseline on the committed held-out data.

use switchboard_enrich::training::{
    intent_scores, lang_scores, parse_labelled, sentiment_scores, EVAL_INTENTS, EVAL_LANG,
    EVAL_SENTIMENT,
};
use switchboard_enrich::{
    detect_language, Analysis, Dictionary, Enricher, Intent, SentimentLabel, SentimentMethod,
};

fn enricher() -> Enricher {
    Enricher::new()
}

fn has(a: &Analysis, intents: &[Intent]) -> bool {
    intents.iter().all(|i| a.intents.contains(i))
}

#[test]
fn spec_examples() {
    let e = enricher();
    let a = e.analyze(
        "Die App stürzt seit dem Update 4.2 ständig ab, Login geht nicht",
        None,
    );
    assert_eq!(a.lang.as_deref(), Some("de"));
    assert!(has(&a, &[Intent::Complaint, Intent::BugReport]), "{a:?}");
    assert_eq!(a.sentiment.label, SentimentLabel::Negative, "{a:?}");

    let a = e.analyze("배송이 너무 늦어요 환불해 주세요", None);
    assert_eq!(a.lang.as_deref(), Some("ko"));
    assert!(has(&a, &[Intent::Complaint]), "{a:?}");
    assert_eq!(a.sentiment.label, SentimentLabel::Negative, "{a:?}");

    let a = e.analyze("这个质量太差了", None);
    assert_eq!(a.lang.as_deref(), Some("zh"));
    assert!(has(&a, &[Intent::Complaint]), "{a:?}");
    assert_eq!(a.sentiment.label, SentimentLabel::Negative, "{a:?}");

    let a = e.analyze("Where can I buy the Pro plan? Is there a discount?", None);
    assert_eq!(a.lang.as_deref(), Some("en"));
    assert!(
        has(&a, &[Intent::Question, Intent::PurchaseIntent]),
        "{a:?}"
    );

    let a = e.analyze("Are you hiring backend engineers in Berlin?", None);
    assert!(has(&a, &[Intent::Question, Intent::Recruiting]), "{a:?}");

    let a = e.analyze("Would love a dark mode!", None);
    assert!(has(&a, &[Intent::FeatureRequest]), "{a:?}");
    assert!(!a.intents.contains(&Intent::Praise), "{a:?}");

    let a = e.analyze("Love the new update, great job 😍", None);
    assert!(has(&a, &[Intent::Praise]), "{a:?}");
    assert_eq!(a.sentiment.label, SentimentLabel::Positive, "{a:?}");
}

#[test]
fn negation_flips_polarity_in_each_language() {
    let e = enricher();
    for (pos, neg) in [
        ("This is good", "This is not good"),
        ("Das ist gut", "Das ist nicht gut"),
        ("Das gefällt mir", "Das gefällt mir nicht"),
        ("좋아요", "안 좋아요"),
        ("좋아요", "좋지 않아요"),
        ("很好", "不好"),
    ] {
        let p = e.analyze(pos, None).sentiment;
        let n = e.analyze(neg, None).sentiment;
        assert_eq!(p.label, SentimentLabel::Positive, "{pos}: {p:?}");
        assert_eq!(n.label, SentimentLabel::Negative, "{neg}: {n:?}");
    }
    // Negated negatives are not negative.
    for t in ["nicht schlecht", "나쁘지 않아요", "不错"] {
        assert_ne!(
            e.analyze(t, None).sentiment.label,
            SentimentLabel::Negative,
            "{t}"
        );
    }
}

#[test]
fn intensifiers_strengthen() {
    let e = enricher();
    let m = SentimentMethod::Rules;
    assert!(
        e.sentiment_with("very good", Some("en"), m).score
            > e.sentiment_with("good", Some("en"), m).score
    );
    assert!(
        e.sentiment_with("sehr gut", Some("de"), m).score
            > e.sentiment_with("gut", Some("de"), m).score
    );
    assert!(
        e.sentiment_with("너무 좋아요", Some("ko"), m).score
            > e.sentiment_with("좋아요", Some("ko"), m).score
    );
    assert!(
        e.sentiment_with("太差", Some("zh"), m).score < e.sentiment_with("差", Some("zh"), m).score
    );
}

#[test]
fn emoji_carry_sentiment() {
    let e = enricher();
    for (t, want) in [
        ("😡", SentimentLabel::Negative),
        ("😭", SentimentLabel::Negative),
        ("👍", SentimentLabel::Positive),
        ("❤️", SentimentLabel::Positive),
        ("Update ist da 👍", SentimentLabel::Positive),
        ("업데이트 😡", SentimentLabel::Negative),
    ] {
        let a = e.analyze(t, None);
        assert_eq!(a.sentiment.label, want, "{t}: {a:?}");
    }
    let neutral = e.analyze("The meeting is at 3pm", None).sentiment.score;
    assert!(e.analyze("The meeting is at 3pm 😭", None).sentiment.score < neutral);
}

#[test]
fn language_detection_and_declared_fallback() {
    assert_eq!(
        detect_language("Where can I buy the Pro plan?").as_deref(),
        Some("en")
    );
    assert_eq!(detect_language("Login geht nicht").as_deref(), Some("de"));
    assert_eq!(
        detect_language("ありがとうございます").as_deref(),
        Some("ja")
    );
    assert_eq!(detect_language("谢谢").as_deref(), Some("zh"));
    assert_eq!(detect_language("감사합니다").as_deref(), Some("ko"));
    assert_eq!(detect_language("AcmePay 결제 오류").as_deref(), Some("ko"));
    // No letters at all.
    assert_eq!(detect_language("😀😀 https://example.com/x"), None);
    assert_eq!(detect_language("🔥🔥🔥 123 !!!"), None);
    let e = enricher();
    assert_eq!(e.analyze("👍👍", Some("de")).lang, None);
    // Too short to decide: the declared language wins; without one there is no guess.
    assert_eq!(e.analyze("ok", Some("de")).lang.as_deref(), Some("de"));
    assert_eq!(e.analyze("ok", Some("en-US")).lang.as_deref(), Some("en"));
    assert_eq!(e.analyze("ok", None).lang, None);
    assert_eq!(e.analyze("Ja", Some("de")).lang.as_deref(), Some("de"));
    // Kanji-only text is Chinese unless declared Japanese.
    assert_eq!(e.analyze("東京", Some("ja")).lang.as_deref(), Some("ja"));
    assert_eq!(e.analyze("東京", None).lang.as_deref(), Some("zh"));
    // A clear text is not overridden by a wrong declaration.
    assert_eq!(
        e.analyze("배송이 너무 늦어요", Some("en")).lang.as_deref(),
        Some("ko")
    );
    assert_eq!(
        e.analyze(
            "Die App stürzt seit dem Update ständig ab und nichts geht mehr",
            Some("en")
        )
        .lang
        .as_deref(),
        Some("de")
    );
}

#[test]
fn dictionary_tags_in_four_languages() {
    let d = Dictionary::new(&[
        (
            "product".to_string(),
            vec!["Acme Phone".to_string(), "AcmePay".to_string()],
        ),
        ("competitor".to_string(), vec!["Globex".to_string()]),
    ]);
    assert_eq!(
        d.tags("Just switched from Globex to the ACME phone!"),
        vec!["product", "competitor"]
    );
    assert_eq!(
        d.tags("Mit acmepay bezahlt, besser als Globex"),
        vec!["product", "competitor"]
    );
    assert_eq!(d.tags("AcmePay로 결제했어요"), vec!["product"]);
    assert_eq!(
        d.tags("用AcmePay付款，比Globex方便"),
        vec!["product", "competitor"]
    );
    // Word boundaries for Latin script.
    assert!(d.tags("GlobexCorp and acmepayments").is_empty());
    assert!(d.tags("nothing here").is_empty());

    let cjk = Dictionary::new(&[(
        "product".to_string(),
        vec!["애크미폰".to_string(), "艾克米".to_string()],
    )]);
    assert_eq!(cjk.tags("애크미폰은 최고예요"), vec!["product"]);
    assert_eq!(cjk.tags("我买了艾克米手机"), vec!["product"]);
}

#[test]
fn workspace_intent_keywords() {
    let base = enricher();
    let text = "Mir fehlt ein Kalender-Sync";
    assert!(base.analyze("Calendar sync pls", None).intents.is_empty());
    assert!(base.analyze(text, None).intents.is_empty());
    let e = base.with_extra_intent_keywords(&[
        (
            Intent::FeatureRequest,
            vec!["pls".to_string(), "mir fehlt".to_string()],
        ),
        (Intent::Recruiting, vec!["talent pool".to_string()]),
    ]);
    assert!(e
        .analyze("Calendar sync pls", None)
        .intents
        .contains(&Intent::FeatureRequest));
    assert!(e
        .analyze(text, None)
        .intents
        .contains(&Intent::FeatureRequest));
    assert!(e
        .analyze("Join our Talent Pool today", None)
        .intents
        .contains(&Intent::Recruiting));
    // Defaults still apply.
    assert!(e
        .analyze("Are you hiring?", None)
        .intents
        .contains(&Intent::Recruiting));
}

#[test]
fn intent_names_round_trip() {
    for i in Intent::ALL {
        assert_eq!(i.as_str().parse::<Intent>(), Ok(i));
        let json = serde_json_string(&i);
        assert_eq!(json, format!("\"{}\"", i.as_str()));
    }
    assert!("nonsense".parse::<Intent>().is_err());
}

fn serde_json_string<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[test]
fn analysis_serializes_as_documented() {
    let a = enricher().analyze("Love the new update, great job 😍", None);
    let json = serde_json_string(&a);
    assert!(json.contains("\"lang\":\"en\""), "{json}");
    assert!(json.contains("\"label\":\"positive\""), "{json}");
    assert!(json.contains("\"intents\":[\"praise\"]"), "{json}");
    assert!((-1.0..=1.0).contains(&a.sentiment.score));
}

#[test]
fn enricher_is_send_sync_and_model_is_embedded() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Enricher>();
    assert_send_sync::<Dictionary>();
    assert!(
        enricher().has_model(),
        "data/model/sentiment.bin missing or unreadable"
    );
    let e = enricher();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || e.analyze("这个质量太差了", None).sentiment.label)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().ok(), Some(SentimentLabel::Negative));
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    let e = enricher();
    for t in [
        "",
        " ",
        "!!!",
        "@someone",
        "https://",
        "\u{200d}\u{fe0f}",
        "a\u{0301}",
        "İstanbul",
        "ß",
        "'''",
        "'a",
        "a'",
    ] {
        let _ = e.analyze(t, Some("xx-invalid"));
        let _ = e.analyze(t, None);
    }
    assert_eq!(e.analyze("", None).sentiment.label, SentimentLabel::Neutral);
    // Pseudo-random mixes of scripts, emoji, joiners and punctuation.
    let alphabet: Vec<char> = "aZß İ'’!?？@#/:.ー안않좋不好很ありが😡👍❤\u{fe0f}\u{200d} \t\n0é"
        .chars()
        .collect();
    let mut seed: u64 = 42;
    for _ in 0..2000 {
        let len = (seed % 24) as usize;
        let text: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                alphabet[(seed % alphabet.len() as u64) as usize]
            })
            .collect();
        let a = e.analyze(&text, None);
        assert!((-1.0..=1.0).contains(&a.sentiment.score), "{text:?}");
    }
}

/// Regression gate: on the committed held-out sets the shipped method must beat the lexicon
/// baseline in every language, in accuracy and macro-F1.
#[test]
fn shipped_sentiment_beats_lexicon_baseline() {
    let e = enricher();
    for (lang, src) in EVAL_SENTIMENT {
        let rows = parse_labelled(src);
        assert!(rows.len() >= 50, "{lang}: eval set too small");
        let base = sentiment_scores(&e, lang, &rows, SentimentMethod::LexiconBaseline);
        let shipped = sentiment_scores(&e, lang, &rows, SentimentMethod::Shipped);
        assert!(
            shipped.accuracy > base.accuracy,
            "{lang}: accuracy {shipped:?} vs baseline {base:?}"
        );
        assert!(
            shipped.macro_f1 > base.macro_f1,
            "{lang}: macro-F1 {shipped:?} vs baseline {base:?}"
        );
    }
}

#[test]
fn intent_and_language_eval_stay_above_floor() {
    let e = enricher();
    for (intent, pr) in intent_scores(&e, EVAL_INTENTS) {
        assert!(pr.support > 0, "{intent}");
        assert!(
            pr.precision() >= 0.6 && pr.recall() >= 0.8,
            "{intent}: {pr:?}"
        );
    }
    for (lang, ok, n) in lang_scores(EVAL_LANG) {
        assert!(ok as f64 / n as f64 >= 0.9, "{lang}: {ok}/{n}");
    }
}
