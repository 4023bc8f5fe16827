//! `train`, `eval`, `summary` and `datasets`: flags in, crate calls, text out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::Device;
use convlens_data::synthetic_formats::SyntheticWritten;
use convlens_data::{Archive, Dataset, DatasetId, Locator, ReadOptions, Split, DATASETS};
use convlens_model::{Backend, NetConfig, Network};
use convlens_train::{evaluate, files, ConsoleProgress, RunDir, TrainConfig, Trainer};
use serde::{Deserialize, Serialize};

use crate::cli::{DatasetsArgs, EvalArgs, SummaryArgs, TrainArgs};

/// Loads a dataset by name, telling the user which copy is used.
pub fn load_dataset(
    name: &str,
    data_dir: Option<PathBuf>,
    options: &ReadOptions,
) -> Result<Dataset> {
    let id: DatasetId = name.parse().context("--dataset")?;
    load(&id, data_dir, options)
}

/// Loads a dataset, telling the user which copy is used and what the loader skipped or
/// changed.
fn load(id: &DatasetId, data_dir: Option<PathBuf>, options: &ReadOptions) -> Result<Dataset> {
    let data = Dataset::load_with(id, &Locator::from_env().with_data_dir(data_dir), options)?;
    for note in &data.notes {
        eprintln!("dataset: {note}");
    }
    let verified = data
        .provenance
        .files
        .iter()
        .map(|f| f.verification.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "dataset: {} from {} ({}; {}), {} training and {} test images",
        data.title,
        data.provenance.dir.display(),
        crate::flags::data::origin(data.provenance.origin),
        verified,
        data.train.len(),
        data.test.len()
    );
    if options.unverified {
        eprintln!("dataset: unverified files allowed (--unverified); config.json records it");
    }
    Ok(data)
}

fn train_config(args: &TrainArgs) -> Result<TrainConfig> {
    Ok(TrainConfig {
        dataset: args.dataset.clone(),
        coarse_labels: match args.labels.as_str() {
            "fine" => false,
            "coarse" => true,
            other => anyhow::bail!("--labels {other}: expected fine or coarse"),
        },
        unverified: args.unverified,
        resize: args.resize,
        grayscale: args.grayscale,
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        optimizer: args.optimizer.parse()?,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        sampler: args.sampler.parse()?,
        seed: args.seed,
        limit_train: args.limit_train,
        limit_val: args.limit_val,
        holdout: args.holdout,
        init: args.init.clone(),
        backend: backend(&args.backend)?,
        snapshots: args.snapshots,
    })
}

fn backend(name: &str) -> Result<Backend> {
    match name {
        "fast" => Ok(Backend::Fast),
        "candle" => Ok(Backend::Candle),
        other => anyhow::bail!("--backend {other}: expected fast or candle"),
    }
}

/// `runs/<dataset>-<UTC yyyymmdd-hhmmss>`.
fn default_out(dataset: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let name = dataset
        .strip_prefix("idx:")
        .map(|_| "idx")
        .unwrap_or(dataset);
    PathBuf::from("runs").join(format!(
        "{name}-{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// One line per convolution that runs a slower kernel of `convlens-ops` on this
/// configuration than on the course network's 1×28×28 input.
pub fn slower_paths(config: NetConfig) -> Result<Vec<String>> {
    let course = NetConfig::default().conv_paths()?;
    Ok(config
        .conv_paths()?
        .into_iter()
        .zip(course)
        .filter(|((_, now), (_, then))| now != then)
        .map(|((layer, now), (_, then))| {
            format!(
                "{layer} runs {now} on {}×{}×{} input (the course network's 1×28×28 runs {then}, \
                 which is faster per multiply-add)",
                config.in_channels, config.input_size, config.input_size
            )
        })
        .collect())
}

/// The flags of `trainer train` that load a synthetic dataset: `--dataset NAME`, then
/// `--data-dir ROOT` where the name does not hold the folder, then `--unverified` where the
/// files stand in for published ones.
pub fn synthetic_train_flags(written: &SyntheticWritten) -> Vec<String> {
    let mut args = vec!["--dataset".to_string(), written.dataset.clone()];
    if written.needs_data_dir() {
        args.push("--data-dir".into());
        args.push(written.data_dir.display().to_string());
    }
    if written.unverified {
        args.push("--unverified".into());
    }
    args
}

/// `trainer train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    // Freed tensor memory stays mapped: otherwise every step page-faults its buffers back in.
    convlens_ops::keep_freed_memory();
    let config = train_config(args)?;
    config.validate()?;
    let out = match (&args.out, args.resume) {
        (Some(out), _) => out.clone(),
        (None, true) => anyhow::bail!("--resume needs --out DIR: the run folder to continue"),
        (None, false) => default_out(&args.dataset),
    };
    if args.resume {
        // Fail on a missing state before spending time on the data.
        RunDir::open(&out, true)?;
    } else if out.join(files::STATE).is_file() {
        return Err(convlens_train::TrainError::RunExists(out).into());
    }
    let data = load_dataset(&args.dataset, args.data_dir.clone(), &config.read_options())?;
    if data.test.is_empty() && config.holdout.is_none() {
        anyhow::bail!(
            "--dataset {}: the data has no test split (no test/ or val/ folder); pass --holdout N \
             to validate on N images held out of the training set",
            args.dataset
        );
    }
    let device = Device::Cpu;
    let backend = config.backend;
    let mut trainer = Trainer::new(config, &data, &device)?;
    if backend == Backend::Fast {
        for line in slower_paths(trainer.network().config())? {
            eprintln!("note: {line}");
        }
    }
    let run = RunDir::open(&out, args.resume)?;
    if args.resume {
        trainer.resume(&run)?;
        eprintln!(
            "resuming {} after epoch {}",
            out.display(),
            trainer.history().len()
        );
    } else {
        trainer.start_run(&run)?;
    }
    eprintln!(
        "training {} epochs, batch {}, {} lr {}, {} sampler, seed {} -> {}",
        args.epochs,
        args.batch_size,
        args.optimizer,
        args.lr,
        args.sampler,
        args.seed,
        out.display()
    );
    let history = trainer.fit(Some(&run), &mut ConsoleProgress::new())?;
    if let Some(last) = history.last() {
        let best = history
            .iter()
            .max_by(|a, b| a.val_accuracy.total_cmp(&b.val_accuracy))
            .unwrap_or(last);
        println!(
            "done: validation accuracy {:.2}% after epoch {} (best {:.2}% at epoch {}); run saved in {}",
            100.0 * last.val_accuracy,
            last.epoch,
            100.0 * best.val_accuracy,
            best.epoch,
            out.display()
        );
    }
    Ok(())
}

/// Loads a run's network and dataset: the dataset from where the run found it, unless
/// `data_dir` says where it is now (for an `idx:` run, `data_dir` is the folder of IDX
/// files). The data must be the data the run was trained on — the same file contents and
/// classes as `config.json` records, wherever it now lies — or this fails naming what
/// changed, since the run's class names and network only fit that data.
pub fn open_run(
    run: &Path,
    data_dir: Option<PathBuf>,
) -> Result<(convlens_train::RunConfig, Network, Dataset)> {
    let dir = match RunDir::existing(run) {
        Ok(dir) => dir,
        Err(convlens_train::TrainError::NoRunToResume { problem, .. }) => {
            anyhow::bail!("--run {}: {problem}", run.display())
        }
        Err(e) => return Err(e).with_context(|| format!("--run {}", run.display())),
    };
    let config = dir.read_config()?;
    let config_file = dir.file(files::CONFIG);
    // Checked here, in the file's words: a hand-edited config.json names no flag.
    config
        .model
        .summary()
        .map_err(|e| anyhow::anyhow!("{}: model: {e}", config_file.display()))?;
    if config.model.classes != config.dataset.class_names.len() {
        anyhow::bail!(
            "{}: the model has {} classes but the dataset lists {} class names; the file is damaged",
            config_file.display(),
            config.model.classes,
            config.dataset.class_names.len()
        );
    }
    let network = dir.load_network(config.model, &Device::Cpu)?;
    let id: DatasetId = config
        .config
        .dataset
        .parse()
        .with_context(|| format!("{}: dataset", config_file.display()))?;
    let (id, data_dir) = match (id, data_dir) {
        (DatasetId::Idx(_), Some(dir)) => {
            if !dir.is_dir() {
                anyhow::bail!("--data-dir {}: no such folder", dir.display());
            }
            (DatasetId::Idx(dir), None)
        }
        (DatasetId::ImageFolder(_), Some(dir)) => {
            if !dir.is_dir() {
                anyhow::bail!("--data-dir {}: no such folder", dir.display());
            }
            (DatasetId::ImageFolder(dir), None)
        }
        (id, Some(dir)) => (id, Some(dir)),
        (id, None) => {
            let recorded = Some(config.dataset.dir.clone()).filter(|d| d.is_dir());
            (id, recorded)
        }
    };
    let data = load(&id, data_dir, &config.config.read_options()).with_context(|| {
        format!(
            "--run {}: the run's dataset ({}; pass --data-dir DIR where it is now)",
            run.display(),
            config.config.dataset
        )
    })?;
    check_same_data(run, &config, &data)?;
    Ok((config, network, data))
}

/// The images a run is evaluated on: the test split, or for data without one (an image
/// folder without `test/` or `val/`) the images the run held out of the training set.
pub fn evaluation_split(config: &convlens_train::RunConfig, data: &Dataset) -> Result<Split> {
    if !data.test.is_empty() {
        return Ok(data.test.clone());
    }
    match config.config.holdout {
        Some(n) => Ok(data.holdout(n, config.config.seed)?.1),
        None => anyhow::bail!(
            "the run's dataset has no test split and the run held no images out (--holdout)"
        ),
    }
}

/// Fails unless `data` holds the files and classes `config.json` records: the run's class
/// names index its labels and its network has one output per class.
fn check_same_data(run: &Path, config: &convlens_train::RunConfig, data: &Dataset) -> Result<()> {
    let recorded = &config.dataset;
    let mut changes = Vec::new();
    if recorded.files.len() != data.provenance.files.len() {
        changes.push(format!(
            "config.json records {} files, the dataset has {}",
            recorded.files.len(),
            data.provenance.files.len()
        ));
    }
    for (was, now) in recorded.files.iter().zip(&data.provenance.files) {
        if was.md5 != now.digest.md5 {
            changes.push(format!(
                "the {} {} have content MD5 {}, the run was trained on {} with MD5 {}",
                now.role,
                now.path.display(),
                now.digest.md5,
                was.path.display(),
                was.md5
            ));
        }
    }
    if data.classes() != recorded.class_names.len() {
        changes.push(format!(
            "the data has {} classes ({}), the run was trained on {} ({})",
            data.classes(),
            class_list(&data.class_names),
            recorded.class_names.len(),
            class_list(&recorded.class_names)
        ));
    }
    if !changes.is_empty() {
        anyhow::bail!(
            "--run {}: the dataset changed since the run was trained: {}; pass --data-dir DIR \
             with the run's data",
            run.display(),
            changes.join("; ")
        );
    }
    if data.class_names != recorded.class_names {
        eprintln!(
            "note: the dataset now names its classes {}; the run's names {} are shown",
            class_list(&data.class_names),
            class_list(&recorded.class_names)
        );
    }
    Ok(())
}

/// `a, b, c` — at most a few names, then how many more.
fn class_list(names: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// What `trainer eval --json` prints: one object. (Fields in alphabetical order, the order
/// the file has always had.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Fraction (0–1) of the images classified correctly.
    pub accuracy: f64,
    /// The run's class names, in label order.
    pub class_names: Vec<String>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// The dataset's registry name (`mnist`, `idx`, …).
    pub dataset: String,
    /// Number of images evaluated.
    pub images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Accuracy per class name.
    pub per_class: BTreeMap<String, f64>,
    /// The run folder.
    pub run: PathBuf,
}

/// `trainer eval`.
pub fn eval(args: &EvalArgs) -> Result<()> {
    if args.limit == Some(0) {
        anyhow::bail!("--limit 0: must be at least 1");
    }
    let (config, network, data) = open_run(&args.run, args.data_dir.clone())?;
    let test = match args.limit {
        Some(n) => evaluation_split(&config, &data)?.first(n),
        None => evaluation_split(&config, &data)?,
    };
    let e = evaluate(&network, &test, data.classes(), &Device::Cpu)?;
    let names = &config.dataset.class_names;
    if args.json {
        let report = EvalReport {
            accuracy: e.accuracy,
            class_names: names.clone(),
            confusion: e.confusion.clone(),
            dataset: config.dataset.name.clone(),
            images: e.images,
            loss: e.loss,
            per_class: names.iter().cloned().zip(e.per_class.clone()).collect(),
            run: args.run.clone(),
        };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{} test images of {}: loss {:.4}, accuracy {:.2}%",
        e.images,
        config.dataset.title,
        e.loss,
        100.0 * e.accuracy
    );
    println!("\n{:<14} {:>8} {:>7}", "class", "accuracy", "images");
    for (i, name) in names.iter().enumerate() {
        println!(
            "{:<14} {:>7.2}% {:>7}",
            name,
            100.0 * e.per_class[i],
            e.total[i]
        );
    }
    println!("\nconfusion matrix (rows: true class, columns: predicted)");
    print!("{:>14}", "");
    for i in 0..names.len() {
        print!(" {i:>5}");
    }
    println!();
    for (i, row) in e.confusion.iter().enumerate() {
        print!(
            "{:>11} {i:>2}",
            names[i].chars().take(11).collect::<String>()
        );
        for c in row {
            print!(" {c:>5}");
        }
        println!();
    }
    Ok(())
}

/// `trainer summary`.
pub fn summary(args: &SummaryArgs) -> Result<()> {
    let config = NetConfig {
        in_channels: args.in_channels,
        classes: args.classes,
        input_size: args.input_size,
    };
    print!("{}", config.summary()?);
    Ok(())
}

/// `trainer datasets`.
pub fn datasets(args: &DatasetsArgs) -> Result<()> {
    let locator = Locator::from_env().with_data_dir(args.data_dir.clone());
    for spec in DATASETS {
        let (found, tried) = locator.search(spec)?;
        match found {
            Some(found) => println!(
                "{:<16} found: {} ({})",
                spec.name,
                found.dir.display(),
                crate::flags::data::origin(found.origin)
            ),
            None => {
                println!("{:<16} not found; looked in:", spec.name);
                for t in tried {
                    println!("{:18}{t}", "");
                }
                println!("{:18}to get it:", "");
                for h in convlens_data::hints(spec) {
                    println!("{:20}- {}", "", crate::flags::data::hint(&h));
                }
            }
        }
    }
    for archive in Archive::all() {
        match locator.find_archive(&archive)? {
            Ok((dir, origin, kind)) => println!(
                "{:<16} found: {} ({}, {kind})",
                archive.name(),
                dir.display(),
                crate::flags::data::origin(origin)
            ),
            Err(tried) => {
                println!("{:<16} not found; looked in:", archive.name());
                for t in tried {
                    println!("{:18}{t}", "");
                }
                println!("{:18}to get it: {}", "", archive.how_to_get());
            }
        }
    }
    println!(
        "{:<16} any folder of IDX files: --dataset idx:DIR",
        "idx:DIR"
    );
    println!(
        "{:<16} torchvision's ImageFolder layout, DIR/train/CLASS/* and DIR/test/CLASS/* (or \
         val/; without either, --holdout N): --dataset imagefolder:DIR",
        "imagefolder:DIR"
    );
    Ok(())
}
