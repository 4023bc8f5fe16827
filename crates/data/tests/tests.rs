//! Integration tests of convlens-data, one module per topic.

mod alloc;
mod download;
mod idx;
mod locate;
mod real;
mod sampler;
mod split;

use std::path::PathBuf;

/// A fresh temporary folder, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// `../shared/data/mnist` beside the repository, where the machines keep MNIST.
pub fn shared_mnist() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    dir.join("train-images-idx3-ubyte.gz")
        .is_file()
        .then_some(dir)
}
