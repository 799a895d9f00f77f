//! `/api/v2/system/lookup`: global lookups (DreamFactory's "global lookup keys"), the values a
//! row filter names as `{name}` for every role; a role's and a user's own override them. A
//! private one's value is never returned (and, as everywhere, never reaches a filter).

use serde_json::{Map, Value, json};

use super::resource::Resource;
use super::system::lookup_fields;
use crate::http::error::ApiError;
use crate::system::lookups::{self, LookupFields, LookupRecord, Owner};
use crate::system::{Store, SystemError, Tx};

pub(crate) fn lookup_json(l: &LookupRecord) -> Value {
    let l = l.public();
    json!({"id": l.id, "name": l.name, "value": l.value, "private": l.private, "description": l.description})
}

/// Global lookups as a simple resource.
pub struct GlobalLookup;

impl Resource for GlobalLookup {
    type Record = LookupRecord;
    type Fields = LookupFields;
    const DUPLICATE: &'static str = "A lookup with this name already exists.";

    fn json(record: &LookupRecord) -> Value {
        lookup_json(record)
    }

    /// A private value sent back as read is kept (see `lookups::HIDDEN`).
    fn fields(_: Option<&LookupRecord>, m: &Map<String, Value>) -> Result<LookupFields, ApiError> {
        lookup_fields(m)
    }

    async fn list(store: &Store) -> Result<Vec<LookupRecord>, SystemError> {
        lookups::global(store).await
    }

    async fn get(store: &Store, id: i64) -> Result<LookupRecord, SystemError> {
        lookups::get_in(store, Owner::Global, id).await
    }

    async fn create(tx: &mut Tx, f: &LookupFields) -> Result<i64, SystemError> {
        lookups::add(tx, Owner::Global, f).await
    }

    async fn update(tx: &mut Tx, id: i64, f: &LookupFields) -> Result<(), SystemError> {
        lookups::update_in(tx, Owner::Global, id, f).await
    }

    async fn delete(tx: &mut Tx, id: i64) -> Result<(), SystemError> {
        lookups::delete_in(tx, Owner::Global, id).await
    }
}
