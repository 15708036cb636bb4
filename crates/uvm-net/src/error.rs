//! Errors of parsing network settings.

/// A port mapping or egress rule that could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetConfigError {
    /// The value is malformed.
    #[error("{what} `{value}` is not valid: {fix}")]
    Invalid {
        /// What was parsed ("port mapping", "egress rule").
        what: &'static str,
        /// The value as given.
        value: String,
        /// How to write it.
        fix: String,
    },
}
