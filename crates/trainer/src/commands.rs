//! `train`, `eval`, `summary` and `datasets`: flags in, crate calls, text out.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::Device;
use convlens_data::{Dataset, DatasetId, Locator, DATASETS};
use convlens_model::{Backend, NetConfig, Network};
use convlens_train::{evaluate, files, ConsoleProgress, RunDir, TrainConfig, Trainer};

use crate::cli::{DatasetsArgs, EvalArgs, SummaryArgs, TrainArgs};

/// Loads a dataset by name, telling the user which copy is used.
pub fn load_dataset(name: &str, data_dir: Option<PathBuf>) -> Result<Dataset> {
    let id: DatasetId = name.parse().context("--dataset")?;
    let data = Dataset::load(&id, &Locator::from_env().with_data_dir(data_dir))?;
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
        data.provenance.origin,
        verified,
        data.train.len(),
        data.test.len()
    );
    Ok(data)
}

fn train_config(args: &TrainArgs) -> Result<TrainConfig> {
    Ok(TrainConfig {
        dataset: args.dataset.clone(),
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

/// `trainer train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    // Freed tensor memory stays mapped: otherwise every step page-faults its buffers back in.
    convlens_ops::keep_freed_memory();
    let config = train_config(args)?;
    config.validate()?;
    let backend = backend(&args.backend)?;
    let out = match (&args.out, args.resume) {
        (Some(out), _) => out.clone(),
        (None, true) => anyhow::bail!("--resume needs --out DIR: the run folder to continue"),
        (None, false) => default_out(&args.dataset),
    };
    if args.resume {
        // Fail on a missing state before spending time on the data.
        RunDir::open(&out, true)?;
    } else if out.join(files::CONFIG).is_file() {
        return Err(convlens_train::TrainError::RunExists(out).into());
    }
    let data = load_dataset(&args.dataset, args.data_dir.clone())?;
    let device = Device::Cpu;
    let mut trainer = Trainer::new(config, &data, &device)?;
    trainer.network_mut().set_backend(backend);
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

/// Loads a run's network and dataset (the dataset from where the run found it, unless
/// `data_dir` says otherwise).
pub fn open_run(
    run: &Path,
    data_dir: Option<PathBuf>,
) -> Result<(convlens_train::RunConfig, Network, Dataset)> {
    let dir = RunDir::existing(run).with_context(|| format!("--run {}", run.display()))?;
    let config = dir.read_config()?;
    let weights = run.join(files::MODEL);
    let network = Network::load(config.model, &weights, &Device::Cpu)?;
    let data_dir = data_dir.or_else(|| Some(config.dataset.dir.clone()).filter(|d| d.is_dir()));
    let data = load_dataset(&config.config.dataset, data_dir)?;
    Ok((config, network, data))
}

/// `trainer eval`.
pub fn eval(args: &EvalArgs) -> Result<()> {
    let (config, network, data) = open_run(&args.run, args.data_dir.clone())?;
    let test = match args.limit {
        Some(0) => anyhow::bail!("--limit 0: must be at least 1"),
        Some(n) => data.test.first(n),
        None => data.test.clone(),
    };
    let e = evaluate(&network, &test, data.classes(), &Device::Cpu)?;
    let names = &config.dataset.class_names;
    if args.json {
        let per_class: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .zip(&e.per_class)
            .map(|(n, a)| (n.clone(), (*a).into()))
            .collect();
        let out = serde_json::json!({
            "run": args.run,
            "dataset": config.dataset.name,
            "images": e.images,
            "loss": e.loss,
            "accuracy": e.accuracy,
            "per_class": per_class,
            "class_names": names,
            "confusion": e.confusion,
        });
        println!("{out}");
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
                "{:<14} found: {} ({})",
                spec.name,
                found.dir.display(),
                found.origin
            ),
            None => {
                println!("{:<14} not found; looked in:", spec.name);
                for t in tried {
                    println!("{:16}{t}", "");
                }
                println!("{:16}to get it:", "");
                for h in convlens_data::hints(spec) {
                    println!("{:18}- {h}", "");
                }
            }
        }
    }
    println!(
        "{:<14} any folder of IDX files: --dataset idx:DIR",
        "idx:DIR"
    );
    Ok(())
}
