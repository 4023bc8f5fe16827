//! Messages for `convlens_model::ModelError` in the command line's words.

use convlens_model::{ModelError, MIN_INPUT_SIZE};

use super::flag;

/// The message for `e`, naming flags where the error names fields; `None` keeps its text.
pub(crate) fn describe(e: &ModelError) -> Option<String> {
    match e {
        ModelError::TooLarge {
            field,
            value,
            problem,
        } => Some(format!("{} {value}: too large: {problem}", flag(field))),
        ModelError::InvalidConfig { .. } if e.to_string().contains("smallest input size") => {
            Some(format!(
                "{e}; pass {} {MIN_INPUT_SIZE} to resize the images at load",
                flag("resize")
            ))
        }
        _ => None,
    }
}
