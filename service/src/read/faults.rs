//! Fault injection for the tests of crash safety (feature `test-hooks`): a batch stopped between
//! its view writes and its checkpoint, a rebuild stopped before its commit, as a crash would stop
//! them. Without the feature [`Faults`] holds nothing and never fails: the hook is not in the
//! binary.

#[cfg(feature = "test-hooks")]
use std::sync::Arc;

use crate::read::error::ProjectorError;

/// A test's fault: given a projection and the position of the last fact its transaction would
/// commit, whether to stop it there.
#[cfg(feature = "test-hooks")]
pub type Fault = Arc<dyn Fn(&str, i64) -> bool + Send + Sync>;

#[derive(Clone, Default)]
pub struct Faults {
    #[cfg(feature = "test-hooks")]
    fault: Option<Fault>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl Faults {
    #[cfg(feature = "test-hooks")]
    pub fn new(fault: Fault) -> Self {
        Faults { fault: Some(fault) }
    }

    /// Fails when the test's fault stops a transaction of `names` ending at `position`: the
    /// caller then drops the transaction, which rolls back, as a crash would.
    #[cfg_attr(not(feature = "test-hooks"), allow(unused_variables))]
    pub fn check(&self, names: &[&str], position: i64) -> Result<(), ProjectorError> {
        #[cfg(feature = "test-hooks")]
        if let Some(fault) = &self.fault {
            if names.iter().any(|name| fault(name, position)) {
                return Err(ProjectorError::InjectedFault(names.join(", ")));
            }
        }
        Ok(())
    }
}
