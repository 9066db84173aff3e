//! Black-box API tests: the real application on port 0, a fresh database per test, every
//! test run against SQLite and (when configured) PostgreSQL.

mod helpers;

mod auth;
mod bluesky_reply;
mod channels;
mod errors;
mod handoff;
mod inbox;
mod inbox_work;
mod ingest;
mod isolation;
mod listening;
mod ops;
mod sla;
mod web;
mod web_inbox;
mod webhooks;
