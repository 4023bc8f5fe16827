//! Integration tests of convlens-data, one module per topic.

mod alloc;
mod archives;
mod cifar;
mod download;
mod emnist;
mod formats_stl_usps;
mod idx;
mod imagefolder;
mod locate;
mod real;
mod sampler;
mod split;
mod svhn;
mod transform;

use std::path::PathBuf;

/// A fresh temporary folder, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// Set to `1` (as CI does), a test that needs a real dataset fails when it is absent instead
/// of skipping.
pub const REQUIRE_DATA: &str = "CONVLENS_REQUIRE_DATA";

/// `dir` if it holds `file`; otherwise `None` with a note that the test is skipped — or,
/// when [`REQUIRE_DATA`] is `1`, a failure.
pub fn real_data(dir: PathBuf, file: &str, what: &str) -> Option<PathBuf> {
    if dir.join(file).is_file() {
        return Some(dir);
    }
    let message = format!("{what}: {} absent", dir.join(file).display());
    assert!(
        std::env::var(REQUIRE_DATA).as_deref() != Ok("1"),
        "{message}, and {REQUIRE_DATA}=1 requires it"
    );
    eprintln!("note: {message}; skipping (set {REQUIRE_DATA}=1 to fail instead)");
    None
}

/// `../shared/data/mnist` beside the repository, where the machines keep MNIST.
pub fn shared_mnist() -> Option<PathBuf> {
    real_data(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist"),
        "train-images-idx3-ubyte.gz",
        "MNIST",
    )
}
