//! Storage: the tantivy article index, the SQLite state database, and the one writer task that
//! owns both write paths.

pub mod batch;
pub mod canonical;
mod highlight;
pub mod index;
pub mod migrate;
mod pairs;
mod prefix;
mod published;
pub mod state;
mod wordsets;
pub mod writer;

pub use index::{ArticleIndex, IndexError, SearchRequest, SearchResponse, Sort, StoredArticle};
pub use state::{SeenArticle, SourceState, SourceStatus, SourceUpdate, State, StateError};
