//! `cargo xtask synthetic`: a synthetic dataset for quick runs, in IDX (`--dataset idx:DIR`)
//! or in any layout torchvision reads (`--format cifar10-python`, …, or `all`).

use std::path::PathBuf;

use convlens_data::synthetic_formats::{write_synthetic_format, SyntheticFormat, SyntheticWritten};

/// Flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder (torchvision's `root`; with `--format all`, one sub-folder per format).
    #[arg(long)]
    pub out: PathBuf,
    /// Training images.
    #[arg(long, default_value_t = 2000)]
    pub train: usize,
    /// Test images.
    #[arg(long, default_value_t = 500)]
    pub test: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Layout: idx, cifar10-python, cifar10-binary, cifar100-python, cifar100-binary, svhn,
    /// stl10, usps, emnist-SPLIT, qmnist, imagefolder-png, imagefolder-jpeg,
    /// imagefolder-bmp, or all (each in a sub-folder named after it).
    #[arg(long, default_value = "idx")]
    pub format: String,
}

/// The formats `--format` names.
fn formats(name: &str) -> anyhow::Result<Vec<SyntheticFormat>> {
    if name == "all" {
        return Ok(SyntheticFormat::ALL.to_vec());
    }
    let format = name
        .parse::<SyntheticFormat>()
        .map_err(|e| anyhow::anyhow!("{e}, or all"))?;
    Ok(vec![format])
}

/// The trainer's flags, quoted for a shell where needed.
fn command(written: &SyntheticWritten) -> String {
    let args: Vec<String> = trainer::commands::synthetic_train_flags(written)
        .into_iter()
        .map(|a| {
            if a.contains(|c: char| !(c.is_ascii_alphanumeric() || "-_./:=".contains(c))) {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a
            }
        })
        .collect();
    format!("cargo run -p trainer -- train {}", args.join(" "))
}

/// Writes the dataset(s) and prints how to train on each.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let formats = formats(&args.format)?;
    let all = args.format == "all";
    for format in formats {
        let root = if all {
            args.out.join(format.name())
        } else {
            args.out.clone()
        };
        let written = write_synthetic_format(&root, format, args.train, args.test, args.seed)?;
        let [c, h, w] = written.image_shape;
        println!(
            "{format}: wrote {} training and {} test images ({c}×{h}×{w}, {} classes) to {}",
            written.train,
            written.test,
            written.classes,
            root.display()
        );
        if written.unverified {
            println!("  (they differ from the published files, so loading needs --unverified)");
        }
        println!("  {}", command(&written));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_names_every_format_and_a_bad_name_lists_them() {
        assert_eq!(formats("all").unwrap().len(), SyntheticFormat::ALL.len());
        assert_eq!(formats("svhn").unwrap(), vec![SyntheticFormat::Svhn]);
        let err = formats("cifar").unwrap_err().to_string();
        assert!(
            err.starts_with("format = cifar: expected one of idx, "),
            "{err}"
        );
        assert!(err.ends_with("imagefolder-bmp, or all"), "{err}");
    }

    #[test]
    fn the_command_quotes_folders_with_spaces() {
        let written = SyntheticWritten {
            format: SyntheticFormat::Usps,
            dataset: "usps".into(),
            data_dir: PathBuf::from("/tmp/my data"),
            unverified: true,
            train: 1,
            test: 1,
            classes: 10,
            image_shape: [1, 16, 16],
        };
        assert_eq!(
            command(&written),
            "cargo run -p trainer -- train --dataset usps --data-dir '/tmp/my data' --unverified"
        );
    }
}
