//! The real datasets, when this machine has them (skipped with a note otherwise; a failure
//! with `CONVLENS_REQUIRE_DATA=1`).

use std::path::PathBuf;

use convlens_data::{Dataset, Verification, FASHION_MNIST, MNIST};

fn check(data: &Dataset) {
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!(data.train.image_shape(), [1, 28, 28]);
    assert_eq!(data.provenance.files.len(), 4);
    for f in &data.provenance.files {
        assert_eq!(
            f.verification,
            Verification::Content,
            "{}",
            f.path.display()
        );
    }
    let counts = data.test.class_counts(10);
    assert_eq!(counts.iter().sum::<usize>(), 10_000);
    assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
}

#[test]
fn mnist_loads_with_verified_checksums() {
    let Some(dir) = crate::shared_mnist() else {
        return;
    };
    let data = Dataset::from_dir(&dir, &MNIST).unwrap();
    check(&data);
    // The first training image is a 5 — the famous one.
    assert_eq!(data.train.labels()[0], 5);
}

#[test]
fn fashion_mnist_loads_with_verified_checksums() {
    let Some(dir) = crate::real_data(
        PathBuf::from("/usr/share/datasets/fashion-mnist"),
        "train-images-idx3-ubyte.gz",
        "Fashion-MNIST (apt-get install dataset-fashion-mnist)",
    ) else {
        return;
    };
    let data = Dataset::from_dir(&dir, &FASHION_MNIST).unwrap();
    check(&data);
    assert_eq!(data.test.class_counts(10), vec![1000; 10]);
    // The first training image is an ankle boot.
    assert_eq!(
        data.class_names[data.train.labels()[0] as usize],
        "Ankle boot"
    );
}

#[test]
fn a_copy_of_other_data_under_a_known_name_fails_its_checksum() {
    let dir = crate::tempdir();
    convlens_data::synthetic::write_synthetic(dir.path(), &Default::default()).unwrap();
    let err = Dataset::from_dir(dir.path(), &MNIST)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train-labels-idx1-ubyte.gz")
            && err.contains("checksum mismatch")
            && err.contains("not MNIST"),
        "{err}"
    );
}
