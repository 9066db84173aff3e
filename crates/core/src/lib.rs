//! Domain types shared by every layer. Nothing here performs I/O.

pub mod error;
pub mod item;
pub mod model;
pub mod role;
pub mod validate;

pub use error::{ErrorCode, ValidationError};
pub use item::{
    Author, Channel, ChannelStatus, DictionaryEntry, DictionaryKind, Enrichment, IngestSource,
    Item, ItemKind, Metrics, Network, NewItem, Sentiment,
};
pub use model::*;
pub use role::{Permission, Role, TeamFunction};
