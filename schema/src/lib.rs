//! `rampart-schema`: the database model a Rampart service exposes, and how it is read from
//! PostgreSQL.
//!
//! [`model`] is pure data (tables, columns, keys, relationships, functions) and
//! [`introspect()`] fills it from the system catalogs with a handful of set-based queries.
//! Invariant: the model only ever contains what the service's login may use (table and
//! function privileges are applied while introspecting), so nothing outside it is reachable
//! through the API.

pub mod introspect;
pub mod model;

pub use introspect::{IntrospectError, IntrospectOptions, introspect};
pub use model::{
    ArgMode, Column, ColumnRef, ForeignKey, Function, FunctionArg, FunctionKind, Generated,
    Junction, Relation, RelationKind, SchemaModel, Table, TableKind, ValueType, Volatility,
};
