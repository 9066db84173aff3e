//! Domain types shared by every layer. Nothing here performs I/O.

pub mod error;
pub mod item;
pub mod listening;
pub mod model;
pub mod outbound;
pub mod role;
pub mod validate;

pub use error::{ErrorCode, ValidationError};
pub use item::{
    Annotation, AnnotationKind, Author, Channel, ChannelStatus, DictionaryEntry, DictionaryKind,
    Enrichment, IngestSource, Item, ItemKind, Metrics, Network, NewItem, Sentiment, Spike, Topic,
    TopicKind,
};
pub use model::*;
pub use outbound::{DeliveryStatus, Webhook, WebhookDelivery, WebhookFormat};
pub use role::{Permission, Role, TeamFunction};
