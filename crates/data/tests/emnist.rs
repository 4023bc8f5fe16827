//! EMNIST and QMNIST readers and writers: class lists, orientation, `int32` label files,
//! and every malformed file refused with the file named.

use std::path::Path;

use convlens_data::formats::emnist::{
    encode_qmnist_labels, parse_qmnist_labels, read_emnist, read_qmnist, write_emnist,
    write_qmnist, EmnistSplit, QmnistLabels, EMNIST_ARCHIVE_MD5, QMNIST_FILES,
};
use convlens_data::idx::{encode_images, encode_labels, gzip, read_images, IdxImages};
use convlens_data::{DataError, Split};

use crate::tempdir;

fn pattern(count: usize, per: usize, seed: u32) -> Vec<u8> {
    (0..count * per)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn digits(labels: Vec<u8>, seed: u32) -> Split {
    let n = labels.len();
    Split::new(pattern(n, 28 * 28, seed), labels, [1, 28, 28]).unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn malformed_naming(err: DataError, file: &str) -> String {
    let message = err.to_string();
    match &err {
        DataError::Malformed { path, .. } => assert!(
            path.ends_with(file),
            "error names {} instead of {file}: {message}",
            path.display()
        ),
        other => panic!("expected Malformed for {file}, got {other:?}"),
    }
    message
}

#[test]
fn emnist_splits_have_torchvisions_classes() {
    let names: Vec<&str> = EmnistSplit::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        ["byclass", "bymerge", "balanced", "letters", "digits", "mnist"]
    );
    for split in EmnistSplit::ALL {
        assert_eq!(split.name().parse::<EmnistSplit>().unwrap(), split);
    }
    let err = "bogus".parse::<EmnistSplit>().unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");

    let byclass = EmnistSplit::ByClass.class_names();
    assert_eq!(byclass.len(), 62);
    assert_eq!(
        byclass.concat(),
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    );
    for split in [EmnistSplit::ByMerge, EmnistSplit::Balanced] {
        assert_eq!(
            split.class_names().concat(),
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"
        );
    }
    let letters = EmnistSplit::Letters.class_names();
    assert_eq!(letters.len(), 27);
    assert_eq!(letters[0], "N/A");
    assert_eq!(letters[1..].concat(), "abcdefghijklmnopqrstuvwxyz");
    assert_eq!(EmnistSplit::Digits.class_names().concat(), "0123456789");
    assert_eq!(EmnistSplit::Mnist.class_names().len(), 10);

    assert_eq!(EmnistSplit::Letters.counts(), (124_800, 20_800));
    assert_eq!(EmnistSplit::ByClass.counts(), (697_932, 116_323));
    assert_eq!(EmnistSplit::Balanced.counts(), (112_800, 18_800));
    assert_eq!(EMNIST_ARCHIVE_MD5, "58c8d27c78d21e728a6bc7b3cc06412e");
    assert_eq!(
        EmnistSplit::Balanced.file_name(false, true),
        "emnist-balanced-test-images-idx3-ubyte"
    );
    assert_eq!(
        EmnistSplit::Letters.file_name(true, false),
        "emnist-letters-train-labels-idx1-ubyte"
    );
}

#[test]
fn emnist_round_trip_is_exact() {
    let dir = tempdir();
    let train = digits(vec![1, 26, 13], 3);
    let test = digits(vec![5, 0], 4);
    write_emnist(dir.path(), EmnistSplit::Letters, &train, &test).unwrap();
    let loaded = read_emnist(dir.path(), EmnistSplit::Letters).unwrap();
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test, Some(test));
    assert_eq!(loaded.class_names.len(), 27);
    assert_eq!(loaded.class_names[26], "z");
}

/// The files store each glyph transposed (torchvision returns it so; checked against
/// torchvision's `EMNIST`): stored pixel (`r`, `c`) is the upright pixel (`c`, `r`).
#[test]
fn emnist_images_are_stored_transposed() {
    let dir = tempdir();
    // Two stored images of 2 rows × 3 columns, to tell rows from columns.
    let stored = IdxImages {
        count: 2,
        channels: 1,
        rows: 2,
        cols: 3,
        pixels: vec![1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60],
    };
    let split = EmnistSplit::Digits;
    for train in [true, false] {
        write(
            &dir.path().join(split.file_name(train, true)),
            &encode_images(&stored),
        );
        write(
            &dir.path().join(split.file_name(train, false)),
            &encode_labels(&[7, 2]),
        );
    }
    let loaded = read_emnist(dir.path(), split).unwrap();
    assert_eq!(loaded.train.image_shape(), [1, 3, 2]);
    // Upright: 3 rows × 2 columns.
    assert_eq!(loaded.train.image(0), [1, 4, 2, 5, 3, 6]);
    assert_eq!(loaded.train.image(1), [10, 40, 20, 50, 30, 60]);
    assert_eq!(loaded.train.labels(), [7, 2]);

    // The writer stores them transposed again, byte for byte.
    let out = tempdir();
    write_emnist(
        out.path(),
        split,
        &loaded.train,
        loaded.test.as_ref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(out.path().join(split.file_name(true, true))).unwrap(),
        encode_images(&stored)
    );
    let (back, _) = read_images(&out.path().join(split.file_name(false, true))).unwrap();
    assert_eq!((back.rows, back.cols), (2, 3));
}

#[test]
fn emnist_reads_gzip_files_and_torchvisions_root() {
    let root = tempdir();
    let raw = root.path().join("EMNIST/raw");
    let train = digits(vec![46, 0], 5);
    let test = digits(vec![9], 6);
    let split = EmnistSplit::Balanced;
    write_emnist(&raw, split, &train, &test).unwrap();
    // torchvision's root finds the raw folder.
    let loaded = read_emnist(root.path(), split).unwrap();
    assert_eq!(loaded.train, train);
    // Every file gzip-compressed instead.
    for train in [true, false] {
        for images in [true, false] {
            let plain = raw.join(split.file_name(train, images));
            let bytes = std::fs::read(&plain).unwrap();
            write(
                &raw.join(format!("{}.gz", split.file_name(train, images))),
                &gzip(&bytes),
            );
            std::fs::remove_file(plain).unwrap();
        }
    }
    let loaded = read_emnist(&raw, split).unwrap();
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test, Some(test));
    // Another split is not there.
    let message = malformed_naming(
        read_emnist(&raw, EmnistSplit::Letters).unwrap_err(),
        "emnist-letters-train-images-idx3-ubyte",
    );
    assert!(message.contains("no such file"), "{message}");
}

#[test]
fn emnist_refuses_files_that_disagree() {
    let split = EmnistSplit::Digits;
    let dir = tempdir();
    write_emnist(
        dir.path(),
        split,
        &digits(vec![1, 2], 1),
        &digits(vec![3], 2),
    )
    .unwrap();
    // A label beyond the split's classes.
    write(
        &dir.path().join(split.file_name(false, false)),
        &encode_labels(&[10]),
    );
    match read_emnist(dir.path(), split).unwrap_err() {
        DataError::LabelOutOfRange {
            path,
            index,
            label,
            classes,
            ..
        } => {
            assert!(path.ends_with("emnist-digits-test-labels-idx1-ubyte"));
            assert_eq!((index, label, classes), (0, 10, 10));
        }
        other => panic!("expected LabelOutOfRange, got {other:?}"),
    }
    // More labels than images.
    write(
        &dir.path().join(split.file_name(false, false)),
        &encode_labels(&[1, 2]),
    );
    match read_emnist(dir.path(), split).unwrap_err() {
        DataError::CountMismatch {
            images,
            image_count,
            labels,
            label_count,
        } => {
            assert!(images.ends_with("emnist-digits-test-images-idx3-ubyte"));
            assert!(labels.ends_with("emnist-digits-test-labels-idx1-ubyte"));
            assert_eq!((image_count, label_count), (1, 2));
        }
        other => panic!("expected CountMismatch, got {other:?}"),
    }
    // A truncated image file.
    let images = dir.path().join(split.file_name(true, true));
    let bytes = std::fs::read(&images).unwrap();
    write(&images, &bytes[..bytes.len() - 1]);
    match read_emnist(dir.path(), split).unwrap_err() {
        DataError::Format { path, .. } => assert_eq!(path, images),
        other => panic!("expected Format, got {other:?}"),
    }
}

#[test]
fn emnist_writer_refuses_labels_outside_the_split() {
    let dir = tempdir();
    let err = write_emnist(
        dir.path(),
        EmnistSplit::Mnist,
        &digits(vec![10], 1),
        &digits(vec![0], 1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("train label 0 = 10"), "{err}");
    let rgb = Split::new(vec![0; 3 * 28 * 28], vec![0], [3, 28, 28]).unwrap();
    let err = write_emnist(dir.path(), EmnistSplit::Mnist, &rgb, &rgb).unwrap_err();
    assert!(err.to_string().contains("one-channel"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ---- QMNIST ----

fn qmnist_dir() -> tempfile::TempDir {
    let dir = tempdir();
    write_qmnist(
        dir.path(),
        &digits(vec![3, 1, 4], 7),
        &digits(vec![9, 0], 8),
    )
    .unwrap();
    dir
}

fn labels_file(magic: u32, dims: &[u32], values: &[i32]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    for v in values {
        out.extend(v.to_be_bytes());
    }
    out
}

#[test]
fn qmnist_round_trip_is_exact() {
    let root = tempdir();
    let raw = root.path().join("QMNIST/raw");
    let train = digits(vec![3, 1, 4], 7);
    let test = digits(vec![9, 0], 8);
    write_qmnist(&raw, &train, &test).unwrap();
    let loaded = read_qmnist(root.path()).unwrap();
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test, Some(test.clone()));
    assert_eq!(
        loaded.class_names,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
    // Labels: int32, 2 × 8, the class first.
    let bytes = std::fs::read(raw.join("qmnist-test-labels-idx2-int")).unwrap();
    let mut values = [0; 16];
    values[0] = 9;
    assert_eq!(bytes, labels_file(0x0C02, &[2, 8], &values));
    // Images stored as given (upright, no transposition).
    let (images, _) = read_images(&raw.join("qmnist-test-images-idx3-ubyte")).unwrap();
    assert_eq!(images.pixels, pattern(2, 28 * 28, 8));
}

#[test]
fn qmnist_reads_gzip_files_and_the_first_column() {
    let dir = qmnist_dir();
    // Labels with extra columns (as published: class, then where in NIST it comes from).
    let table = QmnistLabels {
        rows: 3,
        columns: 8,
        values: vec![
            5, 4, 2, 9, 53, 100, 0, 0, //
            0, 1, 2, 3, 48, 101, 0, 0, //
            9, 7, 7, 7, 57, 102, 1, 0,
        ],
    };
    assert_eq!(table.classes().collect::<Vec<_>>(), [5, 0, 9]);
    let bytes = encode_qmnist_labels(&table);
    assert_eq!(parse_qmnist_labels(&bytes).unwrap(), table);
    assert_eq!(parse_qmnist_labels(&gzip(&bytes)).unwrap(), table);
    for (name, _, _) in QMNIST_FILES {
        let plain = dir.path().join(name);
        let content = if name == "qmnist-train-labels-idx2-int" {
            bytes.clone()
        } else {
            std::fs::read(&plain).unwrap()
        };
        write(&dir.path().join(format!("{name}.gz")), &gzip(&content));
        std::fs::remove_file(plain).unwrap();
    }
    let loaded = read_qmnist(dir.path()).unwrap();
    assert_eq!(loaded.train.labels(), [5, 0, 9]);
    assert_eq!(loaded.train.image(0), &pattern(3, 28 * 28, 7)[..28 * 28]);
    assert_eq!(loaded.test.unwrap().labels(), [9, 0]);
}

#[test]
fn qmnist_refuses_malformed_label_files() {
    let ok = |rows: u32| labels_file(0x0C02, &[rows, 8], &vec![1; rows as usize * 8]);
    let mut trailing = ok(2);
    trailing.push(0);
    let truncated = ok(2)[..ok(2).len() - 1].to_vec();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            labels_file(0x0802, &[2, 8], &[]),
            "type code 0x08, not 0x0c",
        ),
        (labels_file(0x0C01, &[2], &[1, 2]), "1 dimensions, not 2"),
        (
            labels_file(0x0C03, &[2, 8, 1], &[1; 16]),
            "3 dimensions, not 2",
        ),
        (
            labels_file(0x0100_0C02, &[2, 8], &[1; 16]),
            "two zero bytes",
        ),
        (labels_file(0x0C02, &[2, 0], &[]), "0 columns"),
        (labels_file(0x0C02, &[0, 8], &[]), "0 rows"),
        (labels_file(0x0C02, &[2, 8], &[1; 15]), "truncated"),
        (truncated, "truncated"),
        (trailing, "trailing bytes"),
        (vec![0, 0, 0x0C, 2, 0, 0, 0], "too short"),
        (labels_file(0x0C02, &[u32::MAX, u32::MAX], &[]), "more than"),
        (gzip(&ok(2))[..20].to_vec(), "gzip"),
    ];
    for (bytes, phrase) in cases {
        let dir = qmnist_dir();
        write(&dir.path().join("qmnist-train-labels-idx2-int"), &bytes);
        let message = malformed_naming(
            read_qmnist(dir.path()).unwrap_err(),
            "qmnist-train-labels-idx2-int",
        );
        assert!(message.contains(phrase), "{phrase}: {message}");
    }
    // Classes that are not digits.
    for class in [10, -1, 256] {
        let dir = qmnist_dir();
        let mut values = vec![0; 16];
        values[8] = class;
        write(
            &dir.path().join("qmnist-test-labels-idx2-int"),
            &labels_file(0x0C02, &[2, 8], &values),
        );
        let message = malformed_naming(
            read_qmnist(dir.path()).unwrap_err(),
            "qmnist-test-labels-idx2-int",
        );
        assert!(
            message.contains(&format!("row 1: class {class} in the first column")),
            "{message}"
        );
    }
    // A label file of another length than the image file.
    let dir = qmnist_dir();
    write(&dir.path().join("qmnist-test-labels-idx2-int"), &ok(3));
    assert!(matches!(
        read_qmnist(dir.path()).unwrap_err(),
        DataError::CountMismatch {
            image_count: 2,
            label_count: 3,
            ..
        }
    ));
}

#[test]
fn qmnist_label_parser_survives_every_truncation_and_byte_flip() {
    let table = QmnistLabels {
        rows: 3,
        columns: 2,
        values: vec![1, 2, 3, 4, 5, 6],
    };
    for bytes in [
        encode_qmnist_labels(&table),
        gzip(&encode_qmnist_labels(&table)),
    ] {
        for len in 0..bytes.len() {
            assert!(parse_qmnist_labels(&bytes[..len]).is_err(), "length {len}");
        }
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let _ = parse_qmnist_labels(&b);
            }
        }
    }
}
