//! Splits, batches, hold-out and the candle-datasets view.

use candle_core::Device;
use convlens_data::synthetic::{write_synthetic, SyntheticConfig};
use convlens_data::{Dataset, DatasetId, Locator, Origin};

fn synthetic() -> (tempfile::TempDir, Dataset) {
    let dir = crate::tempdir();
    write_synthetic(
        dir.path(),
        &SyntheticConfig {
            gzip: false,
            ..Default::default()
        },
    )
    .unwrap();
    let data = Dataset::load(
        &DatasetId::Idx(dir.path().to_path_buf()),
        &Locator::default(),
    )
    .unwrap();
    (dir, data)
}

#[test]
fn synthetic_data_loads_with_names_and_is_reproducible() {
    let (dir, data) = synthetic();
    assert_eq!(data.provenance.origin, Origin::IdxDir);
    assert_eq!((data.train.len(), data.test.len()), (600, 200));
    assert_eq!(data.class_names.len(), 10);
    assert_eq!(data.class_names[6], "ring");
    assert!(data.train.class_counts(10).iter().all(|&c| c > 30));
    let again = crate::tempdir();
    write_synthetic(
        again.path(),
        &SyntheticConfig {
            gzip: false,
            ..Default::default()
        },
    )
    .unwrap();
    for name in ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        assert_eq!(
            std::fs::read(dir.path().join(name)).unwrap(),
            std::fs::read(again.path().join(name)).unwrap()
        );
    }
}

#[test]
fn batches_are_pixels_over_255_in_nchw() {
    let (_dir, data) = synthetic();
    let (x, y) = data.train.batch(&[3, 0], &Device::Cpu).unwrap();
    assert_eq!(x.dims(), &[2, 1, 28, 28]);
    let x: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let expect: Vec<f32> = data
        .train
        .image(3)
        .iter()
        .chain(data.train.image(0))
        .map(|&p| p as f32 / 255.0)
        .collect();
    assert_eq!(x, expect);
    assert_eq!(
        y.to_vec1::<u32>().unwrap(),
        vec![data.train.labels()[3] as u32, data.train.labels()[0] as u32]
    );
}

#[test]
fn first_and_holdout_select_the_right_images() {
    let (_dir, data) = synthetic();
    let head = data.train.first(10);
    assert_eq!(head.len(), 10);
    assert_eq!(head.image(9), data.train.image(9));
    assert_eq!(data.train.first(10_000).len(), 600);
    let (train, val) = data.holdout(100, 1).unwrap();
    assert_eq!((train.len(), val.len()), (500, 100));
    let (_, val_again) = data.holdout(100, 1).unwrap();
    assert_eq!(val, val_again);
    for (holdout, max) in [(600, 599), (0, 599), (usize::MAX, 599)] {
        let err = data.holdout(holdout, 1).unwrap_err();
        assert!(
            matches!(err, convlens_data::DataError::HoldoutOutOfRange { holdout: h, max: m } if (h, m) == (holdout, max)),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("holdout {holdout}: must be between 1 and {max}")),
            "{text}"
        );
    }
}

#[cfg(feature = "candle-datasets")]
#[test]
fn candle_datasets_view_matches() {
    let (_dir, data) = synthetic();
    let c = data.to_candle(&Device::Cpu).unwrap();
    assert_eq!(c.train_images.dims(), &[600, 784]);
    assert_eq!(c.test_labels.dims(), &[200]);
    assert_eq!(c.labels, 10);
    let row: Vec<f32> = c.train_images.get(7).unwrap().to_vec1().unwrap();
    assert_eq!(
        row[..],
        data.train
            .image(7)
            .iter()
            .map(|&p| p as f32 / 255.0)
            .collect::<Vec<_>>()[..]
    );
    assert_eq!(c.train_labels.to_vec1::<u8>().unwrap(), data.train.labels());
}
