//! A run is a folder: `config.json`, `history.json`, `history.csv`, `model.safetensors`,
//! and the training state (`state.json` + `checkpoint/`) that `--resume` continues from.
//!
//! Every file is replaced atomically (temporary file, then rename). The commit point of an
//! epoch is `state.json`: it names the checkpoint files of that epoch and carries the
//! history, so a process killed at any instant leaves either the previous epoch's state or
//! the new one — never a mix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use convlens_data::{write_atomic, Dataset};
use convlens_model::NetConfig;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{io, Result, TrainError};
use crate::metrics::EpochRecord;

/// One dataset file as recorded in `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Which file (`training images`, …).
    pub role: String,
    /// Where it was read.
    pub path: PathBuf,
    /// MD5 of its decompressed content.
    pub md5: String,
    /// MD5 of the `.gz` file, when compressed.
    pub gzip_md5: Option<String>,
    /// How it was verified.
    pub verification: String,
}

/// The dataset as recorded in `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Registry name (`mnist`, `idx`, …).
    pub name: String,
    /// Title.
    pub title: String,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// How the files were found.
    pub origin: String,
    /// The folder.
    pub dir: PathBuf,
    /// Training images used.
    pub train_images: usize,
    /// Validation images used.
    pub val_images: usize,
    /// `test set` or `held out of the training set`.
    pub validation: String,
    /// The four files.
    pub files: Vec<FileInfo>,
}

impl DatasetInfo {
    /// Describes a loaded dataset and the split sizes in use.
    pub fn new(data: &Dataset, train_images: usize, val_images: usize, holdout: bool) -> Self {
        DatasetInfo {
            name: data.name.clone(),
            title: data.title.clone(),
            class_names: data.class_names.clone(),
            origin: data.provenance.origin.to_string(),
            dir: data.provenance.dir.clone(),
            train_images,
            val_images,
            validation: if holdout {
                "held out of the training set"
            } else {
                "test set"
            }
            .into(),
            files: data
                .provenance
                .files
                .iter()
                .map(|f| FileInfo {
                    role: f.role.to_string(),
                    path: f.path.clone(),
                    md5: f.digest.md5.clone(),
                    gzip_md5: f.digest.gzip_md5.clone(),
                    verification: f.verification.to_string(),
                })
                .collect(),
        }
    }
}

/// The content of `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Version of convlens that wrote the run.
    pub convlens_version: String,
    /// Every argument.
    pub config: TrainConfig,
    /// The network's configuration.
    pub model: NetConfig,
    /// The data used.
    pub dataset: DatasetInfo,
}

/// The content of `state.json`: what `--resume` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Optimizer steps taken (Adam's bias correction depends on it).
    pub optimizer_steps: u64,
    /// Weights after the last finished epoch, relative to the run folder.
    pub model: PathBuf,
    /// Optimizer tensors after the last finished epoch, relative to the run folder.
    pub optimizer: PathBuf,
    /// History up to the last finished epoch. Sampling needs no saved generator state: each
    /// epoch's order is a pure function of the seed and the epoch number.
    pub history: Vec<EpochRecord>,
}

/// A run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

/// File names inside a run folder.
pub mod files {
    /// Arguments, dataset files and checksums, versions.
    pub const CONFIG: &str = "config.json";
    /// One object per finished epoch.
    pub const HISTORY_JSON: &str = "history.json";
    /// The same, as CSV.
    pub const HISTORY_CSV: &str = "history.csv";
    /// Weights with PyTorch state_dict names.
    pub const MODEL: &str = "model.safetensors";
    /// The resume point.
    pub const STATE: &str = "state.json";
    /// Per-epoch model and optimizer tensors named by `state.json`.
    pub const CHECKPOINTS: &str = "checkpoint";
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(v).expect("run files serialize");
    bytes.push(b'\n');
    bytes
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io("cannot read", path))?;
    serde_json::from_slice(&bytes).map_err(|e| TrainError::BadRunFile {
        path: path.to_path_buf(),
        problem: format!("not a run file of this version: {e}"),
    })
}

impl RunDir {
    /// Opens (creating it if needed) a run folder. Without `resume`, a folder that already
    /// holds a run is refused; with it, a folder without training state is.
    pub fn open(path: &Path, resume: bool) -> Result<RunDir> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        let has_state = run.file(files::STATE).is_file();
        if resume {
            if !path.is_dir() {
                return Err(TrainError::NoRunToResume {
                    dir: path.into(),
                    problem: "--resume: no such folder".into(),
                });
            }
            if !has_state || !run.file(files::CONFIG).is_file() {
                return Err(TrainError::NoRunToResume {
                    dir: path.into(),
                    problem: "--resume: the folder holds no training state (state.json and config.json); nothing to resume".into(),
                });
            }
        } else if has_state || run.file(files::CONFIG).is_file() {
            return Err(TrainError::RunExists(path.into()));
        }
        std::fs::create_dir_all(run.file(files::CHECKPOINTS))
            .map_err(io("cannot create the run folder", path))?;
        let probe = run.file(".write-test");
        std::fs::write(&probe, b"").map_err(io("cannot write into the run folder", path))?;
        let _ = std::fs::remove_file(probe);
        Ok(run)
    }

    /// A finished or running run to read from (for evaluation and figures): the folder must
    /// hold `config.json` and `model.safetensors`.
    pub fn existing(path: &Path) -> Result<RunDir> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        for name in [files::CONFIG, files::MODEL] {
            if !run.file(name).is_file() {
                return Err(TrainError::NoRunToResume {
                    dir: path.into(),
                    problem: format!("not a run folder with a finished epoch (no {name})"),
                });
            }
        }
        Ok(run)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file inside the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `config.json`.
    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        Ok(write_atomic(&self.file(files::CONFIG), &to_json(config))?)
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<RunConfig> {
        read_json(&self.file(files::CONFIG))
    }

    /// Reads `state.json`.
    pub fn read_state(&self) -> Result<TrainState> {
        read_json(&self.file(files::STATE))
    }

    /// Reads `history.json` (what finished epochs recorded).
    pub fn read_history(&self) -> Result<Vec<EpochRecord>> {
        read_json(&self.file(files::HISTORY_JSON))
    }

    /// Saves one finished epoch: checkpoint tensors, then `state.json` (the commit point),
    /// then the published files, then removes the previous epoch's checkpoint.
    pub fn save_epoch(
        &self,
        network: &convlens_model::Network,
        optimizer: (&HashMap<String, Tensor>, u64),
        history: &[EpochRecord],
    ) -> Result<()> {
        let epoch = history.len();
        let model_rel =
            PathBuf::from(files::CHECKPOINTS).join(format!("epoch-{epoch:04}-model.safetensors"));
        let optim_rel = PathBuf::from(files::CHECKPOINTS)
            .join(format!("epoch-{epoch:04}-optimizer.safetensors"));
        network.save(&self.path.join(&model_rel))?;
        write_atomic(
            &self.path.join(&optim_rel),
            &serialize_tensors(optimizer.0, &self.path.join(&optim_rel))?,
        )?;
        let previous = self.read_state().ok();
        let state = TrainState {
            epochs_done: epoch,
            optimizer_steps: optimizer.1,
            model: model_rel,
            optimizer: optim_rel,
            history: history.to_vec(),
        };
        write_atomic(&self.file(files::STATE), &to_json(&state))?;
        self.publish(&state)?;
        if let Some(prev) = previous.filter(|p| p.epochs_done != epoch) {
            let _ = std::fs::remove_file(self.path.join(prev.model));
            let _ = std::fs::remove_file(self.path.join(prev.optimizer));
        }
        Ok(())
    }

    /// (Re)writes the published files — weights, history JSON and CSV — from a state.
    pub fn publish(&self, state: &TrainState) -> Result<()> {
        let weights = std::fs::read(self.path.join(&state.model))
            .map_err(io("cannot read", &self.path.join(&state.model)))?;
        write_atomic(&self.file(files::MODEL), &weights)?;
        write_atomic(&self.file(files::HISTORY_JSON), &to_json(&state.history))?;
        let mut csv = String::from(EpochRecord::CSV_HEADER);
        csv.push('\n');
        for r in &state.history {
            csv.push_str(&r.csv_row());
            csv.push('\n');
        }
        Ok(write_atomic(
            &self.file(files::HISTORY_CSV),
            csv.as_bytes(),
        )?)
    }

    /// Loads the optimizer tensors a state names.
    pub fn load_optimizer(
        &self,
        state: &TrainState,
        device: &Device,
    ) -> Result<HashMap<String, Tensor>> {
        let path = self.path.join(&state.optimizer);
        candle_core::safetensors::load(&path, device).map_err(|e| TrainError::BadRunFile {
            path,
            problem: format!("cannot read the optimizer state: {e}"),
        })
    }
}

/// Serializes named tensors to safetensors bytes (sorted names, so identical state gives
/// identical bytes).
fn serialize_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<Vec<u8>> {
    let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    safetensors::tensor::serialize(sorted, None).map_err(|e| TrainError::BadRunFile {
        path: path.to_path_buf(),
        problem: format!("cannot serialize the optimizer state: {e}"),
    })
}
