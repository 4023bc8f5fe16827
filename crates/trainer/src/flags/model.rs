//! Messages for `convlens_model::ModelError` in the command line's words.

use convlens_model::ModelError;

use super::flag;

/// The message for `e`, naming flags where the error names fields; `None` keeps its text.
pub(crate) fn describe(e: &ModelError) -> Option<String> {
    match e {
        ModelError::TooLarge {
            field,
            value,
            problem,
        } => Some(format!("{} {value}: too large: {problem}", flag(field))),
        _ => None,
    }
}
