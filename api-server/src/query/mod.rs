//! From a permitted request to rows: `plan` resolves names against the introspected table
//! (only through what the permit lets the caller see) into a `Plan`; `sql` renders a plan as
//! sea-query statements (every value bound); `exec` runs them and assembles JSON.

pub mod exec;
pub mod nested;
pub mod plan;
pub mod routine;
pub mod sql;
pub mod write;

pub use plan::{PlanError, ReadPlan};
