//! The one error type of the filter language. Invariant: every error names what was wrong,
//! where (a byte offset into the filter text, always within `0..=len`), and, when there is
//! one, how to fix it — worded for the API client who wrote the filter, not for us.

use thiserror::Error;

/// A filter that could not be parsed. Displays as
/// `unexpected ')' at position 12; remove it or add a matching '(' before it`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} at position {position}{}", message.trim_end_matches('.'), hint_suffix(hint))]
pub struct FilterError {
    /// What was wrong.
    pub message: String,
    /// Byte offset into the filter text where the problem starts.
    pub position: usize,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

/// An error at byte `position` with a fix.
pub(crate) fn err(
    position: usize,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> FilterError {
    FilterError::new(position, message).hint(hint)
}

impl FilterError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        FilterError {
            message: message.into(),
            position,
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
