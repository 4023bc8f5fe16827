//! A run is a folder: `config.json`, `history.json`, `history.csv`, `model.safetensors`,
//! the training state (`state.json` + `checkpoint/`) that `--resume` continues from, and
//! `snapshots/`: the weights at chosen steps, for watching the network learn.
//!
//! Every change of a run folder goes through one function, [`RunDir`]'s `change`: a file is
//! written to a temporary file in the same folder, synced, renamed into place and the folder
//! synced ([`atomic_write_file`]). The commit point of an epoch is `state.json`: it names the
//! checkpoint files of that epoch and carries the history. The published files
//! (`model.safetensors`, `history.*`) are copies derived from it, written after it; readers
//! ([`RunDir::model_file`], [`RunDir::read_history`]) go through `state.json`, and resuming
//! re-publishes, so that a process killed at any instant leaves one consistent epoch — the
//! previous one or the new one, never a mix.
//!
//! Fault injection, for tests: with `CONVLENS_ABORT_AT_WRITE=k` in the environment (read once)
//! the process aborts, without unwinding, at the k-th change point of a run folder (counted
//! over the process): after a file's temporary copy is complete and again after its rename,
//! after each removal, after the folders are created.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use atomic_write_file::AtomicWriteFile;
use candle_core::{Device, Tensor};
use convlens_data::Dataset;
use convlens_model::{NetConfig, Network};
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
    /// MD5 of the `init` weights file, when the run started from one: `--resume` compares
    /// content, not paths.
    #[serde(default)]
    pub init_md5: Option<String>,
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
    /// The snapshots of the finished epochs, in training order. Runs written before
    /// snapshots existed have none.
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
}

/// The weights at one point of training, as `state.json` records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The weights file, relative to the run folder.
    pub file: PathBuf,
    /// Optimizer steps taken when it was recorded (0: the initial weights).
    pub step: u64,
    /// The epoch it was recorded in (1-based; 0 for the initial weights).
    pub epoch: usize,
    /// Steps of that epoch taken.
    pub epoch_step: usize,
    /// Steps in that epoch.
    pub epoch_steps: usize,
    /// Mean training loss of the epoch up to this step (none for the initial weights).
    pub train_loss: Option<f64>,
    /// Training accuracy of the epoch up to this step (none for the initial weights).
    pub train_accuracy: Option<f64>,
}

impl Snapshot {
    /// The file name of the snapshot after `step` optimizer steps.
    pub fn file_for(step: u64) -> PathBuf {
        PathBuf::from(files::SNAPSHOTS).join(format!("step-{step:08}.safetensors"))
    }

    /// Training progress in epochs: 0 at the start, 1.5 halfway through the second epoch.
    pub fn progress(&self) -> f64 {
        if self.epoch == 0 || self.epoch_steps == 0 {
            return 0.0;
        }
        (self.epoch - 1) as f64 + self.epoch_step as f64 / self.epoch_steps as f64
    }
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
    /// Weights at chosen steps (`step-NNNNNNNN.safetensors`) named by `state.json`.
    pub const SNAPSHOTS: &str = "snapshots";
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

/// The environment variable of the fault injection (see the module documentation).
pub const ABORT_AT_WRITE_ENV: &str = "CONVLENS_ABORT_AT_WRITE";

/// Counts change points and aborts at the one `CONVLENS_ABORT_AT_WRITE` names.
fn change_point() {
    static ABORT_AT: OnceLock<Option<u64>> = OnceLock::new();
    static POINTS: AtomicU64 = AtomicU64::new(0);
    let abort_at = *ABORT_AT.get_or_init(|| {
        std::env::var(ABORT_AT_WRITE_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(k) = abort_at {
        if POINTS.fetch_add(1, Ordering::SeqCst) + 1 == k {
            std::process::abort();
        }
    }
}

/// A change of a run folder.
enum Change<'a> {
    /// Replace (or create) a file with these bytes, atomically.
    Write(&'a [u8]),
    /// Remove a file (a missing one is no error).
    Remove,
    /// Create a folder and its parents.
    CreateDir,
}

/// Whether `name` is a temporary file left by an interrupted atomic write of `target`
/// (`.<target>.<six letters or digits>`).
fn is_temporary_of(name: &str, target: impl Fn(&str) -> bool) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some((file, suffix)) = rest.rsplit_once('.') else {
        return false;
    };
    suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric()) && target(file)
}

fn is_checkpoint_file(name: &str) -> bool {
    name.starts_with("epoch-") && name.ends_with(".safetensors")
}

fn is_snapshot_file(name: &str) -> bool {
    name.starts_with("step-") && name.ends_with(".safetensors")
}

impl RunDir {
    /// Opens (creating it if needed) a run folder to train in. With `resume`, the folder must
    /// hold a run (`config.json`); one with no finished epoch yet (no `state.json`) resumes
    /// from its start. Without it, a folder holding a finished epoch is refused, and one that
    /// holds only the start of a run that never finished an epoch (killed or diverged in its
    /// first) is taken for the new run.
    pub fn open(path: &Path, resume: bool) -> Result<RunDir> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        let has_config = run.file(files::CONFIG).is_file();
        if resume {
            if !path.is_dir() {
                return Err(TrainError::NoRunToResume {
                    dir: path.into(),
                    problem: "no such folder".into(),
                });
            }
            if !has_config {
                return Err(TrainError::NoRunToResume {
                    dir: path.into(),
                    problem:
                        "the folder holds no training state (no config.json); nothing to resume"
                            .into(),
                });
            }
        } else if run.file(files::STATE).is_file() {
            return Err(TrainError::RunExists(path.into()));
        }
        run.change(&run.file(files::CHECKPOINTS), Change::CreateDir)?;
        run.change(&run.file(files::SNAPSHOTS), Change::CreateDir)?;
        // Fails early (before the data is loaded) on a folder that cannot be written; an
        // unnamed temporary file leaves nothing behind, even when the process dies.
        tempfile::tempfile_in(path).map_err(io("cannot write into the run folder", path))?;
        run.remove_temporaries()?;
        if !resume {
            run.remove_other_checkpoints(None)?;
        }
        Ok(run)
    }

    /// A run to read from (for evaluation and figures): the folder must hold `config.json`
    /// and a finished epoch (`state.json`, or the published `model.safetensors` of a folder
    /// that holds no state).
    pub fn existing(path: &Path) -> Result<RunDir> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        if !run.file(files::CONFIG).is_file() {
            return Err(TrainError::NotARun {
                dir: path.into(),
                problem: format!("not a run folder (no {})", files::CONFIG),
            });
        }
        if !run.file(files::STATE).is_file() && !run.file(files::MODEL).is_file() {
            return Err(TrainError::NotARun {
                dir: path.into(),
                problem: format!(
                    "the run has no finished epoch yet (no {} or {})",
                    files::STATE,
                    files::MODEL
                ),
            });
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

    /// Every change of the folder goes through here, so that the fault injection sees them
    /// all.
    fn change(&self, path: &Path, change: Change<'_>) -> Result<()> {
        match change {
            Change::Write(bytes) => {
                let mut file = AtomicWriteFile::open(path).map_err(io("cannot write", path))?;
                file.write_all(bytes).map_err(io("cannot write", path))?;
                change_point();
                file.commit().map_err(io("cannot write", path))?;
            }
            Change::Remove => match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("cannot remove", path)(e)),
            },
            Change::CreateDir => {
                std::fs::create_dir_all(path).map_err(io("cannot create the run folder", path))?
            }
        }
        change_point();
        Ok(())
    }

    /// Removes the temporary files that writes interrupted by the death of a process left.
    fn remove_temporaries(&self) -> Result<()> {
        let top = [
            files::CONFIG,
            files::HISTORY_JSON,
            files::HISTORY_CSV,
            files::MODEL,
            files::STATE,
        ];
        let checkpoints = self.file(files::CHECKPOINTS);
        let snapshots = self.file(files::SNAPSHOTS);
        let mut stale = Vec::new();
        for (dir, known) in [
            (
                &self.path,
                &(|n: &str| top.contains(&n)) as &dyn Fn(&str) -> bool,
            ),
            (&checkpoints, &is_checkpoint_file),
            (&snapshots, &is_snapshot_file),
        ] {
            for entry in std::fs::read_dir(dir).map_err(io("cannot list", dir))? {
                let entry = entry.map_err(io("cannot list", dir))?;
                if let Some(name) = entry.file_name().to_str() {
                    if is_temporary_of(name, known) {
                        stale.push(entry.path());
                    }
                }
            }
        }
        stale.sort();
        for path in stale {
            self.change(&path, Change::Remove)?;
        }
        Ok(())
    }

    /// Writes `config.json`.
    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        self.change(&self.file(files::CONFIG), Change::Write(&to_json(config)))
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<RunConfig> {
        read_json(&self.file(files::CONFIG))
    }

    /// Reads `state.json`.
    pub fn read_state(&self) -> Result<TrainState> {
        read_json(&self.file(files::STATE))
    }

    /// The committed state, `None` while no epoch has finished.
    pub fn committed_state(&self) -> Result<Option<TrainState>> {
        if self.file(files::STATE).is_file() {
            self.read_state().map(Some)
        } else {
            Ok(None)
        }
    }

    /// What the finished epochs recorded, as of the last committed one.
    pub fn read_history(&self) -> Result<Vec<EpochRecord>> {
        match self.committed_state()? {
            Some(state) => Ok(state.history),
            None => read_json(&self.file(files::HISTORY_JSON)),
        }
    }

    /// The snapshots of the committed epochs, in training order (none before the first
    /// epoch commits, and none in runs written before snapshots existed).
    pub fn read_snapshots(&self) -> Result<Vec<Snapshot>> {
        Ok(self
            .committed_state()?
            .map(|s| s.snapshots)
            .unwrap_or_default())
    }

    /// The weights of the last committed epoch (its checkpoint: the published
    /// `model.safetensors` may lag behind a process that died while publishing).
    pub fn model_file(&self) -> Result<PathBuf> {
        Ok(match self.committed_state()? {
            Some(state) => self.path.join(state.model),
            None => self.file(files::MODEL),
        })
    }

    /// The network of the last committed epoch. A run still training may commit the next
    /// epoch and remove the checkpoint read here meanwhile; the next one is read then.
    pub fn load_network(&self, config: NetConfig, device: &Device) -> Result<Network> {
        let mut path = self.model_file()?;
        let mut tries = 1;
        loop {
            match Network::load(config, &path, device) {
                Ok(network) => return Ok(network),
                Err(e) => {
                    let now = self.model_file()?;
                    if now == path || tries == 3 {
                        return Err(e.into());
                    }
                    path = now;
                    tries += 1;
                }
            }
        }
    }

    /// Saves one finished epoch: the epoch's snapshots (`new_snapshots`, each with its
    /// weights, recorded during the epoch and kept until now so that an epoch that never
    /// finishes leaves none), checkpoint tensors, then `state.json` (the commit point, naming
    /// `snapshots` and the new ones), then the published files, then removes the
    /// checkpoints the state no longer names.
    pub fn save_epoch(
        &self,
        network: &Network,
        optimizer: (&HashMap<String, Tensor>, u64),
        history: &[EpochRecord],
        snapshots: &[Snapshot],
        new_snapshots: &[(Snapshot, Vec<u8>)],
    ) -> Result<()> {
        for (snapshot, bytes) in new_snapshots {
            self.change(&self.path.join(&snapshot.file), Change::Write(bytes))?;
        }
        let epoch = history.len();
        let model_rel =
            PathBuf::from(files::CHECKPOINTS).join(format!("epoch-{epoch:04}-model.safetensors"));
        let optim_rel = PathBuf::from(files::CHECKPOINTS)
            .join(format!("epoch-{epoch:04}-optimizer.safetensors"));
        let model_path = self.path.join(&model_rel);
        self.change(&model_path, Change::Write(&network.safetensors_bytes()?))?;
        let optim_path = self.path.join(&optim_rel);
        self.change(
            &optim_path,
            Change::Write(&serialize_tensors(
                optimizer.0,
                &optim_path,
                "optimizer state",
            )?),
        )?;
        let state = TrainState {
            epochs_done: epoch,
            optimizer_steps: optimizer.1,
            model: model_rel,
            optimizer: optim_rel,
            history: history.to_vec(),
            snapshots: snapshots
                .iter()
                .cloned()
                .chain(new_snapshots.iter().map(|(s, _)| s.clone()))
                .collect(),
        };
        self.change(&self.file(files::STATE), Change::Write(&to_json(&state)))?;
        self.publish(&state)?;
        self.remove_other_checkpoints(Some(&state))
    }

    /// Removes every checkpoint and snapshot file that `state` does not name (all of them
    /// without one): those of an epoch that never committed.
    pub fn remove_other_checkpoints(&self, state: Option<&TrainState>) -> Result<()> {
        let keep: Vec<PathBuf> = state
            .map(|s| {
                [self.path.join(&s.model), self.path.join(&s.optimizer)]
                    .into_iter()
                    .chain(s.snapshots.iter().map(|n| self.path.join(&n.file)))
                    .collect()
            })
            .unwrap_or_default();
        let mut other = Vec::new();
        for (dir, known) in [
            (
                self.file(files::CHECKPOINTS),
                is_checkpoint_file as fn(&str) -> bool,
            ),
            (self.file(files::SNAPSHOTS), is_snapshot_file),
        ] {
            if !dir.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(&dir).map_err(io("cannot list", &dir))? {
                let entry = entry.map_err(io("cannot list", &dir))?;
                let name = entry.file_name();
                if known(&name.to_string_lossy()) && !keep.contains(&entry.path()) {
                    other.push(entry.path());
                }
            }
        }
        other.sort();
        for path in other {
            self.change(&path, Change::Remove)?;
        }
        Ok(())
    }

    /// (Re)writes the published files — weights, history JSON and CSV — from a state.
    pub fn publish(&self, state: &TrainState) -> Result<()> {
        let weights = std::fs::read(self.path.join(&state.model))
            .map_err(io("cannot read", &self.path.join(&state.model)))?;
        self.change(&self.file(files::MODEL), Change::Write(&weights))?;
        self.change(
            &self.file(files::HISTORY_JSON),
            Change::Write(&to_json(&state.history)),
        )?;
        let mut csv = String::from(EpochRecord::CSV_HEADER);
        csv.push('\n');
        for r in &state.history {
            csv.push_str(&r.csv_row());
            csv.push('\n');
        }
        self.change(
            &self.file(files::HISTORY_CSV),
            Change::Write(csv.as_bytes()),
        )
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
fn serialize_tensors(
    tensors: &HashMap<String, Tensor>,
    path: &Path,
    what: &str,
) -> Result<Vec<u8>> {
    let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    safetensors::tensor::serialize(sorted, None).map_err(|e| TrainError::BadRunFile {
        path: path.to_path_buf(),
        problem: format!("cannot serialize the {what}: {e}"),
    })
}
