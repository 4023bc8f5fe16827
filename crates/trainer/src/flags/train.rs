//! Messages for `convlens_train::TrainError` in the command line's words.

use convlens_train::TrainError;

use super::flag;

/// The message for `e`, naming flags where the error names fields; `None` keeps its text.
pub(crate) fn describe(e: &TrainError) -> Option<String> {
    Some(match e {
        TrainError::InvalidArgument {
            field,
            value,
            problem,
        } => format!("{} {value}: {problem}", flag(field)),
        TrainError::Diverged {
            epoch,
            step,
            cause,
            suggested_lr,
        } => format!(
            "training diverged: {cause} at epoch {epoch}, step {step}; try a lower learning rate \
             in a new run (--lr {suggested_lr:?}); the files of the last good epoch are kept"
        ),
        TrainError::NoRunToResume { dir, problem } => {
            format!("--resume {}: {problem}", dir.display())
        }
        TrainError::ResumeMismatch {
            dir,
            field,
            given,
            saved,
        } => format!(
            "--resume {}: {} is {given} but the run was started with {saved}; resume with the \
             same arguments or start a new run with --out",
            dir.display(),
            flag(field)
        ),
        TrainError::RunExists(dir) => format!(
            "--out {}: the folder already holds a training run; pass --resume to continue it or \
             choose another --out",
            dir.display()
        ),
        TrainError::Data(d) => return super::data::describe(d),
        TrainError::Model(m) => return super::model::describe(m),
        _ => return None,
    })
}
