//! Console progress: a bar per epoch on a terminal, one plain line per epoch otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::fit::{Observer, StepInfo};
use crate::metrics::EpochRecord;

/// Prints training progress: an indicatif bar per epoch (steps, images/s, running loss and
/// accuracy) when stdout is a terminal; one line per epoch otherwise (CI, pipes, logs).
#[derive(Debug)]
pub struct ConsoleProgress {
    bar: Option<ProgressBar>,
    interactive: bool,
}

impl ConsoleProgress {
    /// Chooses the style from whether stdout is a terminal.
    pub fn new() -> Self {
        ConsoleProgress {
            bar: None,
            interactive: std::io::stdout().is_terminal(),
        }
    }

    /// One line describing a finished epoch.
    pub fn line(record: &EpochRecord, epochs: usize) -> String {
        format!(
            "epoch {:>2}/{epochs}  train loss {:.4} acc {:6.2}%  val loss {:.4} acc {:6.2}%  {:.1} s train, {:.1} s val",
            record.epoch,
            record.train_loss,
            100.0 * record.train_accuracy,
            record.val_loss,
            100.0 * record.val_accuracy,
            record.train_seconds,
            record.val_seconds,
        )
    }
}

impl Default for ConsoleProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for ConsoleProgress {
    fn epoch_started(&mut self, epoch: usize, epochs: usize, steps: usize) {
        if !self.interactive {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    fn step(&mut self, info: &StepInfo) {
        if let Some(bar) = &self.bar {
            if info.step.is_multiple_of(20) || info.step == info.steps {
                bar.set_position(info.step as u64);
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% {:.0} img/s",
                    info.running_loss,
                    100.0 * info.running_accuracy,
                    info.images_per_second
                ));
            }
        }
    }

    fn epoch_finished(&mut self, record: &EpochRecord, epochs: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        println!("{}", Self::line(record, epochs));
    }
}
