//! The IDX parser: valid files, every defect with its own error, and mutation fuzzing.

use convlens_data::idx::{
    encode_images, encode_labels, gzip, parse_images, parse_labels, IdxImages,
};
use convlens_data::synthetic::{generate, write_broken, Defect};
use convlens_data::{DataError, Dataset, DatasetId, IdxDefect, Locator};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::alloc::largest_allocation;

fn sample() -> (IdxImages, Vec<u8>) {
    generate(12, 28, 3)
}

#[test]
fn raw_and_gzip_parse_to_the_same_images() {
    let (images, labels) = sample();
    let raw = encode_images(&images);
    assert_eq!(parse_images(&raw).unwrap(), images);
    assert_eq!(parse_images(&gzip(&raw)).unwrap(), images);
    let raw = encode_labels(&labels);
    assert_eq!(parse_labels(&raw).unwrap().labels, labels);
    assert_eq!(parse_labels(&gzip(&raw)).unwrap().labels, labels);
}

#[test]
fn multi_channel_images_round_trip() {
    let images = IdxImages {
        count: 2,
        channels: 3,
        rows: 4,
        cols: 5,
        pixels: (0..120).collect(),
    };
    let raw = encode_images(&images);
    assert_eq!(&raw[..4], &[0, 0, 8, 4]);
    assert_eq!(parse_images(&raw).unwrap(), images);
}

#[test]
fn labels_are_not_images() {
    let raw = encode_labels(&[1, 2, 3]);
    match parse_images(&raw) {
        Err(IdxDefect::BadMagic {
            found: 2049, what, ..
        }) => assert_eq!(what, "an image file"),
        other => panic!("expected a magic-number error, got {other:?}"),
    }
}

#[test]
fn truncation_and_trailing_bytes_are_named() {
    let raw = encode_images(&sample().0);
    let cut = &raw[..raw.len() - 10];
    match parse_images(cut) {
        Err(IdxDefect::Truncated {
            declared, actual, ..
        }) => {
            assert_eq!(declared, 12 * 784);
            assert_eq!(actual, 12 * 784 - 10);
        }
        other => panic!("expected truncation, got {other:?}"),
    }
    assert!(matches!(
        parse_images(&gzip(cut)),
        Err(IdxDefect::Truncated { .. })
    ));
    let mut long = raw.clone();
    long.push(0);
    assert!(matches!(
        parse_images(&long),
        Err(IdxDefect::TrailingBytes { .. })
    ));
}

#[test]
fn a_forged_huge_header_is_rejected_without_allocating_it() {
    let mut raw = encode_images(&sample().0);
    raw[4..8].copy_from_slice(&60_000u32.to_be_bytes());
    let packed = gzip(&raw);
    let (result, largest) = largest_allocation(|| parse_images(&packed));
    assert!(
        matches!(
            result,
            Err(IdxDefect::Truncated {
                declared: 47_040_000,
                ..
            })
        ),
        "{result:?}"
    );
    assert!(
        largest < 1 << 20,
        "allocated {largest} bytes for a {}-byte file",
        packed.len()
    );
    // Beyond the absolute limit: u32::MAX³ overflows any size.
    raw[4..16].copy_from_slice(&[0xff; 12]);
    assert!(matches!(
        parse_images(&raw),
        Err(IdxDefect::TooLarge { .. })
    ));
}

/// Every defect of the synthetic breaker gives its own error, naming the damaged file.
#[test]
fn every_defect_gets_its_own_error_naming_the_file() {
    for defect in Defect::ALL {
        let dir = crate::tempdir();
        let damaged = write_broken(dir.path(), defect).unwrap();
        let id: DatasetId = format!("idx:{}", dir.path().display()).parse().unwrap();
        let err =
            Dataset::load(&id, &Locator::default()).expect_err("a broken dataset must not load");
        let message = err.to_string();
        let name = damaged.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            message.contains(&name),
            "{defect:?}: message does not name {name}: {message}"
        );
        let ok = matches!(
            (defect, &err),
            (
                Defect::BadMagic,
                DataError::Format {
                    defect: IdxDefect::BadMagic { .. },
                    ..
                },
            ) | (
                Defect::ZeroDimension,
                DataError::Format {
                    defect: IdxDefect::ZeroDimension { index: 1 },
                    ..
                },
            ) | (
                Defect::Truncated,
                DataError::Format {
                    defect: IdxDefect::Truncated { .. },
                    ..
                },
            ) | (
                Defect::TrailingBytes,
                DataError::Format {
                    defect: IdxDefect::TrailingBytes { .. },
                    ..
                },
            ) | (
                Defect::TooShort,
                DataError::Format {
                    defect: IdxDefect::TooShortForHeader { len: 3, .. },
                    ..
                },
            ) | (
                Defect::CountMismatch,
                DataError::CountMismatch {
                    image_count: 50,
                    label_count: 49,
                    ..
                },
            ) | (
                Defect::LabelOutOfRange,
                DataError::LabelOutOfRange {
                    index: 5,
                    label: 10,
                    classes: 10,
                    ..
                },
            ) | (Defect::CorruptGzip, DataError::Format { .. })
                | (Defect::ShapeMismatch, DataError::ShapeMismatch { .. })
        );
        assert!(ok, "{defect:?} gave the wrong error: {err:?}");
    }
}

/// The bytes an IDX parser reads from `bytes`: the gzip stream's content, or the bytes as
/// they are (`None` for a gzip stream that does not decompress).
fn content(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// Mutation fuzzing: truncations, bit flips, header edits and random bytes, raw and gzip.
/// Nothing may panic, no allocation may exceed a small multiple of the input, and whatever
/// a parser accepts is exactly what the file holds: encoded again, it gives the file's
/// (decompressed) bytes back.
#[test]
fn mutated_files_never_panic_nor_allocate_absurdly() {
    let (images, labels) = generate(6, 28, 11);
    let seeds = [encode_images(&images), encode_labels(&labels)];
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let (mut accepted_images, mut accepted_labels) = (0, 0);
    for round in 0..3000 {
        let mut bytes = seeds[round % 2].clone();
        match rng.next_u32() % 5 {
            0 => bytes.truncate(rng.next_u32() as usize % (bytes.len() + 1)),
            1 => {
                for _ in 0..1 + rng.next_u32() % 8 {
                    let i = rng.next_u32() as usize % bytes.len();
                    bytes[i] ^= 1 << (rng.next_u32() % 8);
                }
            }
            2 => {
                let i = rng.next_u32() as usize % 16.min(bytes.len());
                bytes[i] = rng.next_u32() as u8;
            }
            3 => {
                let n = rng.next_u32() as usize % 64;
                bytes = (0..n).map(|_| rng.next_u32() as u8).collect();
            }
            _ => bytes.extend((0..1 + rng.next_u32() % 9).map(|_| rng.next_u32() as u8)),
        }
        if rng.next_u32() % 2 == 0 {
            let mut packed = gzip(&seeds[round % 2]);
            let i = 10 + rng.next_u32() as usize % (packed.len() - 10);
            packed[i] ^= 1 << (rng.next_u32() % 8);
            bytes = if rng.next_u32() % 2 == 0 {
                packed
            } else {
                gzip(&bytes)
            };
        }
        let limit = 64 * bytes.len().max(64) + (1 << 16);
        let (r1, a1) = largest_allocation(|| parse_images(&bytes));
        let (r2, a2) = largest_allocation(|| parse_labels(&bytes));
        assert!(
            a1.max(a2) <= limit,
            "round {round}: allocated {} for {} bytes",
            a1.max(a2),
            bytes.len()
        );
        // The magic numbers of image and label files differ: no file is both.
        assert!(
            r1.is_err() || r2.is_err(),
            "round {round}: accepted as images and as labels"
        );
        if let Ok(parsed) = r1 {
            assert_eq!(
                Some(encode_images(&parsed)),
                content(&bytes),
                "round {round}: the accepted images are not the file's content"
            );
            assert_eq!(
                parsed.pixels.len(),
                parsed.count * parsed.channels * parsed.rows * parsed.cols
            );
            accepted_images += 1;
        }
        if let Ok(parsed) = r2 {
            assert_eq!(
                Some(encode_labels(&parsed.labels)),
                content(&bytes),
                "round {round}: the accepted labels are not the file's content"
            );
            accepted_labels += 1;
        }
    }
    // Flips of pixel or label bytes leave valid files: the checks above did run, for both.
    assert!(
        accepted_images > 0 && accepted_labels > 0,
        "{accepted_images} image and {accepted_labels} label files accepted"
    );
}
