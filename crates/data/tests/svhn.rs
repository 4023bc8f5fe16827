//! MAT-files and SVHN: scipy-written fixtures, writer round trips, hand-made MATLAB
//! layouts (compact storage, big-endian), and every kind of broken file.

use std::path::{Path, PathBuf};

use convlens_data::formats::mat::{
    encode_mat, parse_mat, read_mat, write_mat, MatArray, MatClass, MatData,
};
use convlens_data::formats::svhn::{
    read_svhn, read_svhn_file, read_svhn_with_extra, svhn_variables, write_svhn, CLASS_NAMES,
    EXTRA_FILE, TEST_FILE, TRAIN_FILE,
};
use convlens_data::{DataError, Split};

use crate::alloc::largest_allocation;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/svhn")
        .join(name)
}

/// The pixel the fixtures (`make_mat.py`) hold at row `i`, column `j`, channel `c` of image `n`.
fn fixture_pixel(i: usize, j: usize, c: usize, n: usize) -> u8 {
    ((7 * i + 3 * j + 50 * c + 11 * n) % 256) as u8
}

fn assert_fixture_images(split: &Split, n: usize) {
    assert_eq!(split.len(), n);
    assert_eq!(split.image_shape(), [3, 32, 32]);
    for k in 0..n {
        let image = split.image(k);
        for c in 0..3 {
            for i in 0..32 {
                for j in 0..32 {
                    assert_eq!(
                        image[c * 1024 + i * 32 + j],
                        fixture_pixel(i, j, c, k),
                        "image {k} channel {c} row {i} column {j}"
                    );
                }
            }
        }
    }
}

/// Asserts that `err` is `Malformed`, names `path` and says `needle`.
fn assert_malformed(err: DataError, path: &Path, needle: &str) {
    let text = err.to_string();
    match err {
        DataError::Malformed { path: p, problem } => {
            assert_eq!(p, path, "{text}");
            assert!(problem.contains(needle), "expected '{needle}' in: {text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
        }
        other => panic!(
            "expected Malformed naming {}, got {other:?}",
            path.display()
        ),
    }
}

#[test]
fn scipy_fixtures_read_to_exact_values_with_label_10_as_0() {
    for (name, n) in [
        ("plain_u8.mat", 2),
        ("plain_f64.mat", 3),
        ("zlib_u8.mat", 3),
        ("zlib_f64.mat", 2),
        ("mixed.mat", 2),
    ] {
        let split = read_svhn_file(&fixture(name)).unwrap();
        assert_fixture_images(&split, n);
        assert_eq!(split.labels(), &[0, 3, 7][..n], "{name}");
    }
}

#[test]
fn scipy_fixtures_read_as_mat_variables() {
    let vars = read_mat(&fixture("zlib_f64.mat")).unwrap();
    assert_eq!(vars.len(), 2);
    assert_eq!((vars[0].name.as_str(), vars[1].name.as_str()), ("X", "y"));
    assert_eq!(vars[0].dims, [32, 32, 3, 2]);
    assert_eq!(vars[0].class, MatClass::Uint8);
    let MatData::U8(x) = &vars[0].data else {
        panic!("X should be uint8: {:?}", vars[0].class)
    };
    // Column-major: X(i, j, c, n) at i + 32 (j + 32 (c + 3 n)).
    assert_eq!(x[5 + 32 * (2 + 32 * (1 + 3))], fixture_pixel(5, 2, 1, 1));
    assert_eq!(vars[1].dims, [2, 1]);
    assert_eq!(vars[1].class, MatClass::Double);
    assert_eq!(vars[1].data, MatData::F64(vec![10.0, 3.0]));

    let vars = read_mat(&fixture("plain_u8.mat")).unwrap();
    assert_eq!(vars[1].data, MatData::U8(vec![10, 3]));
}

#[test]
fn other_classes_are_listed_but_not_decoded() {
    let vars = read_mat(&fixture("mixed.mat")).unwrap();
    let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["X", "y", "note", "cells", "info", "d", "i16", "s32", "z"]
    );
    let get = |name: &str| vars.iter().find(|v| v.name == name).unwrap();
    assert_eq!(get("note").class, MatClass::Char);
    assert_eq!(get("cells").class, MatClass::Cell);
    assert_eq!(get("info").class, MatClass::Struct);
    assert!(matches!(&get("cells").data, MatData::NotRead(w) if w.contains("cell array")));
    assert!(matches!(&get("z").data, MatData::NotRead(w) if w.contains("complex double")));
    let d = get("d");
    assert_eq!(
        (d.dims.as_slice(), d.class),
        (&[2, 3][..], MatClass::Double)
    );
    assert_eq!(d.data, MatData::F64(vec![1.5, 3.0, -2.0, 4.0, 0.25, 1e300]));
    assert_eq!(get("i16").class, MatClass::Int16);
    assert_eq!(get("i16").data, MatData::F64(vec![-300.0, 7.0]));
    assert_eq!(get("s32").class, MatClass::Single);
    assert_eq!(get("s32").data, MatData::F64(vec![0.5, -1.25]));
}

#[test]
fn svhn_folder_reads_train_and_test_with_digit_names() {
    let dir = crate::tempdir();
    std::fs::copy(fixture("zlib_u8.mat"), dir.path().join(TRAIN_FILE)).unwrap();
    std::fs::copy(fixture("plain_f64.mat"), dir.path().join(TEST_FILE)).unwrap();
    let loaded = read_svhn(dir.path()).unwrap();
    assert_fixture_images(&loaded.train, 3);
    assert_fixture_images(loaded.test.as_ref().unwrap(), 3);
    assert_eq!(loaded.class_names, CLASS_NAMES);
    assert_eq!(loaded.class_names[0], "0");

    // Extra is read only when asked for, after the training images.
    let err = read_svhn_with_extra(dir.path()).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { path, .. } if path == &dir.path().join(EXTRA_FILE)),
        "{err}"
    );
    std::fs::copy(fixture("plain_u8.mat"), dir.path().join(EXTRA_FILE)).unwrap();
    let loaded = read_svhn_with_extra(dir.path()).unwrap();
    assert_eq!(loaded.train.labels(), [0, 3, 7, 0, 3]);
    assert_eq!(
        loaded.train.image(3),
        read_svhn_file(&fixture("plain_u8.mat")).unwrap().image(0)
    );

    let missing = crate::tempdir();
    let err = read_svhn(missing.path()).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { path, .. } if path == &missing.path().join(TRAIN_FILE)),
        "{err}"
    );
}

/// A split of `n` 3×32×32 images of bytes from a simple generator, labels cycling 0–9.
fn split(n: usize) -> Split {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pixels = (0..n * 3072)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Split::new(pixels, labels, [3, 32, 32]).unwrap()
}

#[test]
fn writer_round_trips_exactly_in_the_published_layout() {
    let dir = crate::tempdir();
    let (train, test) = (split(12), split(3));
    let paths = write_svhn(dir.path(), &train, &test).unwrap();
    assert_eq!(
        paths,
        [dir.path().join(TRAIN_FILE), dir.path().join(TEST_FILE)]
    );
    let loaded = read_svhn(dir.path()).unwrap();
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test.unwrap(), test);

    // The layout: compressed variables, X uint8 32×32×3×N column-major, y uint8 N×1 with 10 for 0.
    let bytes = std::fs::read(&paths[0]).unwrap();
    assert!(bytes.starts_with(b"MATLAB 5.0 MAT-file"));
    assert_eq!(&bytes[124..128], &[0x00, 0x01, b'I', b'M']);
    assert_eq!(u32::from_le_bytes(bytes[128..132].try_into().unwrap()), 15);
    let vars = read_mat(&paths[0]).unwrap();
    assert_eq!(vars[0].dims, [32, 32, 3, 12]);
    assert_eq!(vars[1].dims, [12, 1]);
    assert_eq!(vars[1].class, MatClass::Uint8);
    let MatData::U8(x) = &vars[0].data else {
        panic!("X not uint8")
    };
    let (n, c, i, j) = (7, 2, 30, 1);
    assert_eq!(
        x[i + 32 * (j + 32 * (c + 3 * n))],
        train.image(n)[c * 1024 + i * 32 + j]
    );
    assert_eq!(
        vars[1].data,
        MatData::U8(vec![10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1])
    );
}

#[test]
fn mat_writer_round_trips_compressed_and_not() {
    let vars = vec![
        MatArray::uint8("a", &[2, 3], vec![1, 2, 3, 4, 5, 255]).unwrap(),
        MatArray::double("long_name_b", &[1, 1, 2], vec![-0.5, 1e-300]).unwrap(),
        MatArray::uint8("e", &[0, 0], vec![]).unwrap(),
        MatArray::uint8("one", &[1, 1], vec![9]).unwrap(),
    ];
    let dir = crate::tempdir();
    for compress in [false, true] {
        let path = dir.path().join(format!("v{compress}.mat"));
        write_mat(&path, &vars, compress).unwrap();
        assert_eq!(read_mat(&path).unwrap(), vars);
    }
    // Uncompressed, laid out as scipy does: header, then miMATRIX (14) elements padded to 8.
    let bytes = encode_mat(&vars[..1], false).unwrap();
    assert_eq!(bytes.len(), 128 + 8 + 16 + 16 + 8 + 16);
    assert_eq!(&bytes[128..136], &[14, 0, 0, 0, 56, 0, 0, 0]);
    // Name "a" in the small data element format: miINT8 (1), 1 byte.
    assert_eq!(&bytes[168..176], &[1, 0, 1, 0, b'a', 0, 0, 0]);

    assert!(MatArray::uint8("x", &[2, 2], vec![1, 2, 3]).is_err());
    assert!(MatArray::uint8("x", &[4], vec![1, 2, 3, 4]).is_err());
    let bad_name = MatArray::uint8("", &[1, 1], vec![1]).unwrap();
    assert!(matches!(
        encode_mat(&[bad_name], false),
        Err(DataError::InvalidArgument { .. })
    ));
}

#[test]
fn writer_refuses_other_shapes_labels_above_9_and_empty_splits() {
    let dir = crate::tempdir();
    let good = split(2);
    let gray = Split::new(vec![0; 2 * 1024], vec![1, 2], [1, 32, 32]).unwrap();
    let small = Split::new(vec![0; 3 * 28 * 28], vec![1], [3, 28, 28]).unwrap();
    let ten = Split::new(vec![0; 3072], vec![10], [3, 32, 32]).unwrap();
    let empty = Split::new(vec![], vec![], [3, 32, 32]).unwrap();
    for (bad, needle) in [
        (&gray, "3×32×32"),
        (&small, "3×32×32"),
        (&ten, "label 10 at index 0"),
        (&empty, "at least one image"),
    ] {
        for err in [
            write_svhn(dir.path(), bad, &good).unwrap_err(),
            write_svhn(dir.path(), &good, bad).unwrap_err(),
        ] {
            assert!(
                matches!(&err, DataError::InvalidArgument { problem, .. } if problem.contains(needle)),
                "{err}"
            );
        }
    }
    assert!(!dir.path().join(TRAIN_FILE).exists());
}

/// Writes `vars` (uncompressed unless `compress`) to `dir/name` and returns the path.
fn write(dir: &Path, name: &str, vars: &[MatArray], compress: bool) -> PathBuf {
    let path = dir.join(name);
    write_mat(&path, vars, compress).unwrap();
    path
}

fn x(n: usize) -> MatArray {
    MatArray::uint8("X", &[32, 32, 3, n], vec![1; 3072 * n]).unwrap()
}

fn y(labels: &[f64]) -> MatArray {
    MatArray::double("y", &[labels.len(), 1], labels.to_vec()).unwrap()
}

#[test]
fn wrong_variables_dimensions_and_labels_are_refused_naming_the_file() {
    let dir = crate::tempdir();
    let d = dir.path();
    let cases: Vec<(&str, Vec<MatArray>, &str)> = vec![
        ("no_x.mat", vec![y(&[1.0])], "no variable X (it holds y)"),
        ("no_y.mat", vec![x(1)], "no variable y (it holds X)"),
        ("empty.mat", vec![], "no variable X (it holds no variables)"),
        (
            "gray.mat",
            vec![
                MatArray::uint8("X", &[32, 32, 1, 2], vec![0; 2048]).unwrap(),
                y(&[1.0, 2.0]),
            ],
            "X has dimensions 32×32×1×2; SVHN images must be 32×32×3×N",
        ),
        (
            "small.mat",
            vec![
                MatArray::uint8("X", &[28, 28, 3, 1], vec![0; 2352]).unwrap(),
                y(&[1.0]),
            ],
            "X has dimensions 28×28×3×1",
        ),
        (
            "y_square.mat",
            vec![x(2), MatArray::double("y", &[2, 2], vec![1.0; 4]).unwrap()],
            "y has dimensions 2×2; SVHN labels must be N×1",
        ),
        (
            "count.mat",
            vec![x(2), y(&[1.0, 2.0, 3.0])],
            "X holds 2 images but y holds 3 labels",
        ),
        (
            "label0.mat",
            vec![x(2), y(&[1.0, 0.0])],
            "y holds 0 at index 1; SVHN labels must be whole numbers from 1 to 10",
        ),
        (
            "label11.mat",
            vec![x(1), y(&[11.0])],
            "y holds 11 at index 0",
        ),
        (
            "label_half.mat",
            vec![x(2), y(&[2.5, 1.0])],
            "y holds 2.5 at index 0",
        ),
        (
            "label11_u8.mat",
            vec![x(2), MatArray::uint8("y", &[2, 1], vec![10, 11]).unwrap()],
            "y holds 11 at index 1",
        ),
        (
            "x_double.mat",
            vec![
                MatArray::double("X", &[32, 32, 3, 1], vec![0.0; 3072]).unwrap(),
                y(&[1.0]),
            ],
            "X is of class double; SVHN images must be uint8",
        ),
        (
            "two_x.mat",
            vec![x(1), x(1), y(&[1.0])],
            "holds 2 variables named X",
        ),
        ("no_images.mat", vec![x(0), y(&[])], "X holds no images"),
    ];
    for (name, vars, needle) in cases {
        for compress in [false, true] {
            let path = write(d, name, &vars, compress);
            assert_malformed(read_svhn_file(&path).unwrap_err(), &path, needle);
        }
    }
    // In a folder, the error names the file at fault.
    write(d, TRAIN_FILE, &[x(1), y(&[1.0])], true);
    write(d, TEST_FILE, &[x(1), y(&[0.0])], true);
    assert_malformed(
        read_svhn(d).unwrap_err(),
        &d.join(TEST_FILE),
        "y holds 0 at index 0",
    );
}

#[test]
fn one_image_saved_without_its_trailing_singleton_dimension_is_read() {
    let dir = crate::tempdir();
    let vars = [
        MatArray::uint8(
            "X",
            &[32, 32, 3],
            (0..3072).map(|i| (i % 256) as u8).collect(),
        )
        .unwrap(),
        MatArray::uint8("y", &[1, 1], vec![10]).unwrap(),
    ];
    let path = write(dir.path(), "one.mat", &vars, true);
    let split = read_svhn_file(&path).unwrap();
    assert_eq!(split.labels(), [0]);
    // X(i=1, j=0, c=0) = 1 is row 1, column 0.
    assert_eq!(split.image(0)[32], 1);
    assert_eq!(split.image(0)[1], 32);
}

#[test]
fn truncated_files_are_refused_naming_the_file() {
    let dir = crate::tempdir();
    let vars = [x(2), y(&[1.0, 10.0])];
    for compress in [false, true] {
        let bytes = encode_mat(&vars, compress).unwrap();
        for cut in [
            0,
            5,
            127,
            128 + 4,
            128 + 20,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            let path = dir.path().join(format!("cut{compress}{cut}.mat"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = read_svhn_file(&path).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, DataError::Malformed { .. }), "{text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(
                text.contains("truncated")
                    || text.contains("too short")
                    || text.contains("corrupt"),
                "cut at {cut}: {text}"
            );
        }
    }
}

#[test]
fn a_corrupt_zlib_stream_is_refused_naming_the_file() {
    let dir = crate::tempdir();
    let bytes = encode_mat(&[x(3), y(&[1.0, 2.0, 3.0])], true).unwrap();
    let len = u32::from_le_bytes(bytes[132..136].try_into().unwrap()) as usize;
    for at in [136 + 1, 136 + len / 2, 136 + len - 2] {
        let mut broken = bytes.clone();
        broken[at] ^= 0x55;
        let path = dir.path().join(format!("corrupt{at}.mat"));
        std::fs::write(&path, &broken).unwrap();
        assert_malformed(
            read_svhn_file(&path).unwrap_err(),
            &path,
            "the zlib stream of the variable compressed at byte 128 is corrupt",
        );
    }
}

#[test]
fn non_level5_files_are_refused_with_the_reason() {
    let dir = crate::tempdir();
    let good = encode_mat(&[x(1), y(&[1.0])], false).unwrap();
    let mut v73 = good.clone();
    v73[124..126].copy_from_slice(&[0x00, 0x02]);
    let mut endian = good.clone();
    endian[126..128].copy_from_slice(b"XX");
    let mut level4 = good.clone();
    level4[..4].copy_from_slice(&[0, 0, 0, 0]);
    let mut top = good.clone();
    top[128] = 6; // miUINT32 where a miMATRIX should be
    for (name, bytes, needle) in [
        (
            "short.mat",
            &b"MATLAB 5.0"[..],
            "too short for the 128-byte header",
        ),
        ("v73.mat", &v73[..], "MATLAB 7.3 MAT-file (HDF5)"),
        ("endian.mat", &endian[..], "endian indicator"),
        ("level4.mat", &level4[..], "not a MATLAB Level 5 MAT-file"),
        (
            "top.mat",
            &top[..],
            "miUINT32 (6); a MAT-file holds only miMATRIX",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        assert_malformed(read_mat(&path).unwrap_err(), &path, needle);
    }
}

// Hand-made files in MATLAB's own layouts, which scipy does not write.

fn word(be: bool, v: u32) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// A data element, small if it fits in 4 bytes (as MATLAB writes names and tiny arrays).
fn element(be: bool, ty: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if data.len() <= 4 {
        out.extend_from_slice(&word(be, ty | (data.len() as u32) << 16));
        out.extend_from_slice(data);
        out.resize(8, 0);
    } else {
        out.extend_from_slice(&word(be, ty));
        out.extend_from_slice(&word(be, data.len() as u32));
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(8), 0);
    }
    out
}

fn matrix(be: bool, class: u32, dims: &[u32], name: &str, real_ty: u32, real: &[u8]) -> Vec<u8> {
    let mut flags = word(be, class).to_vec();
    flags.extend_from_slice(&[0; 4]);
    let dims: Vec<u8> = dims.iter().flat_map(|&d| word(be, d)).collect();
    let mut body = element(be, 6, &flags);
    body.extend(element(be, 5, &dims));
    body.extend(element(be, 1, name.as_bytes()));
    body.extend(element(be, real_ty, real));
    let mut out = word(be, 14).to_vec();
    out.extend_from_slice(&word(be, body.len() as u32));
    out.extend(body);
    out
}

fn mat_file(be: bool, elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("{:<116}", "MATLAB 5.0 MAT-file, Platform: GLNXA64").into_bytes();
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(if be { &[0x01, 0x00] } else { &[0x00, 0x01] });
    out.extend_from_slice(if be { b"MI" } else { b"IM" });
    for e in elements {
        out.extend_from_slice(e);
    }
    out
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn compressed(be: bool, inner: &[u8]) -> Vec<u8> {
    let packed = zlib(inner);
    let mut out = word(be, 15).to_vec();
    out.extend_from_slice(&word(be, packed.len() as u32));
    out.extend(packed);
    out
}

#[test]
fn compact_storage_and_both_byte_orders_are_read() {
    let pixels: Vec<u8> = (0..2 * 3072).map(|i| (i * 7 % 251) as u8).collect();
    for be in [false, true] {
        // X uint8 as miUINT8; y double stored as miUINT8 (as MATLAB stores whole numbers).
        let x = matrix(be, 9, &[32, 32, 3, 2], "X", 2, &pixels);
        let y = matrix(be, 6, &[2, 1], "y", 2, &[10, 4]);
        let bytes = mat_file(be, &[compressed(be, &x), y]);
        let split = parse_and_split(&bytes);
        assert_eq!(split.labels(), [0, 4]);
        assert_eq!(
            split.image(1)[1024 + 32 * 3 + 5],
            pixels[3072 + 1024 + 3 + 32 * 5]
        );

        // Doubles stored as miINT16, singles as miSINGLE, int32 as miINT32, uint16 as miUINT16.
        let i16s = numbers(be, &[-2i16, 300], i16::to_le_bytes, i16::to_be_bytes);
        let f32s = numbers(be, &[1.5f32, -0.25], f32::to_le_bytes, f32::to_be_bytes);
        let i32s = numbers(be, &[-70000i32, 5], i32::to_le_bytes, i32::to_be_bytes);
        let f64s = numbers(be, &[0.1f64], f64::to_le_bytes, f64::to_be_bytes);
        let u8_as_i16 = numbers(be, &[200i16, 1], i16::to_le_bytes, i16::to_be_bytes);
        let bytes = mat_file(
            be,
            &[
                matrix(be, 6, &[1, 2], "a", 3, &i16s),
                compressed(be, &matrix(be, 7, &[2, 1], "b", 7, &f32s)),
                matrix(be, 12, &[1, 2], "c", 5, &i32s),
                matrix(be, 6, &[1, 1], "d", 9, &f64s),
                matrix(be, 9, &[1, 2], "e", 3, &u8_as_i16),
            ],
        );
        let vars = parse_mat(Path::new("hand.mat"), &bytes).unwrap();
        assert_eq!(vars[0].data, MatData::F64(vec![-2.0, 300.0]));
        assert_eq!(vars[1].data, MatData::F64(vec![1.5, -0.25]));
        assert_eq!(vars[2].data, MatData::F64(vec![-70000.0, 5.0]));
        assert_eq!(vars[3].data, MatData::F64(vec![0.1]));
        // A uint8 array stored as miINT16 comes back as bytes.
        assert_eq!(vars[4].data, MatData::U8(vec![200, 1]));
    }
}

fn numbers<T: Copy, const N: usize>(
    be: bool,
    values: &[T],
    le: fn(T) -> [u8; N],
    big: fn(T) -> [u8; N],
) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| if be { big(v) } else { le(v) })
        .collect()
}

fn parse_and_split(bytes: &[u8]) -> Split {
    let dir = crate::tempdir();
    let path = dir.path().join("hand.mat");
    std::fs::write(&path, bytes).unwrap();
    read_svhn_file(&path).unwrap()
}

#[test]
fn forged_sizes_are_refused_without_large_allocations() {
    let path = Path::new("forged.mat");
    // A compressed variable whose miMATRIX claims 4 GiB.
    let mut inner = word(false, 14).to_vec();
    inner.extend_from_slice(&u32::MAX.to_le_bytes());
    inner.extend_from_slice(&[0; 64]);
    let bytes = mat_file(false, &[compressed(false, &inner)]);
    let (result, largest) = largest_allocation(|| parse_mat(path, &bytes));
    assert_malformed(
        result.unwrap_err(),
        path,
        "declares 4294967295 bytes, more than",
    );
    assert!(largest < 1 << 20, "allocated {largest} bytes");

    // Dimensions of 2^31-1 × 2^31-1 with a real part of 8 bytes.
    let huge = matrix(
        false,
        6,
        &[i32::MAX as u32, i32::MAX as u32],
        "X",
        9,
        &[0; 8],
    );
    let bytes = mat_file(false, &[huge]);
    let (result, largest) = largest_allocation(|| parse_mat(path, &bytes));
    assert_malformed(
        result.unwrap_err(),
        path,
        "make 4611686014132420609 values but its real part holds 8 bytes",
    );
    assert!(largest < 1 << 20, "allocated {largest} bytes");

    // A negative dimension, and an element that claims more bytes than remain.
    let negative = matrix(false, 6, &[u32::MAX, 1], "X", 9, &[0; 8]);
    let (result, _) = largest_allocation(|| parse_mat(path, &mat_file(false, &[negative])));
    assert_malformed(result.unwrap_err(), path, "dimension 0 is -1");
    let mut long = matrix(false, 6, &[1, 1], "X", 9, &[0; 8]);
    long[4..8].copy_from_slice(&1_000_000u32.to_le_bytes());
    let (result, largest) = largest_allocation(|| parse_mat(path, &mat_file(false, &[long])));
    assert_malformed(result.unwrap_err(), path, "declares 1000000 bytes but only");
    assert!(largest < 1 << 20, "allocated {largest} bytes");
}

#[test]
fn every_single_byte_change_and_cut_is_an_error_or_a_value_never_a_panic() {
    let good = encode_mat(&[x(1), y(&[3.0])], false).unwrap();
    let packed = encode_mat(&[x(1), y(&[3.0])], true).unwrap();
    for bytes in [&good, &packed] {
        for at in 0..bytes.len().min(400) {
            for v in [0u8, 0xff, 0x7f, 0x10] {
                let mut b = bytes.clone();
                b[at] = v;
                let _ = parse_mat(Path::new("f.mat"), &b);
            }
            let _ = parse_mat(Path::new("f.mat"), &bytes[..at]);
        }
    }
}

#[test]
fn svhn_variables_are_what_write_svhn_writes() {
    let vars = svhn_variables(&split(2), "train").unwrap();
    assert_eq!(vars[0].name, "X");
    assert_eq!(vars[1].data, MatData::U8(vec![10, 1]));
}

// Colour shapes: the synthetic dataset of the RGB formats.

use convlens_data::synthetic_colour::{colour_dataset, colour_shapes, MIN_CONTRAST};

fn luma(image: &[u8], plane: usize, at: usize) -> f32 {
    let [r, g, b] = [0, 1, 2].map(|c| f32::from(image[c * plane + at]) / 255.0);
    0.299 * r + 0.587 * g + 0.114 * b
}

#[test]
fn colour_shapes_are_deterministic_rgb_and_of_every_class() {
    let a = colour_shapes(300, 32, 7).unwrap();
    assert_eq!((a.len(), a.image_shape()), (300, [3, 32, 32]));
    assert_eq!(a, colour_shapes(300, 32, 7).unwrap());
    assert_ne!(a, colour_shapes(300, 32, 8).unwrap());
    assert!(
        a.class_counts(10).iter().all(|&c| c >= 15),
        "{:?}",
        a.class_counts(10)
    );
    assert!(a.labels().iter().all(|&l| l < 10));
    // The first images of a longer run are the same images.
    assert_eq!(colour_shapes(400, 32, 7).unwrap().first(300), a);

    let (train, test) = colour_dataset(50, 20, 28, 3).unwrap();
    assert_eq!((train.len(), test.len()), (50, 20));
    assert_eq!(train.image_shape(), [3, 28, 28]);
    assert_eq!(train, colour_shapes(50, 28, 3).unwrap());
    assert_ne!(test, colour_shapes(20, 28, 3).unwrap());
    assert!(matches!(
        colour_shapes(5, 0, 1),
        Err(DataError::InvalidArgument { .. })
    ));
    assert!(colour_shapes(0, 8, 1).unwrap().is_empty());
}

#[test]
fn colour_shapes_vary_in_colour_within_a_class_and_contrast_with_their_background() {
    let size = 32;
    let plane = size * size;
    let split = colour_shapes(400, size, 11).unwrap();
    let centre = (size / 2) * size + size / 2;
    for class in 0..10u8 {
        let images: Vec<&[u8]> = (0..split.len())
            .filter(|&i| split.labels()[i] == class)
            .map(|i| split.image(i))
            .collect();
        // Background colour (a corner pixel): many different, some light, some dark, in
        // every class; so is the colour of the shape where it covers the centre.
        let corners: std::collections::BTreeSet<[u8; 3]> = images
            .iter()
            .map(|im| [im[0], im[plane], im[2 * plane]])
            .collect();
        assert!(
            corners.len() > images.len() / 2,
            "class {class}: {corners:?}"
        );
        let light = images.iter().filter(|im| luma(im, plane, 0) > 0.5).count();
        assert!(
            light > images.len() / 5 && light < images.len() * 4 / 5,
            "class {class}: {light} of {} backgrounds light",
            images.len()
        );
        let dominant: std::collections::BTreeSet<usize> = images
            .iter()
            .map(|im| (0..3).max_by_key(|&c| im[c * plane]).unwrap())
            .collect();
        assert_eq!(dominant.len(), 3, "class {class}: background hues");
        // Every image holds pixels of two brightnesses (noise alone spans less than 0.06)…
        for im in &images {
            let lumas: Vec<f32> = (0..plane).map(|at| luma(im, plane, at)).collect();
            let max = lumas.iter().copied().fold(0.0, f32::max);
            let min = lumas.iter().copied().fold(1.0, f32::min);
            assert!(
                max - min > MIN_CONTRAST - 0.06,
                "class {class}: range {}",
                max - min
            );
        }
        // …and a disc or a block covers the centre, which contrasts with the corner.
        if class == 5 || class == 9 {
            for im in &images {
                let d = (luma(im, plane, centre) - luma(im, plane, 0)).abs();
                assert!(d > MIN_CONTRAST - 0.06, "class {class}: contrast {d}");
            }
        }
    }
}

#[test]
fn x_of_another_class_is_refused_by_its_class() {
    // X as a cell array (flags, dimensions, name, no cells), y as MATLAB stores it.
    for class in [1u32, 4] {
        let mut body = element(false, 6, &[class as u8, 0, 0, 0, 0, 0, 0, 0]);
        body.extend(element(false, 5, &[0, 0, 0, 0, 0, 0, 0, 0]));
        body.extend(element(false, 1, b"X"));
        let mut cell = word(false, 14).to_vec();
        cell.extend_from_slice(&word(false, body.len() as u32));
        cell.extend(body);
        let bytes = mat_file(false, &[cell, matrix(false, 6, &[1, 1], "y", 2, &[1])]);
        let dir = crate::tempdir();
        let path = dir.path().join("cell.mat");
        std::fs::write(&path, bytes).unwrap();
        let what = if class == 1 {
            "cell array"
        } else {
            "char array"
        };
        assert_malformed(
            read_svhn_file(&path).unwrap_err(),
            &path,
            &format!("X is a {what}, which is not read; SVHN images must be a uint8 array"),
        );
    }
}
