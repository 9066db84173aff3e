//! Listening search: the query language, the shared tokeniser, the tantivy index derived from
//! the store, and an in-memory matcher with the same semantics.

pub mod document;
pub mod index;
pub mod matcher;
pub mod near;
pub mod query;
pub mod tokenize;

pub use document::IndexDoc;
pub use index::{Page, SearchIndex, Stats, StatsRequest, Watermark};
pub use query::{parse, ParseError, Query};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index regex: {0}")]
    Regex(String),
    #[error("search index directory {0}: {1}")]
    Io(String, std::io::Error),
    #[error("search index: another writer is active")]
    NoWriter,
    #[error("search index: a lock was poisoned")]
    Poisoned,
}

impl From<tantivy::directory::error::OpenDirectoryError> for SearchError {
    fn from(e: tantivy::directory::error::OpenDirectoryError) -> Self {
        SearchError::Tantivy(e.into())
    }
}

pub type Result<T> = std::result::Result<T, SearchError>;
