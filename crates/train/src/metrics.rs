//! Evaluation (loss, accuracy, per-class accuracy, confusion matrix) and per-epoch records.

use candle_core::{DType, Device, Tensor, D};
use convlens_data::Split;
use convlens_model::Network;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One finished epoch: the row of `history.json` / `history.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's training steps.
    pub train_loss: f64,
    /// Mean cross-entropy over the validation images.
    pub val_loss: f64,
    /// Fraction (0–1) of training images classified correctly during the epoch's steps.
    pub train_accuracy: f64,
    /// Fraction (0–1) of validation images classified correctly after the epoch.
    pub val_accuracy: f64,
    /// Seconds spent in training steps.
    pub train_seconds: f64,
    /// Seconds spent in the validation pass.
    pub val_seconds: f64,
    /// Learning rate used in the epoch.
    pub lr: f64,
    /// Per class: validation images classified correctly.
    pub val_correct: Vec<u64>,
    /// Per class: validation images.
    pub val_total: Vec<u64>,
}

impl EpochRecord {
    /// The columns of `history.csv`, in order.
    pub const CSV_HEADER: &'static str =
        "epoch,train_loss,val_loss,train_accuracy,val_accuracy,train_seconds,val_seconds,lr";

    /// This record as a `history.csv` row (per-class counts stay in `history.json`).
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{},{},{},{:.3},{:.3},{}",
            self.epoch,
            self.train_loss,
            self.val_loss,
            self.train_accuracy,
            self.val_accuracy,
            self.train_seconds,
            self.val_seconds,
            self.lr
        )
    }
}

/// The result of evaluating a network on a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction (0–1) classified correctly.
    pub accuracy: f64,
    /// Per class: fraction of its images classified correctly (NaN-free: 0 for an absent class).
    pub per_class: Vec<f64>,
    /// Per class: images classified correctly.
    pub correct: Vec<u64>,
    /// Per class: images.
    pub total: Vec<u64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Number of images evaluated.
    pub images: usize,
}

/// Predictions for a split: for each image the predicted class and its softmax probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Predicted class.
    pub class: usize,
    /// Its softmax probability.
    pub confidence: f32,
    /// All class probabilities.
    pub probabilities: Vec<f32>,
}

/// Batch size for evaluation passes (no gradients are kept, so larger is fine).
pub const EVAL_BATCH: usize = 500;

/// Loss, accuracy, per-class accuracy and confusion matrix of `network` on `split`.
pub fn evaluate(
    network: &Network,
    split: &Split,
    classes: usize,
    device: &Device,
) -> Result<Evaluation> {
    let mut loss_sum = 0.0f64;
    let mut confusion = vec![vec![0u64; classes]; classes];
    let indices: Vec<usize> = (0..split.len()).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let (x, y) = split.batch(chunk, device)?;
        let logits = network.forward(&x)?.detach();
        let loss = crate::fit::cross_entropy(&logits, &y)?.to_scalar::<f32>()?;
        loss_sum += f64::from(loss) * chunk.len() as f64;
        let predicted: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
        for (&i, p) in chunk.iter().zip(predicted) {
            let t = split.labels()[i] as usize;
            if let Some(cell) = confusion.get_mut(t).and_then(|row| row.get_mut(p as usize)) {
                *cell += 1;
            }
        }
    }
    let total: Vec<u64> = confusion.iter().map(|row| row.iter().sum()).collect();
    let correct: Vec<u64> = (0..classes).map(|c| confusion[c][c]).collect();
    let n = split.len().max(1) as f64;
    Ok(Evaluation {
        loss: loss_sum / n,
        accuracy: correct.iter().sum::<u64>() as f64 / n,
        per_class: correct
            .iter()
            .zip(&total)
            .map(|(&c, &t)| if t == 0 { 0.0 } else { c as f64 / t as f64 })
            .collect(),
        correct,
        total,
        confusion,
        images: split.len(),
    })
}

/// Class predictions with softmax probabilities for every image of `split`.
pub fn predict(network: &Network, split: &Split, device: &Device) -> Result<Vec<Prediction>> {
    let indices: Vec<usize> = (0..split.len()).collect();
    let mut out = Vec::with_capacity(split.len());
    for chunk in indices.chunks(EVAL_BATCH) {
        let (x, _) = split.batch(chunk, device)?;
        let probs = candle_nn::ops::softmax_last_dim(&network.forward(&x)?.detach())?;
        let rows: Vec<Vec<f32>> = probs.to_dtype(DType::F32)?.to_vec2()?;
        for probabilities in rows {
            let (class, confidence) = probabilities.iter().copied().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |best, (i, p)| if p > best.1 { (i, p) } else { best },
            );
            out.push(Prediction {
                class,
                confidence,
                probabilities,
            });
        }
    }
    Ok(out)
}

/// Number of correct predictions in a batch of logits (`labels` as `u32`).
///
/// The argmax runs on the host: for a batch of a few dozen rows one copy beats the five
/// tensor ops (argmax, eq, cast, sum, read) that would do it on the device.
pub(crate) fn count_correct(logits: &Tensor, labels: &[u32]) -> Result<u64> {
    let rows: Vec<Vec<f32>> = logits.to_dtype(DType::F32)?.to_vec2()?;
    Ok(rows
        .iter()
        .zip(labels)
        .filter(|(row, &label)| {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            best.0 == label as usize
        })
        .count() as u64)
}
