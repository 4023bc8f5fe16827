//! What reaches the disk when a run dies: a process aborted at every write point of a run
//! folder resumes to the very bytes of an uninterrupted run, readers see one consistent epoch
//! at every point, and a diverging run leaves the files of its last good epoch.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use crate::support::{stderr, synthetic_data, trainer};
use convlens_train::{RunDir, ABORT_AT_WRITE_ENV};

/// A synthetic dataset of `train` images and 100 test images.
fn data(train: usize) -> (tempfile::TempDir, String) {
    synthetic_data(train, 100)
}

/// Removes the wall-clock columns, which no two runs share, from JSON at any depth.
fn without_seconds(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            o.remove("train_seconds");
            o.remove("val_seconds");
            o.values_mut().for_each(without_seconds);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(without_seconds),
        _ => {}
    }
}

/// Every file of a run folder, relative path to content; the wall-clock seconds are left
/// out of the files that record them, every other byte is kept.
fn snapshot(run: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![run.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(run).unwrap().to_path_buf();
            let bytes = std::fs::read(&path).unwrap();
            let name = rel.to_string_lossy().into_owned();
            let bytes = match name.as_str() {
                "history.json" | "state.json" => {
                    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    without_seconds(&mut v);
                    serde_json::to_vec_pretty(&v).unwrap()
                }
                "history.csv" => String::from_utf8(bytes)
                    .unwrap()
                    .lines()
                    .map(|line| {
                        let cells: Vec<&str> = line.split(',').collect();
                        assert_eq!(cells[5..7].len(), 2, "{line}");
                        [&cells[..5], &cells[7..]].concat().join(",") + "\n"
                    })
                    .collect::<String>()
                    .into_bytes(),
                _ => bytes,
            };
            out.insert(rel, bytes);
        }
    }
    out
}

fn assert_same(a: &BTreeMap<PathBuf, Vec<u8>>, b: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "{what}: other files");
    for (name, bytes) in a {
        assert!(
            bytes == &b[name],
            "{what}: {} differs:\n{}\n---\n{}",
            name.display(),
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[name])
        );
    }
}

/// `trainer eval --json` on a run: loss, accuracy and confusion matrix.
fn evaluation(run: &Path) -> Result<serde_json::Value, String> {
    let o = trainer()
        .args(["eval", "--json", "--run"])
        .arg(run)
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(stderr(&o));
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    Ok(serde_json::json!([
        v["loss"],
        v["accuracy"],
        v["confusion"]
    ]))
}

/// History rows without the seconds, as readers of a run get them.
fn history(run: &Path) -> Vec<serde_json::Value> {
    let rows = RunDir::existing(run).unwrap().read_history().unwrap();
    let mut v = serde_json::to_value(rows).unwrap();
    without_seconds(&mut v);
    serde_json::from_value(v).unwrap()
}

const EPOCHS: usize = 3;

/// Snapshots of the run (`--snapshots 2`, 3 steps an epoch): before the first step and
/// after steps 2 and 3 of the first two epochs, after the last step of the third.
const SNAPSHOTS: [u64; 6] = [0, 2, 3, 5, 6, 9];

/// Change points of an uninterrupted run of `EPOCHS` epochs: creating the two folders (1
/// each), config.json (2: the complete temporary file, the rename), then per epoch its
/// snapshots, the two checkpoint files and state.json (2 each), the three published files
/// (2 each), and from the second epoch on the removal of the previous epoch's two
/// checkpoint files (1 each).
const WRITE_POINTS: u64 =
    2 + 2 + SNAPSHOTS.len() as u64 * 2 + EPOCHS as u64 * 12 + (EPOCHS as u64 - 1) * 2;

#[test]
fn a_run_aborted_at_any_write_resumes_byte_identical() {
    let (_d, id) = data(200);
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path, epochs: usize| {
        let mut a: Vec<String> = [
            "train",
            "--dataset",
            &id,
            "--batch-size",
            "16",
            "--limit-train",
            "48",
            "--lr",
            "0.05",
            "--momentum",
            "0.9",
            "--snapshots",
            "2",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(out.display().to_string());
        a.extend(["--epochs".into(), epochs.to_string()]);
        a
    };

    // What readers must see after each epoch: a run grown one epoch at a time.
    let steps = dir.path().join("steps");
    let mut after_epoch = vec![(serde_json::Value::Null, Vec::new())];
    for epochs in 1..=EPOCHS {
        let mut a = args(&steps, epochs);
        if epochs > 1 {
            a.push("--resume".into());
        }
        let o = trainer().args(&a).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        after_epoch.push((evaluation(&steps).unwrap(), history(&steps)));
    }

    let whole = dir.path().join("whole");
    let o = trainer().args(args(&whole, EPOCHS)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let reference = snapshot(&whole);
    assert!(reference.contains_key(Path::new("checkpoint/epoch-0003-model.safetensors")));
    assert_eq!(after_epoch[EPOCHS].1, history(&whole));
    // The run grown one epoch at a time took the same snapshots, byte for byte.
    let snapshots = |m: &BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
        m.iter()
            .filter(|(p, _)| p.starts_with("snapshots"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect()
    };
    let names: Vec<PathBuf> = SNAPSHOTS
        .iter()
        .map(|s| PathBuf::from(format!("snapshots/step-{s:08}.safetensors")))
        .collect();
    assert_eq!(snapshots(&reference).into_keys().collect::<Vec<_>>(), names);
    assert_same(
        &snapshots(&reference),
        &snapshots(&snapshot(&steps)),
        "a run grown one epoch at a time",
    );
    assert!(reference[&names[5]] == reference[Path::new("model.safetensors")]);

    // Resuming with what would change the result is refused, naming the flag: the backend,
    // and weights to start from (by content).
    let init = dir.path().join("init.safetensors");
    std::fs::copy(whole.join("model.safetensors"), &init).unwrap();
    for (extra, needles) in [
        (
            vec!["--backend", "candle"],
            vec!["--backend", "candle", "fast"],
        ),
        (
            vec!["--init", init.to_str().unwrap()],
            vec!["--init", "init.safetensors (MD5 ", "(not set)"],
        ),
    ] {
        let mut a = args(&whole, EPOCHS);
        a.push("--resume".into());
        a.extend(extra.iter().map(|s| s.to_string()));
        let o = trainer().args(&a).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        for n in needles {
            assert!(err.contains(n), "missing {n:?} in {err}");
        }
    }
    assert_same(
        &reference,
        &snapshot(&whole),
        "a run whose resume was refused",
    );

    let mut k = 1u64;
    loop {
        assert!(k <= WRITE_POINTS + 1, "the run still aborts at point {k}");
        let out = dir.path().join(format!("k{k}"));
        let o = trainer()
            .args(args(&out, EPOCHS))
            .env(ABORT_AT_WRITE_ENV, k.to_string())
            .output()
            .unwrap();
        if o.status.success() {
            assert_same(
                &reference,
                &snapshot(&out),
                "a run past its last write point",
            );
            break;
        }
        assert_eq!(
            o.status.signal(),
            Some(6),
            "point {k}: expected an abort, got {:?}: {}",
            o.status,
            stderr(&o)
        );

        // Readers see one epoch, whole: the one state.json commits.
        let done = std::fs::read_to_string(out.join("state.json"))
            .ok()
            .map(|t| {
                serde_json::from_str::<serde_json::Value>(&t).unwrap()["epochs_done"]
                    .as_u64()
                    .unwrap() as usize
            });
        match done {
            Some(n) => {
                assert_eq!(
                    evaluation(&out).unwrap(),
                    after_epoch[n].0,
                    "point {k}: eval"
                );
                assert_eq!(history(&out), after_epoch[n].1, "point {k}: history");
            }
            None => {
                let err = evaluation(&out).unwrap_err();
                assert!(!err.contains("panicked") && err.contains("--run"), "{err}");
            }
        }

        let mut resume = args(&out, EPOCHS);
        resume.push("--resume".into());
        let o = trainer().args(&resume).output().unwrap();
        if !o.status.success() {
            // Aborted before config.json was in place: there is no run to resume, and the
            // folder takes a new one.
            let err = stderr(&o);
            assert!(err.contains("no training state"), "point {k}: {err}");
            assert!(!out.join("config.json").exists());
            let o = trainer().args(args(&out, EPOCHS)).output().unwrap();
            assert!(o.status.success(), "point {k}: {}", stderr(&o));
        }
        assert_same(
            &reference,
            &snapshot(&out),
            &format!("aborted at point {k}"),
        );
        std::fs::remove_dir_all(&out).unwrap();
        k += 1;
    }
    assert_eq!(
        k,
        WRITE_POINTS + 1,
        "the walk must abort at every write point, and only there"
    );
}

/// A run that diverges after some good epochs stops naming the epoch, the step and a lower
/// learning rate, and leaves the very files of a run stopped one epoch earlier.
///
/// Weight decay with `lr · weight_decay > 2` multiplies every weight by
/// `1 − lr · weight_decay` (here −2) at each step, whatever the data: the weights grow
/// geometrically until the network's outputs overflow, a few epochs in. One step per epoch,
/// so that every update is an epoch's last and nothing but a check before saving keeps a
/// broken epoch off the disk.
#[test]
fn a_diverging_run_keeps_the_files_of_its_last_good_epoch() {
    let (_d, id) = data(200);
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path, epochs: usize| {
        let mut a: Vec<String> = [
            "train",
            "--dataset",
            &id,
            "--batch-size",
            "16",
            "--limit-train",
            "16",
            "--lr",
            "1",
            "--weight-decay",
            "3",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(out.display().to_string());
        a.extend(["--epochs".into(), epochs.to_string()]);
        a
    };
    let diverged = dir.path().join("diverged");
    let o = trainer().args(args(&diverged, 30)).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("training diverged") && !err.contains("panicked"),
        "{err}"
    );
    assert!(err.contains("(--lr 0.1)"), "{err}");
    let at = err.split("at epoch ").nth(1).expect("names the epoch");
    let epoch: usize = at.split(',').next().unwrap().parse().unwrap();
    assert!(at.contains(", step 1;"), "one step per epoch: {err}");
    assert!(epoch >= 3, "the run must have good epochs to keep: {err}");

    let stopped = dir.path().join("stopped");
    let o = trainer().args(args(&stopped, epoch - 1)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let config_without_epochs = |run: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
        v["config"].as_object_mut().unwrap().remove("epochs");
        v
    };
    assert_eq!(
        config_without_epochs(&diverged),
        config_without_epochs(&stopped)
    );
    let mut kept = snapshot(&diverged);
    let mut good = snapshot(&stopped);
    kept.remove(Path::new("config.json"));
    good.remove(Path::new("config.json"));
    assert_same(&good, &kept, "the diverged run");
    let history = std::fs::read_to_string(diverged.join("history.json")).unwrap();
    assert!(!history.contains("null"), "{history}");

    // Resumed, it diverges at the same point again and changes nothing.
    let mut resume = args(&diverged, 30);
    resume.push("--resume".into());
    let o = trainer().args(&resume).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("at epoch {epoch}, step 1;")),
        "{}",
        stderr(&o)
    );
    let mut after = snapshot(&diverged);
    after.remove(Path::new("config.json"));
    assert_same(&good, &after, "the diverged run, resumed");
}
