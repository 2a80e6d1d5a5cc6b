//! The read side's one error type, beneath every other module of `read/` so that all of them can
//! return it.

use projections::CellError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no projection is named `{0}`")]
    UnknownProjection(String),
    /// Only the fault injection of tests (feature `test-hooks`) stops a batch or a rebuild so.
    #[error("injected fault in `{0}` before its checkpoint")]
    InjectedFault(String),
    #[error(transparent)]
    Cells(#[from] CellError),
}

impl From<sqlx::Error> for ProjectorError {
    fn from(error: sqlx::Error) -> Self {
        ProjectorError::Store(error.into())
    }
}
