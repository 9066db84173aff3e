//! docs/item.schema.json describes exactly what the Switchboard NDJSON reader accepts: the
//! enums, the properties and the required ones match the item model, and its example parses.

use std::path::PathBuf;

use serde_json::Value;
use switchboard_ingest::{parse_switchboard_line, ItemKind, Network, NewItem};

fn schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/item.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("docs/item.schema.json")).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn schema_matches_the_item_model() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let props = &s["properties"];
    assert_eq!(
        strings(&props["network"]["enum"]),
        Network::ALL
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        strings(&props["kind"]["enum"]),
        ItemKind::ALL
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
    );

    // Every property of the model, and no other.
    let example = &s["examples"][0];
    let item: NewItem = serde_json::from_value(example.clone()).expect("example is a NewItem");
    let serialized = serde_json::to_value(&item).unwrap();
    assert_eq!(keys(props), keys(&serialized));
    assert_eq!(
        keys(&s["$defs"]["author"]["properties"]),
        keys(&serialized["author"])
    );
    assert_eq!(
        keys(&s["$defs"]["metrics"]["properties"]),
        keys(&serialized["metrics"])
    );

    // Required = the fields a line cannot omit.
    let mut required = strings(&s["required"]);
    required.sort();
    let minimal = serde_json::json!({
        "network": "x", "external_id": "1", "kind": "post", "author": {"id": "a"},
        "text": "", "created_at": "2024-01-01T00:00:00Z"
    });
    assert_eq!(required, keys(&minimal));
    for field in &required {
        let mut without = minimal.clone();
        without.as_object_mut().unwrap().remove(field);
        let err = parse_switchboard_line(&without.to_string()).unwrap_err();
        assert!(
            err.message.contains(&format!("`{field}`")),
            "{field}: {err}"
        );
    }
    assert!(parse_switchboard_line(&minimal.to_string()).is_ok());

    // The example line parses to itself.
    let parsed = parse_switchboard_line(&example.to_string()).unwrap();
    assert_eq!(parsed, item);
}
