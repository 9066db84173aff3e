//! The reference docs are generated from the code that enforces them; these tests fail when
//! the two drift apart. `SWITCHBOARD_BLESS=1 cargo test -p switchboard-core` rewrites them.

use std::path::PathBuf;

fn check(file: &str, generated: String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(file);
    if std::env::var_os("SWITCHBOARD_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write doc");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/{file} is out of date; run `SWITCHBOARD_BLESS=1 cargo test -p switchboard-core --test docs`"
    );
}

#[test]
fn api_error_codes_doc_matches_the_code_table() {
    check(
        "api-errors.md",
        switchboard_core::ErrorCode::markdown_table(),
    );
}

#[test]
fn permissions_doc_matches_the_matrix() {
    check(
        "permissions.md",
        switchboard_core::role::permissions_markdown(),
    );
}
