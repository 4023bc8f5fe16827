//! How the binary speaks of what the libraries report: the libraries' errors name fields and
//! values (`batch_size`, a path), and this module turns each into the message a user of the
//! command line reads, naming the flag they typed (`--batch-size`).

pub(crate) mod data;
pub(crate) mod model;
mod train;

use std::error::Error;

/// The message for one error of the chain, in the command line's words; `None` keeps the
/// error's own text.
pub(crate) fn describe(e: &(dyn Error + 'static)) -> Option<String> {
    if let Some(e) = e.downcast_ref::<convlens_train::TrainError>() {
        return train::describe(e);
    }
    if let Some(e) = e.downcast_ref::<convlens_data::DataError>() {
        return data::describe(e);
    }
    if let Some(e) = e.downcast_ref::<convlens_model::ModelError>() {
        return model::describe(e);
    }
    None
}

/// The flag of a field, as the user types it: `batch_size` → `--batch-size`.
pub(crate) fn flag(field: &str) -> String {
    match field {
        // A bool field behind a flag with a value: `--labels coarse`.
        "coarse_labels" => "--labels".into(),
        _ => format!("--{}", field.replace('_', "-")),
    }
}
