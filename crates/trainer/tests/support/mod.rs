//! What the `trainer` binary's test files share: the binary, offline and without a data
//! variable or fault injection, its stderr, and a synthetic `idx:` dataset.

use std::process::{Command, Output};

use convlens_data::synthetic::{write_synthetic, SyntheticConfig};

/// The `trainer` binary, offline, without `CONVLENS_DATA` and without fault injection, on
/// one thread.
///
/// One thread because the tests of this file run side by side: two processes that each
/// spread every step over all cores spend most of their time waiting for each other (the
/// whole file took 44 s on 2 cores, 27 s on one thread per process). A run is
/// reproducible for a given number of threads; the kernels' threaded paths are tested in
/// convlens-ops, and `two_runs_with_the_same_arguments_are_identical` trains on two.
pub fn trainer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.env("RAYON_NUM_THREADS", "1")
        .env("CONVLENS_OFFLINE", "1")
        .env_remove("CONVLENS_DATA")
        .env_remove(convlens_train::ABORT_AT_WRITE_ENV);
    c
}

/// A process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A synthetic dataset of `train` and `test` images in a temporary folder, and its
/// `idx:` name.
pub fn synthetic_data(train: usize, test: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(
        dir.path(),
        &SyntheticConfig {
            train,
            test,
            ..Default::default()
        },
    )
    .unwrap();
    let id = format!("idx:{}", dir.path().display());
    (dir, id)
}
