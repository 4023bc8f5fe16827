//! `trainer`: train the course CNN, evaluate it, and draw what it learned.
//!
//! This binary parses flags and dispatches; the work lives in the convlens crates. Every
//! error becomes one message on stderr and exit code 2.

use std::process::ExitCode;

use clap::Parser;
use trainer::cli::{Cli, Command};
use trainer::{animate, commands, error_message, explain, inspect, report};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version: printed to stdout, exit code 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("error: {}", trainer::cli::usage_error(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli
        .command
        .unwrap_or_else(|| Command::Train(Default::default()))
    {
        Command::Train(args) => commands::train(&args),
        Command::Eval(args) => commands::eval(&args),
        Command::Summary(args) => commands::summary(&args),
        Command::Datasets(args) => commands::datasets(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Animate(args) => animate::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::from(2)
        }
    }
}
