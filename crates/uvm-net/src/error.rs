//! Errors of parsing and checking network settings.
//!
//! Every message names the value and says how to write it right. Where the value came from (a
//! flag, a manifest key) is the caller's to add in front.

use crate::{PortClash, PortMapping};

/// A port mapping or egress rule that could not be parsed, or published ports that clash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetConfigError {
    /// The value is malformed.
    #[error("{what} `{value}` is not valid: {fix}")]
    Invalid {
        /// What was parsed ("port mapping", "egress rule", "protocol").
        what: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong and how to write it.
        fix: String,
    },

    /// Two published ports bind the same host address and port, or lead to the same guest port.
    #[error("published ports `{first}` and `{second}` {}", clash.explain(first, second))]
    PortClash {
        /// The earlier mapping's index in the list checked.
        first_index: usize,
        /// The later mapping's index in the list checked.
        second_index: usize,
        /// The earlier mapping.
        first: PortMapping,
        /// The later mapping.
        second: PortMapping,
        /// What they share.
        clash: PortClash,
    },
}

impl NetConfigError {
    /// A [`NetConfigError::Invalid`] for `what` `value`.
    pub(crate) fn invalid(what: &'static str, value: &str, fix: impl Into<String>) -> NetConfigError {
        NetConfigError::Invalid { what, value: value.to_owned(), fix: fix.into() }
    }
}
