//! Black-box API tests: the real application on port 0, a fresh database per test, every
//! test run against SQLite and (when configured) PostgreSQL.

mod helpers;

mod auth;
mod channels;
mod errors;
mod inbox;
mod ingest;
mod isolation;
mod listening;
mod ops;
mod web;
mod webhooks;
