//! STL-10 and USPS readers and writers: round trips, orientation, torchvision's pixel
//! formula, and every malformed file refused with the file (and line) named.

use std::path::Path;

use convlens_data::formats::stl10::{
    read_stl10, write_stl10, STL10_CLASS_NAMES, STL10_IMAGE_BYTES, STL10_MD5S,
};
use convlens_data::formats::usps::{
    bzip2, read_usps, usps_pixel, usps_value_text, write_usps, USPS_TEST, USPS_TRAIN,
};
use convlens_data::{DataError, Split};

use crate::tempdir;

const PLANE: usize = 96 * 96;

/// Deterministic, position-dependent pixels: no two neighbours alike, so any transposition
/// or channel swap shows.
fn pattern(count: usize, per: usize, seed: u32) -> Vec<u8> {
    (0..count * per)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn stl_split(labels: Vec<u8>, seed: u32) -> Split {
    let n = labels.len();
    Split::new(pattern(n, 3 * PLANE, seed), labels, [3, 96, 96]).unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// The message of `err`, checked to be a `Malformed` naming `file`.
fn malformed_naming(err: DataError, file: &str) -> String {
    let message = err.to_string();
    match &err {
        DataError::Malformed { path, .. } => {
            assert!(
                path.ends_with(file),
                "error names {} instead of {file}: {message}",
                path.display()
            )
        }
        other => panic!("expected Malformed for {file}, got {other:?}"),
    }
    assert!(message.contains(file), "{message}");
    message
}

fn stl_folder() -> tempfile::TempDir {
    let dir = tempdir();
    let train = stl_split(vec![0, 9, 3], 1);
    let test = stl_split(vec![5, 1], 2);
    write_stl10(dir.path(), &train, &test, &STL10_CLASS_NAMES).unwrap();
    dir
}

#[test]
fn stl10_round_trip_is_exact() {
    let dir = tempdir();
    let train = stl_split(vec![0, 9, 3], 1);
    let test = stl_split(vec![5, 1], 2);
    let names: Vec<String> = (0..10).map(|i| format!("class {i}")).collect();
    write_stl10(dir.path(), &train, &test, &names).unwrap();
    let loaded = read_stl10(dir.path()).unwrap();
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test.as_ref(), Some(&test));
    assert_eq!(loaded.class_names, names);
    // torchvision's root, the folder holding stl10_binary/, works too.
    let root = tempdir();
    write_stl10(&root.path().join("stl10_binary"), &train, &test, &names).unwrap();
    assert_eq!(read_stl10(root.path()).unwrap().train, train);
    // Labels are stored counted from 1.
    assert_eq!(
        std::fs::read(dir.path().join("train_y.bin")).unwrap(),
        [1, 10, 4]
    );
    assert_eq!(
        std::fs::read(dir.path().join("class_names.txt")).unwrap(),
        names
            .join("\n")
            .into_bytes()
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("test_X.bin"))
            .unwrap()
            .len(),
        2 * STL10_IMAGE_BYTES as u64
    );
}

/// The layout torchvision reads with `reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)`
/// (checked against torchvision's `STL10`): byte `c·9216 + col·96 + row` of an image is the
/// pixel at (`row`, `col`) of channel `c`.
#[test]
fn stl10_images_are_stored_column_by_column() {
    let dir = tempdir();
    let mut file = vec![0u8; 2 * STL10_IMAGE_BYTES];
    // Image 0, red, row 0, column 5.
    file[5 * 96] = 200;
    // Image 0, blue, row 7, column 1.
    file[2 * PLANE + 96 + 7] = 99;
    // Image 1, green, row 95, column 0.
    file[STL10_IMAGE_BYTES + PLANE + 95] = 17;
    write(&dir.path().join("train_X.bin"), &file);
    write(&dir.path().join("train_y.bin"), &[1, 10]);
    write(&dir.path().join("test_X.bin"), &file[..STL10_IMAGE_BYTES]);
    write(&dir.path().join("test_y.bin"), &[7]);
    write(
        &dir.path().join("class_names.txt"),
        STL10_CLASS_NAMES.join("\n").as_bytes(),
    );
    let loaded = read_stl10(dir.path()).unwrap();
    assert_eq!(loaded.train.labels(), [0, 9]);
    assert_eq!(loaded.test.as_ref().unwrap().labels(), [6]);
    assert_eq!(loaded.class_names[0], "airplane");
    assert_eq!(loaded.class_names[9], "truck");
    let at = |img: &[u8], c: usize, row: usize, col: usize| img[c * PLANE + row * 96 + col];
    let image = loaded.train.image(0);
    assert_eq!(at(image, 0, 0, 5), 200);
    assert_eq!(at(image, 0, 5, 0), 0);
    assert_eq!(at(image, 2, 7, 1), 99);
    assert_eq!(at(image, 2, 1, 7), 0);
    assert_eq!(image.iter().map(|&p| u32::from(p)).sum::<u32>(), 299);
    let image = loaded.train.image(1);
    assert_eq!(at(image, 1, 95, 0), 17);
    assert_eq!(image.iter().map(|&p| u32::from(p)).sum::<u32>(), 17);

    // The writer stores it the same way.
    let out = tempdir();
    write_stl10(
        out.path(),
        &loaded.train,
        loaded.test.as_ref().unwrap(),
        &loaded.class_names,
    )
    .unwrap();
    assert_eq!(std::fs::read(out.path().join("train_X.bin")).unwrap(), file);
}

#[test]
fn stl10_refuses_image_files_of_a_wrong_size() {
    for (len, phrase) in [
        (STL10_IMAGE_BYTES - 1, "not a whole number"),
        (2 * STL10_IMAGE_BYTES + 1, "not a whole number"),
        (0, "empty"),
    ] {
        let dir = stl_folder();
        write(&dir.path().join("test_X.bin"), &vec![0; len]);
        let message = malformed_naming(read_stl10(dir.path()).unwrap_err(), "test_X.bin");
        assert!(message.contains(phrase), "{message}");
        assert!(message.contains(&len.to_string()), "{message}");
    }
}

#[test]
fn stl10_refuses_labels_that_disagree_with_the_images() {
    let dir = stl_folder();
    write(&dir.path().join("train_y.bin"), &[1, 2]);
    match read_stl10(dir.path()).unwrap_err() {
        DataError::CountMismatch {
            images,
            image_count,
            labels,
            label_count,
        } => {
            assert!(images.ends_with("train_X.bin"));
            assert!(labels.ends_with("train_y.bin"));
            assert_eq!((image_count, label_count), (3, 2));
        }
        other => panic!("expected CountMismatch, got {other:?}"),
    }
}

#[test]
fn stl10_refuses_labels_outside_1_to_10() {
    for (labels, bad, index) in [([1u8, 0], 0, 1), ([11, 1], 11, 0)] {
        let dir = stl_folder();
        write(&dir.path().join("test_y.bin"), &labels);
        let message = malformed_naming(read_stl10(dir.path()).unwrap_err(), "test_y.bin");
        assert!(
            message.contains(&format!("label {bad} at index {index}")),
            "{message}"
        );
        assert!(message.contains("1..=10"), "{message}");
    }
}

#[test]
fn stl10_refuses_a_bad_class_names_file() {
    let dir = stl_folder();
    write(&dir.path().join("class_names.txt"), b"a\nb\nc\n");
    let message = malformed_naming(read_stl10(dir.path()).unwrap_err(), "class_names.txt");
    assert!(message.contains("holds 3 class names"), "{message}");

    write(
        &dir.path().join("class_names.txt"),
        b"a\nb\n\nc\nd\ne\nf\ng\nh\ni\nj\n",
    );
    let message = malformed_naming(read_stl10(dir.path()).unwrap_err(), "class_names.txt");
    assert!(message.contains("line 3: empty"), "{message}");

    std::fs::remove_file(dir.path().join("class_names.txt")).unwrap();
    match read_stl10(dir.path()).unwrap_err() {
        DataError::Io { path, .. } => assert!(path.ends_with("class_names.txt")),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn stl10_writer_refuses_what_the_format_cannot_hold() {
    let dir = tempdir();
    let good = stl_split(vec![0], 1);
    let gray = Split::new(vec![0; PLANE], vec![0], [1, 96, 96]).unwrap();
    let small = Split::new(vec![0; 3 * 32 * 32], vec![0], [3, 32, 32]).unwrap();
    for bad in [&gray, &small] {
        let err = write_stl10(dir.path(), bad, &good, &STL10_CLASS_NAMES).unwrap_err();
        assert!(matches!(err, DataError::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains("3 × 96 × 96"), "{err}");
    }
    let label_10 = stl_split(vec![10], 1);
    let err = write_stl10(dir.path(), &good, &label_10, &STL10_CLASS_NAMES).unwrap_err();
    assert!(err.to_string().contains("test label 0 = 10"), "{err}");
    let err = write_stl10(dir.path(), &good, &good, &STL10_CLASS_NAMES[..9]).unwrap_err();
    assert!(err.to_string().contains("9 names"), "{err}");
    // Nothing was written.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn stl10_checksums_are_torchvisions() {
    assert_eq!(STL10_MD5S.len(), 5);
    assert!(STL10_MD5S.contains(&("train_X.bin", "918c2871b30a85fa023e0c44e0bee87f")));
    assert!(STL10_MD5S.contains(&("test_y.bin", "36f9794fa4beb8a2c72628de14fa638e")));
    assert_eq!(
        convlens_data::formats::stl10::STL10_ARCHIVE_MD5,
        "91f7769df0f17e558f3565bffb0c7dfb"
    );
}

// ---- USPS ----

fn usps_line(label: &str, features: &[&str]) -> String {
    let mut line = label.to_string();
    for (i, v) in features.iter().enumerate() {
        line.push_str(&format!(" {}:{v}", i + 1));
    }
    line
}

fn usps_folder(train_text: &str, test_text: &str) -> tempfile::TempDir {
    let dir = tempdir();
    write(
        &dir.path().join(USPS_TRAIN.0),
        &bzip2(train_text.as_bytes()),
    );
    write(&dir.path().join(USPS_TEST.0), &bzip2(test_text.as_bytes()));
    dir
}

fn all_background(label: &str) -> String {
    usps_line(label, &["-1"; 256])
}

/// Pixels as torchvision computes them, `((x + 1) / 2 * 255).astype(uint8)` on numpy's
/// `float32` (expected values computed with numpy 2.4 once and written down here).
#[test]
fn usps_values_become_torchvisions_pixels() {
    let special = [
        ("-1", 0),
        ("1", 255),
        ("0", 127),
        ("0.5", 191),
        ("-0.5", 63),
        // Exactly representable as a double, which numpy rounds to f32 by ties to even: 0.
        // Rounded straight to f32 the text would give 1.
        ("-0.992156833410263061523437499999", 0),
        ("0.003921568627451", 128),
        ("1e-1", 140),
        ("-0.2", 102),
        ("+0.25", 159),
        ("-0.0", 127),
        ("0.999999", 254),
        ("-0.999999", 0),
        (".75", 223),
    ];
    let mut features = vec!["-1"; 256];
    for (i, (text, _)) in special.iter().enumerate() {
        features[i * 17] = text;
    }
    let train = format!("{}\n{}\n", usps_line("3", &features), all_background("10"));
    // A plain libsvm line without a final newline, and sparse: absent features are 0.
    let test = "1 1:1 256:-0.5";
    let dir = usps_folder(&train, test);
    let loaded = read_usps(dir.path()).unwrap();
    assert_eq!(loaded.train.labels(), [2, 9]);
    assert_eq!(loaded.train.image_shape(), [1, 16, 16]);
    let image = loaded.train.image(0);
    for (i, (text, pixel)) in special.iter().enumerate() {
        assert_eq!(image[i * 17], *pixel, "value {text}");
    }
    assert_eq!(
        image.iter().map(|&p| u32::from(p)).sum::<u32>(),
        special.iter().map(|(_, p)| *p as u32).sum::<u32>()
    );
    assert!(loaded.train.image(1).iter().all(|&p| p == 0));
    let test = loaded.test.as_ref().unwrap();
    assert_eq!(test.labels(), [0]);
    let image = test.image(0);
    assert_eq!(
        (image[0], image[1], image[254], image[255]),
        (255, 127, 127, 63)
    );
    assert_eq!(
        loaded.class_names,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
}

#[test]
fn usps_values_are_row_major() {
    // Feature 2 is row 0, column 1; feature 17 is row 1, column 0.
    let mut features = vec!["-1"; 256];
    features[1] = "1";
    features[16] = "0.5";
    let dir = usps_folder(&usps_line("1", &features), &all_background("2"));
    let loaded = read_usps(dir.path()).unwrap();
    let image = loaded.train.image(0);
    assert_eq!(image[1], 255);
    assert_eq!(image[16], 191);
    assert_eq!(image.iter().map(|&p| u32::from(p)).sum::<u32>(), 255 + 191);
}

#[test]
fn usps_round_trip_is_exact_for_every_pixel_value() {
    for p in 0..=255u8 {
        let text = usps_value_text(p);
        let v: f64 = text.parse().unwrap();
        assert_eq!(usps_pixel(v as f32), p, "{text}");
    }
    let dir = tempdir();
    // One image holding each of the 256 values, one reversed, one blank.
    let ramp: Vec<u8> = (0..=255).collect();
    let mut pixels = ramp.clone();
    pixels.extend(ramp.iter().rev());
    pixels.extend([0; 256]);
    let train = Split::new(pixels, vec![0, 9, 4], [1, 16, 16]).unwrap();
    let test = Split::new(ramp, vec![7], [1, 16, 16]).unwrap();
    write_usps(dir.path(), &train, &test).unwrap();
    let loaded = read_usps(dir.path()).unwrap();
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test, Some(test));

    // The published files' style: bzip2, labels from 1, all 256 features, -1 background.
    let raw = std::fs::read(dir.path().join("usps.bz2")).unwrap();
    assert!(raw.starts_with(b"BZh9"));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut ::bzip2::read::BzDecoder::new(&raw[..]), &mut text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with("1 1:-1 2:-0.988235 3:-0.980392 "),
        "{}",
        &lines[0][..40]
    );
    assert!(lines[0].ends_with(" 256:1"));
    assert!(lines[1].starts_with("10 1:1 2:0.996078 3:0.988235 "));
    assert_eq!(lines[2].split(' ').count(), 257);
}

#[test]
fn usps_refuses_malformed_lines_naming_file_and_line() {
    let good = all_background("1");
    let cases: Vec<(String, &str)> = vec![
        (all_background("0"), "label \"0\""),
        (all_background("11"), "label \"11\""),
        (all_background("x"), "label \"x\""),
        (all_background("1.0"), "label \"1.0\""),
        (
            "2 1:-1 5 3:-1".into(),
            "\"5\" is not of the form index:value",
        ),
        ("2 0:0.5".into(), "index \"0\" is not a feature 1..=256"),
        ("2 257:0.5".into(), "index \"257\""),
        ("2 a:0.5".into(), "index \"a\""),
        ("2 3:2".into(), "the value \"2\" is not a number in [-1, 1]"),
        ("2 3:-1.0001".into(), "\"-1.0001\""),
        ("2 3:abc".into(), "\"abc\""),
        ("2 3:nan".into(), "\"nan\""),
        ("2 3:inf".into(), "\"inf\""),
        ("2 3:".into(), "the value \"\""),
        ("2 3:0.5:1".into(), "\"0.5:1\""),
        (
            "2 3:0 2:0".into(),
            "index 2 after index 3; indices must increase",
        ),
        ("2 3:0 3:0".into(), "index 3 after index 3"),
        ("".into(), "empty line"),
    ];
    for (bad, phrase) in cases {
        let text = format!("{good}\n{good}\n{bad}\n{good}\n");
        let dir = usps_folder(&good, &text);
        let message = malformed_naming(read_usps(dir.path()).unwrap_err(), "usps.t.bz2");
        assert!(message.contains("line 3: "), "{bad:?}: {message}");
        assert!(message.contains(phrase), "{bad:?}: {message}");
    }
}

#[test]
fn usps_refuses_broken_files() {
    let good = all_background("1");
    // Not UTF-8.
    let mut bytes = format!("{good}\n").into_bytes();
    bytes.extend(b"1 1:\xff\n");
    let dir = usps_folder(&good, &good);
    write(&dir.path().join(USPS_TRAIN.0), &bzip2(&bytes));
    let message = malformed_naming(read_usps(dir.path()).unwrap_err(), "usps.bz2");
    assert!(message.contains("line 2: not text"), "{message}");

    // A truncated bzip2 stream.
    let compressed = bzip2(format!("{good}\n{good}\n").as_bytes());
    write(
        &dir.path().join(USPS_TRAIN.0),
        &compressed[..compressed.len() - 10],
    );
    let message = malformed_naming(read_usps(dir.path()).unwrap_err(), "usps.bz2");
    assert!(message.contains("bzip2"), "{message}");

    // A corrupt one.
    let mut corrupt = compressed.clone();
    corrupt[20] ^= 0xff;
    write(&dir.path().join(USPS_TRAIN.0), &corrupt);
    let message = malformed_naming(read_usps(dir.path()).unwrap_err(), "usps.bz2");
    assert!(message.contains("bzip2"), "{message}");

    // Empty.
    write(&dir.path().join(USPS_TRAIN.0), &bzip2(b""));
    let message = malformed_naming(read_usps(dir.path()).unwrap_err(), "usps.bz2");
    assert!(message.contains("holds no line"), "{message}");

    // An absurdly long line.
    let long = format!("1 {}", "1:-1 ".repeat(20_000));
    write(&dir.path().join(USPS_TRAIN.0), &bzip2(long.as_bytes()));
    let message = malformed_naming(read_usps(dir.path()).unwrap_err(), "usps.bz2");
    assert!(message.contains("line 1: longer than"), "{message}");

    // Missing.
    std::fs::remove_file(dir.path().join(USPS_TRAIN.0)).unwrap();
    assert!(matches!(
        read_usps(dir.path()).unwrap_err(),
        DataError::Io { path, .. } if path.ends_with("usps.bz2")
    ));
}

#[test]
fn usps_reads_uncompressed_text_too() {
    let dir = tempdir();
    write(&dir.path().join(USPS_TRAIN.0), b"4 1:1\r\n");
    write(&dir.path().join(USPS_TEST.0), b"5 2:1\n");
    let loaded = read_usps(dir.path()).unwrap();
    assert_eq!(loaded.train.labels(), [3]);
    assert_eq!(loaded.train.image(0)[..2], [255, 127]);
    assert_eq!(loaded.test.unwrap().image(0)[..2], [127, 255]);
}

#[test]
fn usps_writer_refuses_what_the_format_cannot_hold() {
    let dir = tempdir();
    let good = Split::new(vec![0; 256], vec![0], [1, 16, 16]).unwrap();
    let big = Split::new(vec![0; 28 * 28], vec![0], [1, 28, 28]).unwrap();
    let err = write_usps(dir.path(), &big, &good).unwrap_err();
    assert!(err.to_string().contains("1 × 16 × 16"), "{err}");
    let label_10 = Split::new(vec![0; 256], vec![10], [1, 16, 16]).unwrap();
    let err = write_usps(dir.path(), &good, &label_10).unwrap_err();
    assert!(err.to_string().contains("test label 0 = 10"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn usps_checksums_are_torchvisions() {
    assert_eq!(USPS_TRAIN.2, "ec16c51db3855ca6c91edd34d0e9b197");
    assert_eq!(USPS_TEST.2, "8ea070ee2aca1ac39742fdd1ef5ed118");
    assert!(USPS_TRAIN.1.ends_with("/usps.bz2"));
    assert!(USPS_TEST.1.ends_with("/usps.t.bz2"));
}

#[test]
fn usps_reader_survives_byte_flips_and_truncations() {
    let mut features = vec!["-0.5"; 256];
    features[3] = "0.25";
    let text = format!("{}\n{}\n", usps_line("7", &features), all_background("2"));
    let dir = tempdir();
    write(&dir.path().join(USPS_TEST.0), text.as_bytes());
    let train = dir.path().join(USPS_TRAIN.0);
    let mut refused = 0;
    for i in (0..text.len()).step_by(11) {
        for flip in [0x01u8, 0x80] {
            let mut bytes = text.clone().into_bytes();
            bytes[i] ^= flip;
            write(&train, &bytes);
            if let Err(err) = read_usps(dir.path()) {
                malformed_naming(err, "usps.bz2");
                refused += 1;
            }
        }
        write(&train, &text.as_bytes()[..i]);
        if let Err(err) = read_usps(dir.path()) {
            malformed_naming(err, "usps.bz2");
            refused += 1;
        }
    }
    assert!(refused > 60, "{refused}");
}
