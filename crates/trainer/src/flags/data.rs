//! Messages for `convlens_data::DataError` in the command line's words.

use convlens_data::{DataError, Hint, Origin};

use super::flag;

/// The message for `e`, naming flags where the error names fields; `None` keeps its text.
pub(crate) fn describe(e: &DataError) -> Option<String> {
    Some(match e {
        DataError::UnknownSampler { value } => {
            format!(
                "{} {value}: expected balanced, shuffle or sequential",
                flag("sampler")
            )
        }
        DataError::HoldoutOutOfRange { holdout, max } => format!(
            "{} {holdout}: must be between 1 and {max} (the training set's size minus one)",
            flag("holdout")
        ),
        DataError::NoSuchDataDir { path } => {
            format!("{} {}: no such folder", flag("data_dir"), path.display())
        }
        DataError::NotFound {
            dataset,
            tried,
            hints,
        } => {
            let mut s = format!("dataset {dataset} not found. Places tried:");
            for t in tried {
                s.push_str("\n  - ");
                s.push_str(t);
            }
            s.push_str("\nTo get it:");
            for h in hints {
                s.push_str("\n  - ");
                s.push_str(&hint(h));
            }
            s
        }
        DataError::NotPublished { .. } => e
            .to_string()
            .replace("(unverified)", &format!("({})", flag("unverified"))),
        DataError::ArchiveNotFound { .. } => e.to_string().replace(
            "in the data folder",
            &format!("in a folder given as {} DIR", flag("data_dir")),
        ),
        DataError::InvalidArgument {
            name,
            value,
            problem,
        } if matches!(name.as_str(), "labels" | "resize") => {
            format!("{} {value}: {problem}", flag(name))
        }
        _ => return None,
    })
}

/// One way to get a dataset, in the command line's words.
pub(crate) fn hint(h: &Hint) -> String {
    match h {
        Hint::DataDir { files } => format!(
            "{} DIR, with DIR holding {} (each may be .gz)",
            flag("data_dir"),
            files.join(", ")
        ),
        other => other.to_string(),
    }
}

/// Where a dataset was found, in the command line's words.
pub(crate) fn origin(o: Origin) -> String {
    match o {
        Origin::DataDir => flag("data_dir"),
        other => other.to_string(),
    }
}
