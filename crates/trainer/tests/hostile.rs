//! The `trainer` binary under a few thousand generated command lines: random flags of every
//! subcommand with valid, out-of-range, huge, empty, unicode and path values. Whatever the
//! arguments, the binary never panics nor dies of a signal; a failure is exit code 2 with
//! one `error:` line; and no temporary file is left behind.
//!
//! The generator is seeded, so a failure names a case that reproduces. Nothing downloads:
//! `CONVLENS_OFFLINE` is set and the cache lies in each case's own folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use convlens_data::synthetic::{write_synthetic, SyntheticConfig};

/// Command lines run, split over two workers, unless `CONVLENS_HOSTILE_CASES` asks for
/// another number (CI runs 3000).
const CASES: usize = 600;

/// The number of command lines to run.
fn cases() -> usize {
    match std::env::var("CONVLENS_HOSTILE_CASES") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("CONVLENS_HOSTILE_CASES={v:?}: not a number of cases")),
        _ => CASES,
    }
}
/// The generator's seed.
const SEED: u64 = 0x5eed_c0de;
/// A case that runs longer than this is a hang.
const CASE_LIMIT: Duration = Duration::from_secs(60);

/// SplitMix64: small, seeded, and good enough to pick arguments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// What a worker's cases point at: a synthetic dataset, a finished run, a plain file, and
/// places that do not exist.
struct Fixture {
    root: tempfile::TempDir,
    data: PathBuf,
    other_data: PathBuf,
    run: PathBuf,
    file: PathBuf,
}

fn trainer(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    // One thread per process, as in `support::trainer`: the cases run two at a time.
    c.current_dir(cwd)
        .env("RAYON_NUM_THREADS", "1")
        .env("CONVLENS_OFFLINE", "1")
        .env_remove("CONVLENS_DATA")
        .env("HOME", cwd)
        .env("XDG_CACHE_HOME", cwd.join("cache"))
        .stdin(Stdio::null());
    c
}

impl Fixture {
    fn new() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let small = SyntheticConfig {
            train: 120,
            test: 40,
            ..SyntheticConfig::default()
        };
        write_synthetic(&data, &small).unwrap();
        let other_data = root.path().join("other data ü");
        write_synthetic(&other_data, &SyntheticConfig { seed: 9, ..small }).unwrap();
        let file = root.path().join("plain-file");
        std::fs::write(&file, b"not a folder").unwrap();
        let run = root.path().join("run");
        let o = trainer(root.path())
            .args(["train", "--epochs", "1", "--out"])
            .arg(&run)
            .arg("--dataset")
            .arg(format!("idx:{}", data.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Fixture {
            root,
            data,
            other_data,
            run,
            file,
        }
    }

    /// Values for a flag of this kind.
    fn value(&self, kind: Kind, rng: &mut Rng) -> String {
        let p = |p: &Path| p.display().to_string();
        let huge = ["18446744073709551615", "18446744073709551616", "4294967296"];
        let junk = [
            "", "-1", "abc", "ü✓", " 1", "+1", "1e3", "٣", "--", "-", "=", "NaN",
        ];
        let pool: Vec<String> = match kind {
            Kind::Count => ["0", "1", "2", "3", "16", "119", "120", "121", "600"]
                .iter()
                .chain(&huge)
                .chain(&junk)
                .map(|s| s.to_string())
                .collect(),
            // Never a large valid number: a run of 2^64 epochs would not end.
            Kind::Epochs => [
                "0",
                "1",
                "2",
                "18446744073709551616",
                "99999999999999999999999",
            ]
            .iter()
            .chain(&junk)
            .map(|s| s.to_string())
            .collect(),
            Kind::Float => [
                "0", "-0.5", "0.05", "0.9", "1", "1e308", "inf", "-inf", "NaN", "1e-320", "1e400",
                "0x10", "", "abc", "-0",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            Kind::Seed => ["0", "42", "18446744073709551615", "-1", "", "🙂", "1.5"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Kind::Dataset => {
                let mut v: Vec<String> = [
                    "cifar10",
                    "",
                    "idx:",
                    "idx:/nonexistent/ü",
                    "MNIST!",
                    "ÿ",
                    "idx",
                    "idx:.",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                for _ in 0..4 {
                    v.push(format!("idx:{}", p(&self.data)));
                }
                v.push(format!("idx:{}", p(&self.other_data)));
                v.push(format!("idx:{}", p(&self.file)));
                v.push(format!("idx:{}", p(&self.run)));
                // A known name finds nothing offline here (it may, quickly, where the system
                // has the data).
                v.push(["mnist", "fashion-mnist", "kmnist"][rng.below(3)].into());
                v
            }
            Kind::Optimizer => ["sgd", "adam", "adamw", "rmsprop", "", "ADAM"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Kind::Sampler => ["balanced", "shuffle", "sequential", "random", ""]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Kind::Backend => ["fast", "candle", "gpu", ""]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Kind::Layers => [
                "conv1",
                "relu1,conv2",
                "fc9",
                "",
                ",",
                "conv1,,conv2",
                "ü",
                "maxp2,relu3",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            Kind::Methods => [
                "saliency",
                "gradcam,occlusion",
                "ig",
                "smoothgrad,inputxgrad",
                "gradcampp",
                "lime",
                "",
                ",",
                "saliency,saliency",
                "ü",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            Kind::Target => [
                "predicted",
                "true",
                "3",
                "9",
                "10",
                "disc",
                "giraffe",
                "",
                "-1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            Kind::Path => {
                // Not "/": the tests may run as root, and a run or figures would land there.
                let mut v: Vec<String> = ["", "out", "ü/ñ", "/proc", "/proc/self", "-", "."]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                v.push("x".repeat(300));
                v.push(p(&self.data));
                v.push(p(&self.other_data));
                v.push(p(&self.run));
                v.push(p(&self.file));
                v.push(p(&self.file.join("below")));
                v.push(p(&self.root.path().join("nonexistent/deeper")));
                v.push(p(&self.run.join("model.safetensors")));
                v
            }
            Kind::Flag => unreachable!("a switch has no value"),
        };
        pool[rng.below(pool.len())].clone()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Count,
    Epochs,
    Float,
    Seed,
    Dataset,
    Optimizer,
    Sampler,
    Backend,
    Layers,
    Methods,
    Target,
    Path,
    Flag,
}

const TRAIN: &[(&str, Kind)] = &[
    ("--dataset", Kind::Dataset),
    ("--data-dir", Kind::Path),
    ("--epochs", Kind::Epochs),
    ("--batch-size", Kind::Count),
    ("--lr", Kind::Float),
    ("--optimizer", Kind::Optimizer),
    ("--momentum", Kind::Float),
    ("--weight-decay", Kind::Float),
    ("--sampler", Kind::Sampler),
    ("--seed", Kind::Seed),
    ("--limit-train", Kind::Count),
    ("--limit-val", Kind::Count),
    ("--holdout", Kind::Count),
    ("--init", Kind::Path),
    ("--out", Kind::Path),
    ("--resume", Kind::Flag),
    ("--backend", Kind::Backend),
];
const EVAL: &[(&str, Kind)] = &[
    ("--run", Kind::Path),
    ("--limit", Kind::Count),
    ("--json", Kind::Flag),
    ("--data-dir", Kind::Path),
];
const SUMMARY: &[(&str, Kind)] = &[
    ("--in-channels", Kind::Count),
    ("--input-size", Kind::Count),
    ("--classes", Kind::Count),
];
const DATASETS: &[(&str, Kind)] = &[("--data-dir", Kind::Path)];
const INSPECT: &[(&str, Kind)] = &[
    ("--run", Kind::Path),
    ("--images", Kind::Count),
    ("--layers", Kind::Layers),
    ("--out", Kind::Path),
    ("--data-dir", Kind::Path),
    ("--limit", Kind::Count),
];
const REPORT: &[(&str, Kind)] = &[
    ("--run", Kind::Path),
    ("--images", Kind::Count),
    ("--out", Kind::Path),
    ("--data-dir", Kind::Path),
];
const EXPLAIN: &[(&str, Kind)] = &[
    ("--run", Kind::Path),
    ("--methods", Kind::Methods),
    ("--layer", Kind::Layers),
    ("--images", Kind::Count),
    ("--target", Kind::Target),
    ("--eval-images", Kind::Count),
    ("--out", Kind::Path),
    ("--data-dir", Kind::Path),
];
/// Flags no subcommand has, and stray words.
const STRAY: &[&str] = &[
    "--bogus",
    "-x",
    "--",
    "ü",
    "",
    "--help=no",
    "--lr=0.1",
    "-h",
];

/// One generated command line.
fn command_line(fixture: &Fixture, rng: &mut Rng) -> Vec<String> {
    let (sub, flags): (&str, &[(&str, Kind)]) = match rng.below(15) {
        0..=3 => ("train", TRAIN),
        4..=5 => ("eval", EVAL),
        6..=7 => ("summary", SUMMARY),
        8 => ("datasets", DATASETS),
        9..=10 => ("inspect", INSPECT),
        11 => ("report", REPORT),
        12..=13 => ("explain", EXPLAIN),
        _ => (
            rng.pick(&["bogus", "", "--version", "help", "TRAIN", "ü"]),
            TRAIN,
        ),
    };
    let mut args = vec![sub.to_string()];
    for _ in 0..rng.below(6) {
        if rng.below(15) == 0 {
            args.push(rng.pick(STRAY).to_string());
            continue;
        }
        let (flag, kind) = flags[rng.below(flags.len())];
        args.push(flag.to_string());
        if kind != Kind::Flag {
            let value = fixture.value(kind, rng);
            // `--flag=value` and `--flag value` are the same to clap; both are exercised.
            if rng.below(4) == 0 {
                let last = args.pop().unwrap();
                args.push(format!("{last}={value}"));
            } else {
                args.push(value);
            }
        }
    }
    let has = |args: &[String], flag: &str| args.iter().any(|a| a.split('=').next() == Some(flag));
    // Keep training short: the synthetic data and one epoch unless the case says otherwise.
    if sub == "train" {
        for (flag, value) in [
            ("--dataset", format!("idx:{}", fixture.data.display())),
            ("--epochs", "1".into()),
            ("--limit-train", "32".into()),
        ] {
            if !has(&args, flag) {
                args.push(flag.into());
                args.push(value);
            }
        }
    }
    // Keep explaining short: two cheap methods on a few images unless the case says
    // otherwise.
    if sub == "explain" {
        for (flag, value) in [("--methods", "saliency,gradcam"), ("--eval-images", "6")] {
            if !has(&args, flag) {
                args.push(flag.into());
                args.push(value.into());
            }
        }
    }
    // `eval`, `inspect`, `report` and `explain` need --run; usually give one.
    if matches!(sub, "eval" | "inspect" | "report" | "explain")
        && !has(&args, "--run")
        && rng.below(4) != 0
    {
        args.push("--run".into());
        args.push(if rng.below(8) == 0 {
            fixture.run.display().to_string()
        } else {
            fixture.value(Kind::Path, rng)
        });
    }
    args
}

/// Files a failed or interrupted write would leave: `write_atomic`'s `.NAME.tmp-PID`, the
/// figures' `*.tmp`, the run folder's write probe.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".tmp") || name == ".write-test" {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(leftovers(&path));
        }
    }
    found
}

/// Runs one case; returns its exit code, or a description of what went wrong.
fn check(fixture: &Fixture, case: usize, args: &[String]) -> Result<i32, String> {
    let cwd = fixture.root.path().join(format!("case-{case}"));
    std::fs::create_dir_all(&cwd).unwrap();
    // Files, not pipes: a pipe nobody reads while the case runs could fill and stall it.
    let err_path = fixture.root.path().join(format!("case-{case}.stderr"));
    let mut child = trainer(&cwd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > CASE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "case {case}: trainer {args:?}: still running after {CASE_LIMIT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stderr = String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned();
    std::fs::remove_file(&err_path).unwrap();
    let problem = match status.code() {
        None => Some(format!("killed by a signal ({status})")),
        Some(0) => None,
        Some(2) => {
            let lines: Vec<&str> = stderr.lines().collect();
            let errors: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].starts_with("error:"))
                .collect();
            match errors[..] {
                [i] => {
                    // Only a "not found" message continues, with its lists.
                    let rest_ok = lines[i + 1..]
                        .iter()
                        .all(|l| l.starts_with("  - ") || *l == "To get it:");
                    (!rest_ok).then(|| "lines after the error line".to_string())
                }
                _ => Some(format!("{} lines start with error:", errors.len())),
            }
        }
        Some(code) => Some(format!("exit code {code}")),
    };
    let problem = problem.or_else(|| {
        stderr
            .contains("panicked")
            .then(|| "a panic message".to_string())
    });
    let mut left = leftovers(&cwd);
    left.extend(
        leftovers(fixture.root.path())
            .into_iter()
            .filter(|p| !p.starts_with(&cwd)),
    );
    let problem = problem.or_else(|| (!left.is_empty()).then(|| format!("left behind: {left:?}")));
    let _ = std::fs::remove_dir_all(&cwd);
    match problem {
        Some(p) => Err(format!(
            "case {case}: trainer {args:?}: {p}\nstderr:\n{stderr}"
        )),
        None => Ok(status.code().unwrap_or(-1)),
    }
}

#[test]
fn generated_command_lines_never_panic_and_fail_with_one_error_line() {
    let start = Instant::now();
    let cases = cases();
    let workers: Vec<_> = (0..2)
        .map(|worker| {
            std::thread::spawn(move || {
                let fixture = Fixture::new();
                let mut rng = Rng(SEED ^ worker);
                let mut failures = Vec::new();
                let mut outcomes = Vec::new();
                for case in (worker as usize..cases).step_by(2) {
                    let args = command_line(&fixture, &mut rng);
                    match check(&fixture, case, &args) {
                        Err(f) => failures.push(f),
                        Ok(code) => outcomes.push((args[0].clone(), code)),
                    }
                }
                (failures, outcomes)
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut outcomes = Vec::new();
    for w in workers {
        let (f, o) = w.join().unwrap();
        failures.extend(f);
        outcomes.extend(o);
    }
    eprintln!(
        "{cases} command lines in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // The generator reaches the work of every subcommand, not only the flag parser.
    for sub in [
        "train", "eval", "summary", "datasets", "inspect", "report", "explain",
    ] {
        let count = |code: i32| {
            outcomes
                .iter()
                .filter(|(s, c)| s == sub && *c == code)
                .count()
        };
        eprintln!("{sub}: {} succeeded, {} refused", count(0), count(2));
        assert!(
            count(0) > 0 && count(2) > 0,
            "{sub}: {} succeeded, {} refused",
            count(0),
            count(2)
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} command lines misbehaved; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
