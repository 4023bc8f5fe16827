//! What the `trainer` binary's test files share: the binary, offline and without a data
//! variable or fault injection, its stderr, and a synthetic `idx:` dataset.

use std::process::{Command, Output};

use convlens_data::synthetic::{write_synthetic, SyntheticConfig};

/// The `trainer` binary, offline, without `CONVLENS_DATA` and without fault injection.
pub fn trainer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.env("CONVLENS_OFFLINE", "1")
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
