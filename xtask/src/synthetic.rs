//! `cargo xtask synthetic`: a synthetic dataset for quick runs (`--dataset idx:DIR`).

use std::path::PathBuf;

use convlens_data::synthetic::{write_synthetic, SyntheticConfig};

/// Flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder.
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
}

/// Writes the dataset.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let config = SyntheticConfig {
        train: args.train,
        test: args.test,
        seed: args.seed,
        ..SyntheticConfig::default()
    };
    write_synthetic(&args.out, &config)?;
    println!(
        "wrote {} training and {} test images to {} (use --dataset idx:{})",
        args.train,
        args.test,
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
