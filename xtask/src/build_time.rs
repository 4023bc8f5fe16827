//! `cargo xtask build-time`: what a new user waits for. Clones the repository's committed
//! `HEAD` into a temporary folder, then runs the README's two quick-start commands there
//! with an empty target folder, one after the other, and records the wall time of each in
//! `results/build-time.json`; the README's build-time block is rendered from that file.
//!
//! Crates already in cargo's download cache are not downloaded again, so the figures are
//! compile, link and run times; a machine that has never fetched the dependencies adds its
//! download time.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The README's quick-start commands, in order: the main job, then the tests.
pub const QUICK_START: [&str; 2] = ["cargo run -p trainer", "cargo test --workspace"];

/// Flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the measurement goes.
    #[arg(long, default_value = "results/build-time.json")]
    pub out: PathBuf,
    /// Keep the temporary clone (its path is printed) instead of removing it.
    #[arg(long)]
    pub keep: bool,
}

/// One quick-start command and how long it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// The command as the README prints it.
    pub command: String,
    /// Wall-clock seconds from start to exit.
    pub seconds: f64,
    /// Seconds from start until cargo started the program (`Running ...`): the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_seconds: Option<f64>,
    /// Seconds from start until the first training epoch was reported (`epoch  1/..`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_epoch_seconds: Option<f64>,
}

/// The content of `results/build-time.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildTime {
    /// UTC date of the measurement (`YYYY-MM-DD`).
    pub date: String,
    /// The commit measured.
    pub commit: String,
    /// CPU model and logical cores.
    pub machine: String,
    /// `rustc --version`.
    pub rustc: String,
    /// The quick-start commands in order.
    pub steps: Vec<Step>,
}

impl BuildTime {
    /// Seconds of all steps together.
    pub fn total_seconds(&self) -> f64 {
        self.steps.iter().map(|s| s.seconds).sum()
    }

    /// Seconds from a fresh clone to the first trained epoch, then the tests: the first
    /// command until its first epoch plus every later command in full.
    pub fn first_epoch_and_tests_seconds(&self) -> Option<f64> {
        let (first, rest) = self.steps.split_first()?;
        Some(first.first_epoch_seconds? + rest.iter().map(|s| s.seconds).sum::<f64>())
    }
}

/// Runs the measurement.
pub fn run(args: &Args) -> Result<()> {
    let root = crate::figures::workspace_root();
    let commit = git(&root, &["rev-parse", "HEAD"])?;
    if !git(&root, &["status", "--porcelain", "--untracked-files=no"])?.is_empty() {
        eprintln!("note: uncommitted changes are not measured; the clone holds HEAD ({commit})");
    }
    let scratch = std::env::temp_dir().join(format!("convlens-build-time-{}", std::process::id()));
    let clone = scratch.join("convlens");
    std::fs::create_dir_all(&scratch).with_context(|| format!("{}", scratch.display()))?;
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&root)
        .arg(&clone)
        .status()
        .context("cannot run git")?;
    if !status.success() {
        bail!("git clone {} failed", root.display());
    }
    // The tests find ../shared beside the repository, as in a checkout on these machines.
    let shared = root.join("../shared");
    if shared.is_dir() {
        std::os::unix::fs::symlink(&shared, scratch.join("shared"))
            .context("cannot link ../shared beside the clone")?;
    }
    let mut steps = Vec::new();
    for command in QUICK_START {
        eprintln!("build-time: {command} (in {})", clone.display());
        let step = timed(&clone, command)?;
        eprintln!("build-time: {command}: {:.0} s", step.seconds);
        steps.push(step);
    }
    let result = BuildTime {
        date: utc_date(),
        commit,
        machine: machine(),
        rustc: output("rustc", &["--version"]).unwrap_or_else(|_| "unknown".into()),
        steps,
    };
    let mut bytes = serde_json::to_vec_pretty(&result)?;
    bytes.push(b'\n');
    let out = root.join(&args.out);
    convlens_data::write_atomic(&out, &bytes)?;
    crate::readme::update(&root, "build-time", &block(&result))?;
    if args.keep {
        eprintln!("clone kept at {}", clone.display());
    } else {
        std::fs::remove_dir_all(&scratch).ok();
    }
    eprintln!(
        "wrote {} and the README's build-time block ({:.0} s in all)",
        out.display(),
        result.total_seconds()
    );
    Ok(())
}

/// Runs `command` (words split on spaces) in `dir` with a fresh target folder, returning
/// its wall time and the moments its build ended and its first epoch was reported (both
/// read from its output, which is passed through). Cargo's variables of the outer
/// `cargo xtask` are removed so the inner build is what a user's shell would run.
fn timed(dir: &Path, command: &str) -> Result<Step> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut cmd = Command::new(words[0]);
    cmd.args(&words[1..]).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let cargo_var = key.starts_with("CARGO") && key != "CARGO_HOME";
        let rust_var = key.starts_with("RUST") && key != "RUSTUP_HOME" && key != "RUSTUP_TOOLCHAIN";
        if cargo_var || rust_var {
            cmd.env_remove(&key);
        }
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {command}"))?;
    let watch = |stream: Option<Box<dyn Read + Send>>, marker: fn(&str) -> bool| {
        std::thread::spawn(move || {
            let mut seen = None;
            if let Some(stream) = stream {
                for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                    if seen.is_none() && marker(&line) {
                        seen = Some(start.elapsed().as_secs_f64());
                    }
                    eprintln!("{line}");
                }
            }
            seen
        })
    };
    let out = watch(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        |l| l.starts_with("epoch "),
    );
    let err = watch(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        |l| l.trim_start().starts_with("Running `"),
    );
    let status = child
        .wait()
        .with_context(|| format!("cannot run {command}"))?;
    let seconds = start.elapsed().as_secs_f64();
    let first_epoch_seconds = out.join().unwrap_or(None);
    let build_seconds = err.join().unwrap_or(None);
    if !status.success() {
        bail!("{command} failed ({status}) in {}", dir.display());
    }
    Ok(Step {
        command: command.to_string(),
        seconds,
        build_seconds,
        first_epoch_seconds,
    })
}

/// The README block: both commands, their sum, the machine and the date.
pub fn block(b: &BuildTime) -> String {
    let mut s =
        String::from("| command (fresh clone, empty target folder) | wall time |\n|---|---:|\n");
    for step in &b.steps {
        s.push_str(&format!(
            "| `{}` | {} |\n",
            step.command,
            minutes(step.seconds)
        ));
    }
    s.push_str(&format!("| both | {} |\n", minutes(b.total_seconds())));
    s.push_str(&format!(
        "\nMeasured on {} on {} with {} (`cargo xtask build-time`, \
         [results/build-time.json](results/build-time.json)); the first command's time \
         includes its 20 training epochs.",
        b.date, b.machine, b.rustc
    ));
    if let Some(first) = b.steps.first() {
        if let (Some(build), Some(epoch)) = (first.build_seconds, first.first_epoch_seconds) {
            s.push_str(&format!(
                " Of it, compiling took {}; the first epoch was done after {}",
                minutes(build),
                minutes(epoch)
            ));
            if let Some(both) = b.first_epoch_and_tests_seconds() {
                s.push_str(&format!(
                    ", and a fresh clone reached its first trained epoch and then the end of \
                     the tests in {}",
                    minutes(both)
                ));
            }
            s.push('.');
        }
    }
    s.push('\n');
    s
}

fn minutes(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{} min {:02} s", s / 60, s % 60)
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!("git {} failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `CPU model, N cores`, as `cargo xtask figures` and `bench` record the machine.
fn machine() -> String {
    let m = crate::figures::machine();
    format!("{}, {} cores", m.cpu, m.cores)
}

fn utc_date() -> String {
    output("date", &["-u", "+%Y-%m-%d"]).unwrap_or_else(|_| "unknown date".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sums_the_steps_and_names_the_machine() {
        let b = BuildTime {
            date: "2026-12-02".into(),
            commit: "abc".into(),
            machine: "Some CPU, 2 cores".into(),
            rustc: "rustc 1.95.0".into(),
            steps: vec![
                Step {
                    command: QUICK_START[0].into(),
                    seconds: 150.4,
                    build_seconds: Some(100.2),
                    first_epoch_seconds: Some(103.0),
                },
                Step {
                    command: QUICK_START[1].into(),
                    seconds: 61.0,
                    build_seconds: None,
                    first_epoch_seconds: None,
                },
            ],
        };
        let text = block(&b);
        assert!(
            text.contains("| `cargo run -p trainer` | 2 min 30 s |"),
            "{text}"
        );
        assert!(text.contains("| both | 3 min 31 s |"), "{text}");
        assert!(
            text.contains("compiling took 1 min 40 s; the first epoch was done after 1 min 43 s")
                && text.contains("end of the tests in 2 min 44 s"),
            "{text}"
        );
        assert!(
            text.contains("2026-12-02") && text.contains("Some CPU, 2 cores"),
            "{text}"
        );
    }

    #[test]
    fn readme_quick_start_runs_the_measured_commands() {
        let readme = std::fs::read_to_string(crate::figures::workspace_root().join("README.md"))
            .expect("README.md");
        let start = readme
            .find("## Quick start")
            .expect("a quick start section");
        let section = &readme[start..];
        let code = &section[section.find("```sh\n").expect("a shell block") + 6..];
        let code = &code[..code.find("```").expect("end of the block")];
        let commands: Vec<&str> = code
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            commands, QUICK_START,
            "the README's quick start and `cargo xtask build-time` must run the same commands"
        );
    }
}
