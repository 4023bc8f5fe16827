//! The synthetic shapes in every format, written where torchvision leaves each dataset and
//! loaded back through `Dataset::load_with`: shapes, counts, classes and pixels; checksum
//! policy, label sets, resize and grayscale at load, missing data and rejected downloads.

use std::collections::HashMap;
use std::path::Path;

use convlens_data::formats::cifar;
use convlens_data::formats::emnist::EmnistSplit;
use convlens_data::formats::imagefolder::ImageFormat;
use convlens_data::formats::{emnist, stl10, svhn};
use convlens_data::synthetic::{generate, SHAPE_NAMES};
use convlens_data::synthetic_colour::colour_dataset;
use convlens_data::synthetic_formats::{
    synthetic_data, write_synthetic_format, SyntheticData, SyntheticFormat,
};
use convlens_data::transform::{resize, to_grayscale};
use convlens_data::{
    Archive, DataError, Dataset, DatasetId, LabelSet, Locator, ReadOptions, Split,
};

use crate::download::{serve, Reply};

const TRAIN: usize = 40;
const TEST: usize = 20;
const SEED: u64 = 7;

fn locator(root: &Path) -> Locator {
    Locator {
        data_dir: Some(root.to_path_buf()),
        ..Locator::default()
    }
}

fn unverified() -> ReadOptions {
    ReadOptions {
        unverified: true,
        ..ReadOptions::default()
    }
}

fn load(name: &str, root: &Path, options: &ReadOptions) -> Result<Dataset, DataError> {
    let id: DatasetId = name.parse()?;
    Dataset::load_with(&id, &locator(root), options)
}

/// Writes `format` into a fresh folder and loads it back (unverified files allowed).
fn round_trip(format: SyntheticFormat) -> (tempfile::TempDir, Dataset) {
    let dir = crate::tempdir();
    let written = write_synthetic_format(dir.path(), format, TRAIN, TEST, SEED)
        .unwrap_or_else(|e| panic!("{format}: {e}"));
    let data = load(&written.dataset, &written.data_dir, &unverified())
        .unwrap_or_else(|e| panic!("{format}: {e}"));
    (dir, data)
}

/// The number of classes each format's reader must give.
fn expected_classes(format: SyntheticFormat) -> usize {
    match format {
        SyntheticFormat::Cifar100Python | SyntheticFormat::Cifar100Binary => 100,
        SyntheticFormat::Emnist(EmnistSplit::ByClass) => 62,
        SyntheticFormat::Emnist(EmnistSplit::ByMerge | EmnistSplit::Balanced) => 47,
        SyntheticFormat::Emnist(EmnistSplit::Letters) => 27,
        _ => 10,
    }
}

/// A split's images in the order an image folder gives them back: by class, then by
/// position in the split (the files are named by position).
fn in_folder_order(split: &Split) -> Split {
    let mut order: Vec<usize> = (0..split.len()).collect();
    order.sort_by_key(|&i| split.labels()[i]);
    split.select(&order)
}

/// The largest and the mean absolute difference between two splits' pixels.
fn differences(a: &Split, b: &Split) -> (u8, f64) {
    let (mut max, mut sum, mut n) = (0u8, 0u64, 0u64);
    for i in 0..a.len() {
        for (x, y) in a.image(i).iter().zip(b.image(i)) {
            let d = x.abs_diff(*y);
            max = max.max(d);
            sum += u64::from(d);
            n += 1;
        }
    }
    (max, sum as f64 / n as f64)
}

#[test]
fn every_format_loads_back_with_the_pixels_written() {
    assert_eq!(SyntheticFormat::ALL.len(), 18);
    for format in SyntheticFormat::ALL {
        let expected: SyntheticData = synthetic_data(format, TRAIN, TEST, SEED).unwrap();
        let (dir, data) = round_trip(format);
        let shape = format.image_shape();
        assert_eq!(data.train.image_shape(), shape, "{format}");
        assert_eq!(data.test.image_shape(), shape, "{format}");
        assert_eq!(
            (data.train.len(), data.test.len()),
            (TRAIN, TEST),
            "{format}"
        );
        assert_eq!(data.classes(), expected_classes(format), "{format}");
        assert_eq!(data.class_names, expected.class_names, "{format}");
        match format {
            SyntheticFormat::ImageFolder(image_format) => {
                assert_eq!(data.name, "imagefolder", "{format}");
                assert_eq!(data.provenance.dir, dir.path(), "{format}");
                for (loaded, written) in
                    [(&data.train, &expected.train), (&data.test, &expected.test)]
                {
                    let written = in_folder_order(written);
                    assert_eq!(loaded.labels(), written.labels(), "{format}");
                    let (max, mean) = differences(loaded, &written);
                    if image_format == ImageFormat::Jpeg {
                        // Lossy, and chroma is subsampled at the edges between colours.
                        assert!(mean > 0.0 && mean < 4.0, "{format}: mean difference {mean}");
                        assert!(max > 0 && max <= 40, "{format}: largest difference {max}");
                    } else {
                        assert_eq!((max, mean), (0, 0.0), "{format}");
                    }
                }
            }
            _ => {
                assert_eq!(data.train, expected.train, "{format}");
                assert_eq!(data.test, expected.test, "{format}");
            }
        }
        if let Ok(id) = written_id(format, dir.path()) {
            assert_eq!(data.name, id, "{format}");
        }
    }
}

/// The dataset name a format loads as, for the archive formats.
fn written_id(format: SyntheticFormat, root: &Path) -> Result<String, ()> {
    match format.dataset_name(root).parse::<DatasetId>() {
        Ok(DatasetId::Archive(a)) => Ok(a.name()),
        _ => Err(()),
    }
}

#[test]
fn the_data_written_is_the_shape_generators_own() {
    let (colour_train, colour_test) = colour_dataset(TRAIN, TEST, 32, SEED).unwrap();
    let cifar = synthetic_data(SyntheticFormat::Cifar10Python, TRAIN, TEST, SEED).unwrap();
    assert_eq!(cifar.train, colour_train);
    assert_eq!(cifar.test, colour_test);
    assert_eq!(cifar.class_names, SHAPE_NAMES);

    let (stl_train, _) = colour_dataset(TRAIN, TEST, 96, SEED).unwrap();
    let stl = synthetic_data(SyntheticFormat::Stl10, TRAIN, TEST, SEED).unwrap();
    assert_eq!(stl.train, stl_train);

    let (usps_images, usps_labels) = generate(TRAIN, 16, SEED);
    let usps = synthetic_data(SyntheticFormat::Usps, TRAIN, TEST, SEED).unwrap();
    assert_eq!(
        usps.train,
        Split::new(usps_images.pixels, usps_labels, [1, 16, 16]).unwrap()
    );
    assert_eq!(usps.class_names[3], "3");

    let (letter_images, shapes) = generate(TEST, 28, SEED ^ 0x7e57_7e57);
    let letters = synthetic_data(
        SyntheticFormat::Emnist(EmnistSplit::Letters),
        TRAIN,
        TEST,
        SEED,
    )
    .unwrap();
    let plus_one: Vec<u8> = shapes.iter().map(|s| s + 1).collect();
    assert_eq!(letters.test.labels(), plus_one);
    assert_eq!(
        letters.test,
        Split::new(letter_images.pixels, plus_one, [1, 28, 28]).unwrap()
    );
    assert_eq!(letters.class_names[1], "a");
    assert_eq!(letters.class_names[10], "j");

    let c100 = synthetic_data(SyntheticFormat::Cifar100Binary, TRAIN, TEST, SEED).unwrap();
    let coarse = c100.coarse.as_ref().unwrap();
    for i in 0..TRAIN {
        let fine = colour_train.labels()[i] * 10 + (i % 10) as u8;
        assert_eq!(c100.train.labels()[i], fine, "image {i}");
        assert_eq!(coarse.train[i], fine / 5, "image {i}");
        assert_eq!(c100.train.image(i), colour_train.image(i), "image {i}");
    }
    assert_eq!(c100.class_names.len(), 100);
    assert_eq!(c100.class_names[53], "disc 3");
    assert_eq!(coarse.names.len(), 20);
    assert_eq!(coarse.names[11], "disc 5-9");
    assert_eq!(coarse.names[0], "horizontal bar 0-4");

    let folder =
        synthetic_data(SyntheticFormat::ImageFolder(ImageFormat::Png), 10, 10, SEED).unwrap();
    assert_eq!(
        folder.class_names,
        [
            "anti-diagonal",
            "block",
            "cross",
            "diagonal",
            "disc",
            "horizontal bar",
            "plus",
            "ring",
            "square",
            "vertical bar"
        ]
    );
    // Ten images, ten classes: each exactly once in both splits.
    for split in [&folder.train, &folder.test] {
        assert_eq!(split.class_counts(10), vec![1; 10]);
    }
}

#[test]
fn same_seed_same_files_other_seed_other_images() {
    let a = synthetic_data(SyntheticFormat::Svhn, TRAIN, TEST, 1).unwrap();
    let b = synthetic_data(SyntheticFormat::Svhn, TRAIN, TEST, 1).unwrap();
    let c = synthetic_data(SyntheticFormat::Svhn, TRAIN, TEST, 2).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.train, c.train);
    let (d1, d2) = (crate::tempdir(), crate::tempdir());
    for d in [&d1, &d2] {
        write_synthetic_format(d.path(), SyntheticFormat::Usps, TRAIN, TEST, 1).unwrap();
    }
    for file in ["usps.bz2", "usps.t.bz2"] {
        assert_eq!(
            std::fs::read(d1.path().join(file)).unwrap(),
            std::fs::read(d2.path().join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn files_land_where_torchvision_looks() {
    let cases: [(SyntheticFormat, &[&str]); 10] = [
        (
            SyntheticFormat::Idx,
            &["train-images-idx3-ubyte.gz", "classes.txt"],
        ),
        (
            SyntheticFormat::Cifar10Python,
            &[
                "cifar-10-batches-py/data_batch_5",
                "cifar-10-batches-py/batches.meta",
            ],
        ),
        (
            SyntheticFormat::Cifar10Binary,
            &["cifar-10-batches-bin/test_batch.bin"],
        ),
        (SyntheticFormat::Cifar100Python, &["cifar-100-python/meta"]),
        (
            SyntheticFormat::Cifar100Binary,
            &["cifar-100-binary/train.bin"],
        ),
        (
            SyntheticFormat::Svhn,
            &["train_32x32.mat", "test_32x32.mat"],
        ),
        (
            SyntheticFormat::Stl10,
            &["stl10_binary/train_X.bin", "stl10_binary/class_names.txt"],
        ),
        (SyntheticFormat::Usps, &["usps.bz2", "usps.t.bz2"]),
        (
            SyntheticFormat::Emnist(EmnistSplit::Letters),
            &["EMNIST/raw/emnist-letters-train-images-idx3-ubyte"],
        ),
        (
            SyntheticFormat::Qmnist,
            &["QMNIST/raw/qmnist-test-labels-idx2-int"],
        ),
    ];
    for (format, files) in cases {
        let dir = crate::tempdir();
        let written = write_synthetic_format(dir.path(), format, TRAIN, TEST, SEED).unwrap();
        for file in files {
            assert!(dir.path().join(file).is_file(), "{format}: {file}");
        }
        assert_eq!(written.data_dir, dir.path());
        assert_eq!(written.unverified, format.needs_unverified());
    }
    let dir = crate::tempdir();
    let written = write_synthetic_format(
        dir.path(),
        SyntheticFormat::ImageFolder(ImageFormat::Jpeg),
        TRAIN,
        TEST,
        SEED,
    )
    .unwrap();
    assert!(dir.path().join("train/disc").is_dir());
    assert!(dir.path().join("test/ring").is_dir());
    assert_eq!(
        written.dataset,
        format!("imagefolder:{}", dir.path().display())
    );
    assert!(!written.needs_data_dir());
}

#[test]
fn published_formats_need_unverified_and_name_the_file() {
    let mut refused = Vec::new();
    for format in SyntheticFormat::ALL {
        let dir = crate::tempdir();
        let written = write_synthetic_format(dir.path(), format, TRAIN, TEST, SEED).unwrap();
        match load(&written.dataset, &written.data_dir, &ReadOptions::default()) {
            Ok(data) => {
                assert!(!written.unverified, "{format} loaded without --unverified");
                assert_eq!(data.train.len(), TRAIN, "{format}");
            }
            Err(e @ DataError::NotPublished { .. }) => {
                assert!(written.unverified, "{format}: {e}");
                let DataError::NotPublished { path, .. } = &e else {
                    unreachable!()
                };
                let message = e.to_string();
                let file = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(path.starts_with(dir.path()), "{format}: {message}");
                assert!(message.contains(&file), "{format}: {message}");
                assert!(message.contains("unverified"), "{format}: {message}");
                refused.push((format.name(), file));
            }
            Err(e) => panic!("{format}: {e}"),
        }
    }
    let expected = [
        (
            "cifar10-python",
            cifar::CIFAR10_PYTHON_FILES[0].0.to_string(),
        ),
        (
            "cifar100-python",
            cifar::CIFAR100_PYTHON_FILES[0].0.to_string(),
        ),
        ("svhn", svhn::TRAIN_FILE.to_string()),
        ("stl10", "train_X.bin".to_string()),
        ("usps", "usps.bz2".to_string()),
        ("qmnist", "qmnist-train-images-idx3-ubyte".to_string()),
    ];
    assert_eq!(refused, expected);
}

#[test]
fn cifar100_coarse_labels_give_twenty_classes() {
    for format in [
        SyntheticFormat::Cifar100Python,
        SyntheticFormat::Cifar100Binary,
    ] {
        let expected = synthetic_data(format, TRAIN, TEST, SEED).unwrap();
        let coarse = expected.coarse.unwrap();
        let dir = crate::tempdir();
        write_synthetic_format(dir.path(), format, TRAIN, TEST, SEED).unwrap();
        let options = ReadOptions {
            labels: LabelSet::Coarse,
            ..unverified()
        };
        let data = load("cifar100", dir.path(), &options).unwrap();
        assert_eq!(data.classes(), 20, "{format}");
        assert_eq!(data.class_names, coarse.names, "{format}");
        assert_eq!(data.train.labels(), coarse.train, "{format}");
        assert_eq!(data.test.labels(), coarse.test, "{format}");
        assert_eq!(data.train.image(5), expected.train.image(5), "{format}");
    }
}

#[test]
fn coarse_labels_on_cifar10_are_refused() {
    let dir = crate::tempdir();
    write_synthetic_format(
        dir.path(),
        SyntheticFormat::Cifar10Binary,
        TRAIN,
        TEST,
        SEED,
    )
    .unwrap();
    let options = ReadOptions {
        labels: LabelSet::Coarse,
        ..unverified()
    };
    let err = load("cifar10", dir.path(), &options).unwrap_err();
    assert!(
        matches!(&err, DataError::InvalidArgument { name, value, .. } if name == "labels" && value == "coarse"),
        "{err:?}"
    );
    assert!(err.to_string().contains("cifar10"), "{err}");
}

#[test]
fn usps_resized_at_load() {
    let dir = crate::tempdir();
    write_synthetic_format(dir.path(), SyntheticFormat::Usps, TRAIN, TEST, SEED).unwrap();
    let options = ReadOptions {
        resize: Some(32),
        ..unverified()
    };
    let data = load("usps", dir.path(), &options).unwrap();
    let expected = synthetic_data(SyntheticFormat::Usps, TRAIN, TEST, SEED).unwrap();
    assert_eq!(data.train.image_shape(), [1, 32, 32]);
    assert_eq!((data.train.len(), data.test.len()), (TRAIN, TEST));
    assert_eq!(data.train, resize(&expected.train, 32).unwrap());
    assert_eq!(data.test, resize(&expected.test, 32).unwrap());
    assert_eq!(
        data.notes,
        ["resized from 16×16 to 32×32 (bilinear, antialiased)"]
    );
}

#[test]
fn cifar10_in_grayscale_at_load() {
    let dir = crate::tempdir();
    write_synthetic_format(
        dir.path(),
        SyntheticFormat::Cifar10Python,
        TRAIN,
        TEST,
        SEED,
    )
    .unwrap();
    let options = ReadOptions {
        grayscale: true,
        ..unverified()
    };
    let data = load("cifar10", dir.path(), &options).unwrap();
    let expected = synthetic_data(SyntheticFormat::Cifar10Python, TRAIN, TEST, SEED).unwrap();
    assert_eq!(data.train.image_shape(), [1, 32, 32]);
    assert_eq!(data.train, to_grayscale(&expected.train).unwrap());
    assert_eq!(data.test.labels(), expected.test.labels());
}

#[test]
fn an_empty_folder_lists_the_expected_files() {
    let dir = crate::tempdir();
    for archive in Archive::all() {
        let err = load(&archive.name(), dir.path(), &unverified()).unwrap_err();
        assert!(
            matches!(err, DataError::ArchiveNotFound { .. }),
            "{archive}: {err:?}"
        );
    }
    let message = load("cifar10", dir.path(), &unverified())
        .unwrap_err()
        .to_string();
    for file in [
        "cifar-10-batches-py/data_batch_1",
        "cifar-10-batches-py/batches.meta",
        "cifar-10-batches-bin/data_batch_1.bin",
        "cifar-10-batches-bin/batches.meta.txt",
    ] {
        assert!(message.contains(file), "{file} not in: {message}");
    }
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    let message = load("svhn", dir.path(), &unverified())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("train_32x32.mat, test_32x32.mat"),
        "{message}"
    );
    let message = load("emnist-letters", dir.path(), &unverified())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("EMNIST/raw/emnist-letters-train-images-idx3-ubyte"),
        "{message}"
    );
}

#[test]
fn svhn_downloads_that_differ_from_the_published_files_are_rejected() {
    let src = crate::tempdir();
    write_synthetic_format(src.path(), SyntheticFormat::Svhn, TRAIN, TEST, SEED).unwrap();
    let routes: HashMap<String, Reply> = [svhn::TRAIN_FILE, svhn::TEST_FILE]
        .into_iter()
        .map(|f| {
            (
                f.to_string(),
                Reply::Body(std::fs::read(src.path().join(f)).unwrap()),
            )
        })
        .collect();
    let base = serve(routes, 4);
    let cache = crate::tempdir();
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: true,
        mirrors: Some(vec![base.clone()]),
        ..Locator::default()
    };
    // Allowing unverified files does not extend to downloads: they must be the published ones.
    let err = Dataset::load_with(&"svhn".parse().unwrap(), &locator, &unverified()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::ArchiveNotFound { .. }), "{err:?}");
    assert!(message.contains("checksum mismatch"), "{message}");
    assert!(message.contains(svhn::TRAIN_MD5), "{message}");
    assert!(
        message.contains(&format!("download of {base}{} failed", svhn::TRAIN_FILE)),
        "{message}"
    );
    let dest = cache.path().join("svhn");
    let left: Vec<String> = std::fs::read_dir(&dest)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", dest.display());
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The synthetic CIFAR-10 Python files packed as torchvision's archive is: a `.tar.gz`
/// whose top folder is `cifar-10-batches-py/`.
fn cifar10_tar_gz() -> Vec<u8> {
    let src = crate::tempdir();
    write_synthetic_format(
        src.path(),
        SyntheticFormat::Cifar10Python,
        TRAIN,
        TEST,
        SEED,
    )
    .unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(
        cifar::CIFAR10_PYTHON_ARCHIVE.folder,
        src.path().join(cifar::CIFAR10_PYTHON_ARCHIVE.folder),
    )
    .unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

/// The public path checks the published MD5s: an archive that is not the published one (a
/// well-formed CIFAR-10 archive of other images, or any bytes) is rejected before anything
/// is extracted, and nothing is left in the cache.
#[test]
fn archives_that_differ_from_the_published_ones_are_rejected_before_extraction() {
    let cases = [
        (
            "cifar10",
            cifar::CIFAR10_PYTHON_ARCHIVE.file,
            cifar::CIFAR10_PYTHON_ARCHIVE.md5,
            cifar10_tar_gz(),
        ),
        (
            "cifar100",
            cifar::CIFAR100_PYTHON_ARCHIVE.file,
            cifar::CIFAR100_PYTHON_ARCHIVE.md5,
            b"not the archive".to_vec(),
        ),
        (
            "stl10",
            stl10::STL10_ARCHIVE_NAME,
            stl10::STL10_ARCHIVE_MD5,
            b"not the archive".to_vec(),
        ),
        (
            "emnist-letters",
            "gzip.zip",
            emnist::EMNIST_ARCHIVE_MD5,
            b"not the archive".to_vec(),
        ),
    ];
    for (name, file, md5, body) in cases {
        let base = serve(HashMap::from([(file.to_string(), Reply::Body(body))]), 1);
        let cache = crate::tempdir();
        let locator = Locator {
            cache_dir: Some(cache.path().to_path_buf()),
            download: true,
            mirrors: Some(vec![base.clone()]),
            ..Locator::default()
        };
        let err = Dataset::load_with(&name.parse().unwrap(), &locator, &unverified()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, DataError::ArchiveNotFound { .. }), "{err:?}");
        assert!(
            message.contains(&format!("download of {base}{file} failed")),
            "{name}: {message}"
        );
        assert!(message.contains("checksum mismatch"), "{name}: {message}");
        assert!(message.contains(md5), "{name}: {message}");
        let left = files_under(cache.path());
        assert!(left.is_empty(), "{name}: left in the cache: {left:?}");
    }
}

/// A connection that closes before the announced length leaves nothing in the cache.
#[test]
fn an_archive_download_cut_short_leaves_nothing() {
    let file = cifar::CIFAR10_PYTHON_ARCHIVE.file;
    let base = serve(
        HashMap::from([(file.to_string(), Reply::CloseMidway(cifar10_tar_gz()))]),
        1,
    );
    let cache = crate::tempdir();
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: true,
        mirrors: Some(vec![base.clone()]),
        ..Locator::default()
    };
    let message = Dataset::load_with(&"cifar10".parse().unwrap(), &locator, &unverified())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&format!("download of {base}{file} failed")),
        "{message}"
    );
    assert!(message.contains("broke off"), "{message}");
    let left = files_under(cache.path());
    assert!(left.is_empty(), "left in the cache: {left:?}");
}

/// With downloads turned off, nothing is asked of the server (which would 404) and the
/// error says how to get the archive.
#[test]
fn archive_downloads_respect_the_download_switch() {
    let cache = crate::tempdir();
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: false,
        mirrors: Some(vec!["http://127.0.0.1:9/".into()]),
        ..Locator::default()
    };
    let message = Dataset::load_with(&"cifar10".parse().unwrap(), &locator, &unverified())
        .unwrap_err()
        .to_string();
    assert!(message.contains("download: turned off"), "{message}");
    assert!(
        message.contains(cifar::CIFAR10_PYTHON_ARCHIVE.url),
        "{message}"
    );
    assert!(files_under(cache.path()).is_empty());
}

#[test]
fn counts_a_format_cannot_hold_are_refused() {
    let dir = crate::tempdir();
    let err = write_synthetic_format(dir.path(), SyntheticFormat::Svhn, 0, 5, SEED).unwrap_err();
    assert!(err.to_string().contains("0 train, 5 test"), "{err}");
    let err = write_synthetic_format(
        dir.path(),
        SyntheticFormat::ImageFolder(ImageFormat::Png),
        20,
        9,
        SEED,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "test = 9 images: an image folder needs an image of each of the 10 classes in every split: at least 10 images"
    );
    let err =
        write_synthetic_format(dir.path(), SyntheticFormat::Cifar10Python, 4, 5, SEED).unwrap_err();
    assert!(matches!(err, DataError::InvalidArgument { .. }), "{err:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn format_names_round_trip() {
    for format in SyntheticFormat::ALL {
        assert_eq!(format.name().parse::<SyntheticFormat>().unwrap(), format);
    }
    assert_eq!(
        "emnist-letters".parse::<SyntheticFormat>().unwrap(),
        SyntheticFormat::Emnist(EmnistSplit::Letters)
    );
    let err = "cifar".parse::<SyntheticFormat>().unwrap_err().to_string();
    assert!(
        err.starts_with("format = cifar: expected one of idx, cifar10-python"),
        "{err}"
    );
}

#[test]
fn qmnist_downloads_go_to_torchvisions_raw_folder_and_are_verified() {
    let src = crate::tempdir();
    write_synthetic_format(src.path(), SyntheticFormat::Qmnist, TRAIN, TEST, SEED).unwrap();
    let raw = src.path().join("QMNIST/raw");
    let name = "qmnist-train-images-idx3-ubyte";
    let body = convlens_data::idx::gzip(&std::fs::read(raw.join(name)).unwrap());
    let base = serve(
        HashMap::from([(format!("{name}.gz"), Reply::Body(body))]),
        4,
    );
    let cache = crate::tempdir();
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: true,
        mirrors: Some(vec![base.clone()]),
        ..Locator::default()
    };
    let err = Dataset::load_with(&"qmnist".parse().unwrap(), &locator, &unverified()).unwrap_err();
    let message = err.to_string();
    let dest = cache.path().join("qmnist/QMNIST/raw");
    assert!(
        message.contains(&format!("download into {}: ", dest.display())),
        "{message}"
    );
    assert!(
        message.contains(&format!("download of {base}{name}.gz failed")),
        "{message}"
    );
    assert!(message.contains("checksum mismatch"), "{message}");
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0);
}
