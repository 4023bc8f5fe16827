//! The training loop.

use std::time::Instant;

use candle_core::{CpuStorage, Device, Storage, Tensor};
use convlens_data::{Dataset, Sampler, Split};
use convlens_model::{Backend, NetConfig, Network, PARAMETER_NAMES};
use md5::{Digest, Md5};

use crate::config::TrainConfig;
use crate::error::{io, Divergence, Result, TrainError};
use crate::metrics::{count_correct, evaluate, EpochRecord};
use crate::optim::Optimizer;
use crate::run::{DatasetInfo, RunConfig, RunDir, Snapshot};

/// Progress of one training step, for observers.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based step within the epoch.
    pub step: usize,
    /// Steps in the epoch.
    pub steps: usize,
    /// Mean loss of the epoch so far.
    pub running_loss: f64,
    /// Accuracy of the epoch so far.
    pub running_accuracy: f64,
    /// Training images per second in the epoch so far.
    pub images_per_second: f64,
}

/// Receives progress while training; see [`crate::ConsoleProgress`].
pub trait Observer {
    /// An epoch begins.
    fn epoch_started(&mut self, epoch: usize, epochs: usize, steps: usize);
    /// A step finished.
    fn step(&mut self, info: &StepInfo);
    /// An epoch finished, validation included.
    fn epoch_finished(&mut self, record: &EpochRecord, epochs: usize);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn epoch_started(&mut self, _: usize, _: usize, _: usize) {}
    fn step(&mut self, _: &StepInfo) {}
    fn epoch_finished(&mut self, _: &EpochRecord, _: usize) {}
}

/// A network, its optimizer and its data, ready to train.
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    network: Network,
    optimizer: Optimizer,
    train: Split,
    val: Split,
    classes: usize,
    sampler: Sampler,
    device: Device,
    history: Vec<EpochRecord>,
    /// The snapshots of the finished epochs (see [`TrainConfig::snapshots`]).
    snapshots: Vec<Snapshot>,
    run_config: RunConfig,
}

/// One training step on a batch: forward, cross-entropy, backward, optimizer update.
///
/// Returns the batch's mean loss and how many images it classified correctly. A NaN or
/// infinite loss is returned without updating anything (the caller decides what to do).
pub fn train_step(
    network: &Network,
    optimizer: &mut Optimizer,
    x: &Tensor,
    y: &Tensor,
) -> Result<(f32, u64)> {
    let labels: Vec<u32> = y.to_vec1()?;
    let logits = network.forward(x)?;
    let loss = cross_entropy(&logits, y)?;
    let value = loss.to_scalar::<f32>()?;
    if !value.is_finite() {
        return Ok((value, 0));
    }
    let grads = loss.backward()?;
    optimizer.step(&grads)?;
    Ok((value, count_correct(&logits, &labels)?))
}

/// Mean cross-entropy of logits against labels: convlens-ops' single op on the CPU (value
/// and gradient in one pass each), candle-nn's `log_softmax` + `nll` elsewhere.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> candle_core::Result<Tensor> {
    if logits.device().is_cpu() {
        convlens_ops::cross_entropy(logits, labels)
    } else {
        candle_nn::loss::cross_entropy(logits, labels)
    }
}

/// The network configuration a dataset calls for (channels, classes, square image size).
pub fn net_config_for(data: &Dataset) -> Result<NetConfig> {
    let [channels, rows, cols] = data.train.image_shape();
    if rows != cols {
        return Err(TrainError::InvalidArgument {
            field: "dataset",
            value: data.name.clone(),
            problem: format!("images are {rows}×{cols}; the network takes square images"),
        });
    }
    Ok(NetConfig {
        in_channels: channels,
        classes: data.classes(),
        input_size: rows,
    })
}

/// The network a run starts from: `config.init`'s weights (and their MD5) or the seeded
/// initialization, on `config.backend`.
fn build_network(
    config: &TrainConfig,
    net_config: NetConfig,
    device: &Device,
) -> Result<(Network, Option<String>)> {
    let (mut network, init_md5) = match &config.init {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(io("cannot read", path))?;
            let md5 = Md5::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (Network::load(net_config, path, device)?, Some(md5))
        }
        None => (Network::new(net_config, config.seed, device)?, None),
    };
    if config.backend == Backend::Fast && !device.is_cpu() {
        return Err(TrainError::InvalidArgument {
            field: "backend",
            value: "fast".into(),
            problem: "the fast kernels run on the CPU only; use candle".into(),
        });
    }
    network.set_backend(config.backend);
    Ok((network, init_md5))
}

/// The name of the first parameter holding a NaN or infinite value.
fn first_non_finite(network: &Network) -> Result<Option<String>> {
    for (name, var) in PARAMETER_NAMES.iter().zip(network.vars()) {
        let t = var.as_tensor();
        let finite = {
            let (storage, layout) = t.storage_and_layout();
            match (&*storage, layout.contiguous_offsets()) {
                (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => all_finite(&v[a..b]),
                (Storage::Cpu(CpuStorage::F64(v)), Some((a, b))) => all_finite(&v[a..b]),
                // Elsewhere one reduction: NaN and infinities survive a sum.
                _ => {
                    drop(storage);
                    t.sum_all()?
                        .to_dtype(candle_core::DType::F64)?
                        .to_scalar::<f64>()?
                        .is_finite()
                }
            }
        };
        if !finite {
            return Ok(Some(name.to_string()));
        }
    }
    Ok(None)
}

/// A tenth of a learning rate, without the last-digit noise of the division (0.3, not
/// 0.30000000000000004), so that the suggestion reads as a user would type it.
fn a_tenth(lr: f64) -> f64 {
    format!("{:.12e}", lr / 10.0).parse().unwrap_or(lr / 10.0)
}

/// Branch-free over the whole slice, so that it vectorizes.
fn all_finite<T: Copy + Into<f64>>(values: &[T]) -> bool {
    values
        .iter()
        .fold(true, |ok, &v| ok & Into::<f64>::into(v).is_finite())
}

impl Trainer {
    /// Builds the network (from the seed, or from `config.init`), splits the data and sets
    /// up the sampler and optimizer.
    pub fn new(config: TrainConfig, data: &Dataset, device: &Device) -> Result<Trainer> {
        config.validate()?;
        let net_config = net_config_for(data)?;
        let (network, init_md5) = build_network(&config, net_config, device)?;
        let (train, val) = match config.holdout {
            Some(n) => data.holdout(n, config.seed)?,
            None => (data.train.clone(), data.test.clone()),
        };
        let train = match config.limit_train {
            Some(n) => train.first(n),
            None => train,
        };
        let val = match config.limit_val {
            Some(n) => val.first(n),
            None => val,
        };
        let sampler = Sampler::new(config.sampler, train.labels(), config.seed);
        let optimizer = Optimizer::new(config.optimizer_config(), network.parameters());
        let run_config = RunConfig {
            convlens_version: env!("CARGO_PKG_VERSION").to_string(),
            config: config.clone(),
            model: net_config,
            dataset: DatasetInfo::new(data, train.len(), val.len(), config.holdout.is_some()),
            init_md5,
        };
        Ok(Trainer {
            classes: data.classes(),
            config,
            network,
            optimizer,
            train,
            val,
            sampler,
            device: device.clone(),
            history: Vec::new(),
            snapshots: Vec::new(),
            run_config,
        })
    }

    /// What `config.json` records for this run.
    pub fn run_config(&self) -> &RunConfig {
        &self.run_config
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The network, mutably. Its backend is [`TrainConfig::backend`]'s, which `config.json`
    /// records and `--resume` compares: choose it there.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.network
    }

    /// Finished epochs.
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    /// The validation split in use.
    pub fn validation(&self) -> &Split {
        &self.val
    }

    /// Starts a run folder: writes `config.json`.
    pub fn start_run(&self, run: &RunDir) -> Result<()> {
        run.write_config(&self.run_config)
    }

    /// Continues a run folder: checks that the arguments match the saved ones (all but
    /// `epochs`; the data and the `init` weights by content), then restores weights,
    /// optimizer state and history of the last finished epoch and republishes them. A run
    /// with no finished epoch starts over.
    pub fn resume(&mut self, run: &RunDir) -> Result<()> {
        let saved = run.read_config()?;
        let mismatch = |field: &str, given: String, saved: String| TrainError::ResumeMismatch {
            dir: run.path().to_path_buf(),
            field: field.into(),
            given,
            saved,
        };
        if let Some((field, given, saved_value)) = self.config.first_difference(&saved.config) {
            return Err(mismatch(&field, given, saved_value));
        }
        let content = |d: &DatasetInfo| -> Vec<(String, String)> {
            d.files
                .iter()
                .map(|f| (f.role.clone(), f.md5.clone()))
                .collect()
        };
        if content(&saved.dataset) != content(&self.run_config.dataset) {
            let md5s = |d: &DatasetInfo| {
                let list: Vec<&str> = d.files.iter().map(|f| f.md5.as_str()).collect();
                format!("{} (MD5 {})", d.dir.display(), list.join(", "))
            };
            return Err(mismatch(
                "dataset",
                md5s(&self.run_config.dataset),
                md5s(&saved.dataset),
            ));
        }
        if saved.init_md5 != self.run_config.init_md5 {
            let show = |path: &Option<std::path::PathBuf>, md5: &Option<String>| match (path, md5) {
                (Some(p), Some(m)) => format!("{} (MD5 {m})", p.display()),
                _ => "(not set)".to_string(),
            };
            return Err(mismatch(
                "init",
                show(&self.config.init, &self.run_config.init_md5),
                show(&saved.config.init, &saved.init_md5),
            ));
        }
        let Some(state) = run.committed_state()? else {
            let (network, _) = build_network(&self.config, self.run_config.model, &self.device)?;
            self.network = network;
            self.optimizer =
                Optimizer::new(self.config.optimizer_config(), self.network.parameters());
            self.history.clear();
            self.snapshots.clear();
            return run.remove_other_checkpoints(None);
        };
        let mut network = Network::load(
            self.run_config.model,
            &run.path().join(&state.model),
            &self.device,
        )?;
        network.set_backend(self.config.backend);
        self.network = network;
        self.optimizer = Optimizer::new(self.config.optimizer_config(), self.network.parameters());
        self.optimizer.restore(
            &run.load_optimizer(&state, &self.device)?,
            state.optimizer_steps,
        );
        self.history = state.history.clone();
        self.snapshots = state.snapshots.clone();
        run.publish(&state)?;
        run.remove_other_checkpoints(Some(&state))
    }

    /// Trains until `config.epochs` epochs are finished, saving every epoch into `run`
    /// when one is given, with its snapshots ([`TrainConfig::snapshot_steps`]; only with a
    /// run folder: they are copies of the weights, read and never changed).
    pub fn fit(
        &mut self,
        run: Option<&RunDir>,
        observer: &mut dyn Observer,
    ) -> Result<&[EpochRecord]> {
        let epochs = self.config.epochs;
        let batch = self.config.batch_size;
        let mut pixels = Vec::new();
        while self.history.len() < epochs {
            let epoch = self.history.len() + 1;
            let order = self.sampler.epoch(epoch as u64 - 1);
            let steps = order.len().div_ceil(batch);
            observer.epoch_started(epoch, epochs, steps);
            let started = Instant::now();
            let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0u64, 0usize);
            let snapshot_at = match run {
                Some(_) => self.config.snapshot_steps(epoch, steps),
                None => Vec::new(),
            };
            let mut new_snapshots = Vec::new();
            if epoch == 1 && !snapshot_at.is_empty() {
                new_snapshots.push(self.snapshot(0, 0, steps, None)?);
            }
            for (i, chunk) in order.chunks(batch).enumerate() {
                let (x, y) = self.batch(chunk, &mut pixels)?;
                let (value, right) = train_step(&self.network, &mut self.optimizer, &x, &y)?;
                let diverged = |cause| TrainError::Diverged {
                    epoch,
                    step: i + 1,
                    cause,
                    suggested_lr: a_tenth(self.config.lr),
                };
                if !value.is_finite() {
                    return Err(diverged(Divergence::Loss(value)));
                }
                // The loss only shows what the previous update did: an update that makes the
                // weights NaN or infinite in an epoch's last step would go unseen into the
                // saved epoch. A pass over the parameters costs far less than the step.
                if let Some(parameter) = first_non_finite(&self.network)? {
                    return Err(diverged(Divergence::Weights { parameter }));
                }
                loss_sum += f64::from(value) * chunk.len() as f64;
                correct += right;
                seen += chunk.len();
                if snapshot_at.contains(&(i + 1)) {
                    let running = (loss_sum / seen as f64, correct as f64 / seen as f64);
                    new_snapshots.push(self.snapshot(epoch, i + 1, steps, Some(running))?);
                }
                observer.step(&StepInfo {
                    epoch,
                    step: i + 1,
                    steps,
                    running_loss: loss_sum / seen as f64,
                    running_accuracy: correct as f64 / seen as f64,
                    images_per_second: seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
                });
            }
            let train_seconds = started.elapsed().as_secs_f64();
            let val_started = Instant::now();
            let eval = evaluate(&self.network, &self.val, self.classes, &self.device)?;
            if !eval.loss.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    step: steps,
                    cause: Divergence::ValidationLoss(eval.loss),
                    suggested_lr: a_tenth(self.config.lr),
                });
            }
            let record = EpochRecord {
                epoch,
                train_loss: loss_sum / seen.max(1) as f64,
                val_loss: eval.loss,
                train_accuracy: correct as f64 / seen.max(1) as f64,
                val_accuracy: eval.accuracy,
                train_seconds,
                val_seconds: val_started.elapsed().as_secs_f64(),
                lr: self.config.lr,
                val_correct: eval.correct,
                val_total: eval.total,
            };
            self.history.push(record);
            if let Some(run) = run {
                let (tensors, steps) = self.optimizer.state();
                run.save_epoch(
                    &self.network,
                    (&tensors, steps),
                    &self.history,
                    &self.snapshots,
                    &new_snapshots,
                )?;
                self.snapshots
                    .extend(new_snapshots.into_iter().map(|(s, _)| s));
            }
            observer.epoch_finished(self.history.last().expect("just pushed"), epochs);
        }
        Ok(&self.history)
    }

    /// The snapshots of the finished epochs.
    pub fn snapshots(&self) -> &[Snapshot] {
        &self.snapshots
    }

    /// The current weights as a snapshot taken at step `epoch_step` of `epoch_steps` in
    /// `epoch`, with the epoch's running loss and accuracy.
    fn snapshot(
        &self,
        epoch: usize,
        epoch_step: usize,
        epoch_steps: usize,
        running: Option<(f64, f64)>,
    ) -> Result<(Snapshot, Vec<u8>)> {
        let step = self.optimizer.steps();
        Ok((
            Snapshot {
                file: Snapshot::file_for(step),
                step,
                epoch,
                epoch_step,
                epoch_steps,
                train_loss: running.map(|r| r.0),
                train_accuracy: running.map(|r| r.1),
            },
            self.network.safetensors_bytes()?,
        ))
    }

    fn batch(&self, indices: &[usize], pixels: &mut Vec<f32>) -> Result<(Tensor, Tensor)> {
        self.train.batch_pixels_into(indices, pixels);
        let [c, h, w] = self.train.image_shape();
        let x = Tensor::from_slice(pixels, (indices.len(), c, h, w), &self.device)?;
        let labels: Vec<u32> = indices
            .iter()
            .map(|&i| u32::from(self.train.labels()[i]))
            .collect();
        let y = Tensor::from_vec(labels, indices.len(), &self.device)?;
        Ok((x, y))
    }
}
