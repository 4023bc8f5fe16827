//! `cargo xtask <task>`: the project's own tasks, one module each.

mod bench;
mod build_time;
mod figures;
mod readme;
mod synthetic;
mod video;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "convlens project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Train the documented runs and write every README figure and results/metrics.json.
    Figures(figures::Args),
    /// Measure training throughput: our kernels, stock candle ops, and PyTorch.
    Bench(bench::Args),
    /// Write a synthetic dataset (ten classes of shapes) into a folder, in IDX or any
    /// torchvision layout (`--format`).
    Synthetic(synthetic::Args),
    /// Rewrite the README's generated blocks from the files in results/ (measures nothing).
    Readme,
    /// Time the README's quick-start commands from a fresh clone with an empty target folder.
    BuildTime(build_time::Args),
    /// A narrated walkthrough video of a documented run, from results/ (run after figures;
    /// needs ffmpeg and espeak-ng).
    Video(video::Args),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().task {
        Task::Bench(args) => bench::run(&args),
        Task::Figures(args) => figures::run(&args),
        Task::Synthetic(args) => synthetic::run(&args),
        Task::BuildTime(args) => build_time::run(&args),
        Task::Readme => readme::run(),
        Task::Video(args) => video::run(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
