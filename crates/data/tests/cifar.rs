//! CIFAR-10 / CIFAR-100 in both layouts, and the pickle reader: writer→reader round trips,
//! pickles written by Python 3 + numpy 2 (fixtures), hostile and broken files.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use convlens_data::formats::cifar::{
    read_cifar100_binary, read_cifar100_python, read_cifar10_binary, read_cifar10_python,
    write_cifar100_binary, write_cifar100_python, write_cifar10_binary, write_cifar10_python,
    Cifar100Splits, CIFAR100_BINARY_FILES, CIFAR100_PYTHON_FILES, CIFAR10_BINARY_FILES,
    CIFAR10_PYTHON_FILES,
};
use convlens_data::formats::pickle::{parse, Dtype, NdArray, Value};
use convlens_data::{DataError, Split};

use crate::alloc::largest_allocation;
use crate::tempdir;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The pixel `j` of image `i` in the splits below (and in `make_pickles.py`); the three
/// colour planes differ.
fn pixel(i: usize, j: usize) -> u8 {
    ((j * 31 + (j / 1024) * 101 + 7 * i) % 256) as u8
}

fn split(first: usize, labels: &[u8]) -> Split {
    let pixels = (first..first + labels.len())
        .flat_map(|i| (0..3072).map(move |j| pixel(i, j)))
        .collect();
    Split::new(pixels, labels.to_vec(), [3, 32, 32]).unwrap()
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn cifar10_names() -> Vec<String> {
    [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    .map(String::from)
    .to_vec()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn sorted(names: impl IntoIterator<Item = &'static str>) -> Vec<String> {
    let mut v: Vec<String> = names.into_iter().map(String::from).collect();
    v.sort();
    v
}

fn malformed(err: DataError) -> (PathBuf, String) {
    match err {
        DataError::Malformed { path, problem } => (path, problem),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn cifar10_python_round_trip() {
    let dir = tempdir();
    let dir = dir.path().join("cifar-10-batches-py");
    let train = split(0, &[0, 1, 2, 3, 4, 5, 9]);
    let test = split(100, &[7, 8, 9]);
    write_cifar10_python(&dir, &train, &test, &cifar10_names()).unwrap();
    assert_eq!(
        file_names(&dir),
        sorted(CIFAR10_PYTHON_FILES.iter().map(|f| f.0))
    );
    // The structure of the published files: Python 2 cPickle, protocol 2.
    let batch = std::fs::read(dir.join("data_batch_1")).unwrap();
    assert!(batch.starts_with(b"\x80\x02}(U\x04datacnumpy.core.multiarray\n_reconstruct\n"));

    let loaded = read_cifar10_python(&dir).unwrap();
    assert_eq!(loaded.class_names, cifar10_names());
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.train.labels(), &[0, 1, 2, 3, 4, 5, 9]);
    assert_eq!(loaded.train.image(6)[..3], [42, 73, 104]);
    assert_eq!(loaded.train.image(6)[3071], pixel(6, 3071));
    // Planar: the first pixel's red, green and blue are 1024 bytes apart.
    let image = loaded.train.image(6);
    assert_eq!([image[0], image[1024], image[2048]], [42, 143, 244]);
    let test_loaded = loaded.test.unwrap();
    assert_eq!(test_loaded, test);
    assert_eq!(test_loaded.image(0)[..2], [188, 219]);
}

#[test]
fn cifar10_binary_round_trip() {
    let dir = tempdir();
    let dir = dir.path().join("cifar-10-batches-bin");
    let train = split(0, &[9, 8, 7, 6, 5, 4]);
    let test = split(50, &[1, 2]);
    write_cifar10_binary(&dir, &train, &test, &cifar10_names()).unwrap();
    assert_eq!(
        file_names(&dir),
        sorted(CIFAR10_BINARY_FILES.iter().copied())
    );
    // Six images over five batches: the last one holds two records.
    let last = std::fs::read(dir.join("data_batch_5.bin")).unwrap();
    assert_eq!(last.len(), 2 * 3073);
    assert_eq!(last[0], 5);
    assert_eq!(last[1..4], [pixel(4, 0), pixel(4, 1), pixel(4, 2)]);

    let loaded = read_cifar10_binary(&dir).unwrap();
    assert_eq!(loaded.class_names, cifar10_names());
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.train.labels(), &[9, 8, 7, 6, 5, 4]);
    assert_eq!(loaded.test.unwrap(), test);
}

fn cifar100_data() -> (Split, Vec<u8>, Split, Vec<u8>, Vec<String>, Vec<String>) {
    let train = split(0, &[0, 42, 99]);
    let test = split(10, &[17, 3]);
    (
        train,
        vec![19, 0, 7],
        test,
        vec![5, 19],
        names("fine", 100),
        names("coarse", 20),
    )
}

#[test]
fn cifar100_python_round_trip_fine_and_coarse() {
    let dir = tempdir();
    let dir = dir.path().join("cifar-100-python");
    let (train, train_coarse, test, test_coarse, fine, coarse) = cifar100_data();
    let splits = Cifar100Splits {
        train: &train,
        train_coarse: &train_coarse,
        test: &test,
        test_coarse: &test_coarse,
        fine_names: &fine,
        coarse_names: &coarse,
    };
    write_cifar100_python(&dir, &splits).unwrap();
    assert_eq!(
        file_names(&dir),
        sorted(CIFAR100_PYTHON_FILES.iter().map(|f| f.0))
    );

    let loaded = read_cifar100_python(&dir, false).unwrap();
    assert_eq!(loaded.class_names, fine);
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.train.labels(), &[0, 42, 99]);
    assert_eq!(loaded.test.unwrap(), test);

    let loaded = read_cifar100_python(&dir, true).unwrap();
    assert_eq!(loaded.class_names, coarse);
    assert_eq!(loaded.train.labels(), &[19, 0, 7]);
    assert_eq!(loaded.train.image(2)[..2], [pixel(2, 0), pixel(2, 1)]);
    let test_loaded = loaded.test.unwrap();
    assert_eq!(test_loaded.labels(), &[5, 19]);
    assert_eq!(test_loaded.image(1), test.image(1));
}

#[test]
fn cifar100_binary_round_trip_fine_and_coarse() {
    let dir = tempdir();
    let dir = dir.path().join("cifar-100-binary");
    let (train, train_coarse, test, test_coarse, fine, coarse) = cifar100_data();
    let splits = Cifar100Splits {
        train: &train,
        train_coarse: &train_coarse,
        test: &test,
        test_coarse: &test_coarse,
        fine_names: &fine,
        coarse_names: &coarse,
    };
    write_cifar100_binary(&dir, &splits).unwrap();
    assert_eq!(
        file_names(&dir),
        sorted(CIFAR100_BINARY_FILES.iter().copied())
    );
    let bytes = std::fs::read(dir.join("train.bin")).unwrap();
    assert_eq!(bytes.len(), 3 * 3074);
    assert_eq!(bytes[3074..3076], [0, 42], "coarse byte, then fine byte");

    let loaded = read_cifar100_binary(&dir, false).unwrap();
    assert_eq!(loaded.class_names, fine);
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test.unwrap(), test);

    let loaded = read_cifar100_binary(&dir, true).unwrap();
    assert_eq!(loaded.class_names, coarse);
    assert_eq!(loaded.train.labels(), &[19, 0, 7]);
    assert_eq!(loaded.train.image(1), train.image(1));
    assert_eq!(loaded.test.unwrap().labels(), &[5, 19]);
}

#[test]
fn non_ascii_class_names_round_trip_and_missing_files_are_named() {
    let dir = tempdir();
    let mut class_names = names("c", 8);
    class_names.push("h\u{e9}ron".into()); // Latin-1: a Python 2 str
    class_names.push("\u{732b}".into()); // beyond Latin-1: a Python 2 unicode
    let train = split(0, &[8, 9, 0, 1, 2]);
    let test = split(5, &[9]);
    let py = dir.path().join("py");
    write_cifar10_python(&py, &train, &test, &class_names).unwrap();
    assert_eq!(read_cifar10_python(&py).unwrap().class_names, class_names);
    let bin = dir.path().join("bin");
    write_cifar10_binary(&bin, &train, &test, &class_names).unwrap();
    assert_eq!(read_cifar10_binary(&bin).unwrap().class_names, class_names);

    std::fs::remove_file(py.join("data_batch_2")).unwrap();
    let err = read_cifar10_python(&py).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { path, action: "cannot read", .. } if *path == py.join("data_batch_2")),
        "{err:?}"
    );
}

#[test]
fn fortran_ordered_data_is_read_image_by_image() {
    let dir = tempdir();
    let py = dir.path().join("py");
    let test = split(30, &[4, 6]);
    write_cifar10_python(&py, &split(0, &[0; 5]), &test, &names("n", 10)).unwrap();
    // Rewrite test_batch's (2, 3072) array as numpy stores a Fortran-ordered one: the
    // flag set, and element (i, j) at j × 2 + i.
    let path = py.join("test_batch");
    let mut bytes = std::fs::read(&path).unwrap();
    let header = b"\x89T\x00\x18\x00\x00"; // is_fortran False, BINSTRING of 6144 bytes
    let at = bytes.windows(6).position(|w| w == header).unwrap();
    bytes[at] = 0x88;
    let data = at + header.len();
    for j in 0..3072 {
        for i in 0..2 {
            bytes[data + j * 2 + i] = test.image(i)[j];
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    let loaded = read_cifar10_python(&py).unwrap().test.unwrap();
    assert_eq!(loaded, test);
    assert_eq!(loaded.image(1)[..2], [pixel(31, 0), pixel(31, 1)]);
}

#[test]
fn writers_refuse_what_cifar_cannot_hold() {
    let dir = tempdir();
    let out = dir.path().join("c");
    let names10 = cifar10_names();
    let train = split(0, &[0; 5]);
    let test = split(0, &[0]);
    let small = Split::new(vec![0; 2 * 784], vec![0, 1], [1, 28, 28]).unwrap();
    let err = write_cifar10_python(&out, &small, &test, &names10).unwrap_err();
    assert!(err.to_string().contains("[3, 32, 32]"), "{err}");
    let err = write_cifar10_binary(&out, &train, &test, &names("c", 11)).unwrap_err();
    assert!(
        err.to_string().contains("11 names: expected 1 to 10"),
        "{err}"
    );
    let err = write_cifar10_python(&out, &split(0, &[0; 4]), &test, &names10).unwrap_err();
    assert!(err.to_string().contains("at least 5"), "{err}");
    let err = write_cifar10_binary(&out, &train, &split(0, &[3]), &names("c", 3)).unwrap_err();
    assert!(err.to_string().contains("test label 0 = 3"), "{err}");
    let fine = names("f", 100);
    let coarse = names("c", 21);
    let splits = Cifar100Splits {
        train: &test,
        train_coarse: &[0],
        test: &test,
        test_coarse: &[0],
        fine_names: &fine,
        coarse_names: &coarse,
    };
    let err = write_cifar100_binary(&out, &splits).unwrap_err();
    assert!(
        err.to_string().contains("21 names: expected 1 to 20"),
        "{err}"
    );
    let coarse = names("c", 20);
    let splits = Cifar100Splits {
        train_coarse: &[],
        coarse_names: &coarse,
        ..splits
    };
    let err = write_cifar100_python(&out, &splits).unwrap_err();
    assert!(err.to_string().contains("train_coarse = 0 labels"), "{err}");
    assert!(!out.exists(), "nothing written after a refusal");
}

// ---------------------------------------------------------------------------------------
// Pickles written by Python 3 + numpy 2

fn array<'v>(v: &'v Value<'_>, key: &str) -> &'v NdArray<'v> {
    match v.get(key) {
        Some(Value::NdArray(a)) => a,
        other => panic!("{key}: {other:?}"),
    }
}

const U1: Dtype = Dtype {
    signed: false,
    size: 1,
    big_endian: false,
};

fn str_value(s: &str) -> Value<'_> {
    Value::Str(Cow::Borrowed(s))
}

#[test]
fn numpy2_pickles_of_protocols_2_4_5_parse_exactly() {
    for protocol in [2, 4, 5] {
        let path = fixture(&format!("numpy_p{protocol}.pickle"));
        let bytes = std::fs::read(&path).unwrap();
        // numpy 2's module names, not numpy.core.
        let needle: &[u8] = if protocol == 5 {
            b"numpy._core.numeric"
        } else {
            b"numpy._core.multiarray"
        };
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        let v = parse(&bytes, &path).unwrap_or_else(|e| panic!("protocol {protocol}: {e}"));

        let data = array(&v, "data");
        assert_eq!(data.dtype, U1);
        assert_eq!(data.shape, [2, 6]);
        assert!(!data.fortran);
        assert_eq!(
            data.data.as_ref(),
            &[0, 21, 42, 63, 84, 105, 126, 147, 168, 189, 210, 231]
        );
        let data2 = array(&v, "data2");
        assert_eq!((data2.dtype, data2.data.as_ref()), (U1, &[5u8, 250][..]));

        let i8 = array(&v, "i8");
        assert_eq!(i8.dtype.name(), "<i8");
        assert_eq!(i8.shape, [3]);
        let ints: Vec<_> = (0..i8.len()).map(|i| i8.get(i)).collect();
        assert_eq!(ints, [Some(3), Some(-4), Some(1 << 40)]);
        assert_eq!(i8.get(3), None);

        let big = array(&v, "big");
        assert_eq!(
            big.dtype,
            Dtype {
                signed: true,
                size: 4,
                big_endian: true
            }
        );
        assert_eq!((big.get(0), big.get(1)), (Some(258), Some(-2)));

        let fortran = array(&v, "fortran");
        assert!(fortran.fortran, "protocol {protocol}");
        assert_eq!(fortran.shape, [2, 3]);
        assert_eq!(fortran.data.as_ref(), &[0, 3, 1, 4, 2, 5]);

        assert_eq!(
            v.get("labels"),
            Some(&Value::List(vec![Value::Int(1), Value::Int(9)]))
        );
        assert_eq!(
            v.get("scalars"),
            Some(&Value::List(vec![Value::Int(7), Value::Int(200)]))
        );
        assert_eq!(
            v.get("bytes_key"),
            Some(&Value::Bytes(Cow::Borrowed(b"\x00\xffab")))
        );
        assert_eq!(v.get("text"), Some(&str_value("h\u{e9}llo")));
        assert_eq!(
            v.get("nested").and_then(|n| n.get("t")),
            Some(&Value::Tuple(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::None,
                Value::Bool(true),
                Value::Bool(false),
            ]))
        );
        // One list memoized and referred to twice (filled after it was memoized).
        let shared = Value::List(vec![str_value("a"), str_value("b")]);
        assert_eq!(v.get("l1"), Some(&shared));
        assert_eq!(v.get("l2"), Some(&shared));
        let Value::Dict(items) = &v else {
            panic!("not a dict")
        };
        assert_eq!(items.len(), 12);
    }
}

#[test]
fn python3_written_cifar_files_are_read() {
    let dir = tempdir();
    let dir = dir.path().join("cifar-10-batches-py");
    let train = split(10, &[0, 1, 2, 3, 4]);
    write_cifar10_python(&dir, &train, &split(20, &[5]), &names("n", 10)).unwrap();
    // Replace three files by ones Python 3 + numpy 2 wrote.
    for (fixture_name, file) in [
        ("cifar10_data_batch_p2", "data_batch_1"),
        ("cifar10_test_batch_p5", "test_batch"),
        ("cifar10_batches_meta_p4", "batches.meta"),
    ] {
        std::fs::copy(fixture(fixture_name), dir.join(file)).unwrap();
    }
    let loaded = read_cifar10_python(&dir).unwrap();
    assert_eq!(loaded.class_names, cifar10_names());
    assert_eq!(loaded.train.len(), 5);
    // data_batch_1 now holds the one image of make_pickles.py's `image(2)`, label 3.
    assert_eq!(loaded.train.labels(), &[3, 1, 2, 3, 4]);
    let expected: Vec<u8> = (0..3072).map(|j| pixel(2, j)).collect();
    assert_eq!(loaded.train.image(0), &expected[..]);
    assert_eq!(loaded.train.image(0)[..3], [14, 45, 76]);
    let image = loaded.train.image(0);
    assert_eq!([image[0], image[1024], image[2048]], [14, 115, 216]);
    assert_eq!(loaded.train.image(1), train.image(1));
    let test = loaded.test.unwrap();
    assert_eq!(test.labels(), &[8]);
    let expected: Vec<u8> = (0..3072).map(|j| pixel(1, j)).collect();
    assert_eq!(test.image(0), &expected[..]);
}

// ---------------------------------------------------------------------------------------
// Hostile and broken pickles

fn binunicode(s: &str) -> Vec<u8> {
    let mut out = vec![b'X'];
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    out
}

#[test]
fn a_pickle_calling_os_system_is_refused_and_nothing_runs() {
    let dir = tempdir();
    let marker = dir.path().join("pwned");
    let command = format!("touch {}", marker.display());
    let cifar = dir.path().join("cifar-10-batches-py");
    write_cifar10_python(&cifar, &split(0, &[0; 5]), &split(0, &[0]), &names("n", 10)).unwrap();

    // Protocol 2: GLOBAL 'os system', then REDUCE with the command.
    let mut evil = b"\x80\x02cos\nsystem\n".to_vec();
    evil.extend(binunicode(&command));
    evil.extend_from_slice(b"\x85R.");
    std::fs::write(cifar.join("data_batch_1"), &evil).unwrap();
    let (path, problem) = malformed(read_cifar10_python(&cifar).unwrap_err());
    assert_eq!(path, cifar.join("data_batch_1"));
    assert!(problem.contains("refusing global os.system"), "{problem}");
    assert!(problem.contains("byte 2:"), "{problem}");
    assert!(!marker.exists(), "the command ran");

    // Protocol 4: STACK_GLOBAL 'builtins' 'eval'; and 'posix' 'system'.
    for (module, name) in [("builtins", "eval"), ("posix", "system")] {
        let mut evil = b"\x80\x04".to_vec();
        for s in [module, name] {
            evil.push(0x8c);
            evil.push(s.len() as u8);
            evil.extend_from_slice(s.as_bytes());
        }
        evil.push(0x93);
        evil.extend(binunicode(&command));
        evil.extend_from_slice(b"\x85R.");
        let path = dir.path().join("evil.pickle");
        let (p, problem) = malformed(parse(&evil, &path).unwrap_err());
        assert_eq!(p, path);
        assert!(
            problem.contains(&format!("refusing global {module}.{name}")),
            "{problem}"
        );
        let offset = 2 + (2 + module.len()) + (2 + name.len());
        assert!(problem.contains(&format!("byte {offset}:")), "{problem}");
        assert!(!marker.exists(), "the command ran");
    }
}

#[test]
fn allowed_globals_are_not_callable_with_other_arguments() {
    let path = Path::new("reduce.pickle");
    // numpy.dtype called with a shell command instead of a dtype name.
    let mut bytes = b"\x80\x02cnumpy\ndtype\n".to_vec();
    bytes.extend(binunicode("rm -rf /"));
    bytes.extend_from_slice(b"\x89\x88\x87R.");
    let (_, problem) = malformed(parse(&bytes, path).unwrap_err());
    assert!(
        problem.contains("numpy dtype 'rm -rf /' is not supported"),
        "{problem}"
    );
    // _reconstruct of something else than numpy.ndarray.
    let bytes =
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85U\x01b\x87R.";
    let (_, problem) = malformed(parse(bytes, path).unwrap_err());
    assert!(
        problem.contains(
            "byte 58: REDUCE of numpy.core.multiarray._reconstruct with arguments numpy does not write"
        ),
        "{problem}"
    );
    // REDUCE of a string.
    let (_, problem) = malformed(parse(b"\x80\x02U\x01x)R.", path).unwrap_err());
    assert!(problem.contains("REDUCE calls a bytes"), "{problem}");
    // BUILD on a dict (Python would call __setstate__ or update __dict__).
    let (_, problem) = malformed(parse(b"\x80\x02})b.", path).unwrap_err());
    assert!(problem.contains("BUILD of a dict"), "{problem}");
    // A bare global as a value.
    let (_, problem) = malformed(parse(b"\x80\x02cnumpy\nndarray\n.", path).unwrap_err());
    assert!(
        problem.contains("numpy.ndarray object is not a value"),
        "{problem}"
    );
}

#[test]
fn unknown_opcodes_are_refused_by_name_and_offset() {
    let path = Path::new("/data/x.pickle");
    for (bytes, expected) in [
        (
            &b"\x80\x02I1\n."[..],
            "byte 2: opcode 0x49 ('I') is not supported",
        ),
        (
            &b"\x80\x02(i__main__\nX\n."[..],
            "byte 3: opcode 0x69 ('i') is not supported",
        ),
        (
            &b"\x80\x02)}o."[..],
            "byte 4: opcode 0x6f ('o') is not supported",
        ),
        (&b"\x80\x02\xff"[..], "byte 2: opcode 0xff is not supported"),
        (
            &b"\x80\x06}."[..],
            "byte 0: pickle protocol 6 is not supported",
        ),
    ] {
        let err = parse(bytes, path).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("/data/x.pickle: not a readable pickle: "),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn truncated_pickles_fail_naming_the_file() {
    let path = fixture("numpy_p2.pickle");
    let bytes = std::fs::read(&path).unwrap();
    for len in 0..bytes.len() {
        let (p, problem) = malformed(parse(&bytes[..len], &path).unwrap_err());
        assert_eq!(p, path);
        assert!(
            problem.contains("truncated") || problem.contains("finds no value"),
            "{len}: {problem}"
        );
    }
    // A writer-made batch cut inside its pixel data.
    let dir = tempdir();
    let cifar = dir.path().join("cifar-10-batches-py");
    write_cifar10_python(&cifar, &split(0, &[0; 5]), &split(0, &[0]), &names("n", 10)).unwrap();
    let test = cifar.join("test_batch");
    let bytes = std::fs::read(&test).unwrap();
    std::fs::write(&test, &bytes[..2000]).unwrap();
    let (p, problem) = malformed(read_cifar10_python(&cifar).unwrap_err());
    assert_eq!(p, test);
    assert!(
        problem.contains("BINSTRING needs 3072 bytes but only"),
        "{problem}"
    );
    assert!(problem.contains("the file is truncated"), "{problem}");
}

#[test]
fn forged_lengths_allocate_nothing_large() {
    let path = Path::new("forged.pickle");
    let mut bytes = b"\x80\x04\x8e".to_vec();
    bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
    bytes.extend_from_slice(b"abc.");
    let (result, largest) = largest_allocation(|| parse(&bytes, path));
    let (_, problem) = malformed(result.unwrap_err());
    assert!(
        problem.contains("BINBYTES8 needs 4611686018427387904 bytes but only 4 remain"),
        "{problem}"
    );
    assert!(largest < 1 << 16, "allocated {largest}");

    // An array whose shape claims more than its data: (1, 3328) instead of (1, 3072).
    let dir = tempdir();
    let cifar = dir.path().join("cifar-10-batches-py");
    write_cifar10_python(&cifar, &split(0, &[0; 5]), &split(0, &[0]), &names("n", 10)).unwrap();
    let test = cifar.join("test_batch");
    let mut bytes = std::fs::read(&test).unwrap();
    let at = bytes
        .windows(5)
        .position(|w| w == b"K\x01M\x00\x0c")
        .unwrap();
    bytes[at + 4] = 0x0d;
    std::fs::write(&test, &bytes).unwrap();
    let (result, largest) = largest_allocation(|| read_cifar10_python(&cifar));
    let (p, problem) = malformed(result.unwrap_err());
    assert_eq!(p, test);
    assert!(
        problem.contains("a numpy array of shape [1, 3328] and dtype |u1 holds 3072 data bytes"),
        "{problem}"
    );
    assert!(largest < 1 << 16, "allocated {largest}");
}

#[test]
fn self_reference_and_exponential_sharing_are_refused() {
    let path = Path::new("loop.pickle");
    // A list that contains itself.
    let (_, problem) = malformed(parse(b"\x80\x02]q\x00h\x00a.", path).unwrap_err());
    assert!(problem.contains("nest deeper than 64"), "{problem}");
    // 40 levels of lists each holding the previous one twice: 2^40 leaves as a tree.
    let mut bytes = b"\x80\x02]q\x00".to_vec();
    for i in 1..=40u8 {
        bytes.extend_from_slice(&[b']', b'(', b'h', i - 1, b'h', i - 1, b'e', b'q', i]);
    }
    bytes.push(b'.');
    let (_, problem) = malformed(parse(&bytes, path).unwrap_err());
    assert!(
        problem.contains("refer to each other more than"),
        "{problem}"
    );
}

#[test]
fn mutated_pickles_never_panic() {
    for name in [
        "numpy_p2.pickle",
        "numpy_p4.pickle",
        "numpy_p5.pickle",
        "cifar10_batches_meta_p4",
    ] {
        let path = fixture(name);
        let original = std::fs::read(&path).unwrap();
        for i in 0..original.len() {
            for value in [0x00, 0xff, 0x7f, 0x80, original[i] ^ 1, b'(', b'h', b'R'] {
                let mut bytes = original.clone();
                bytes[i] = value;
                let (result, largest) = largest_allocation(|| parse(&bytes, &path).map(|_| ()));
                assert!(
                    largest <= 64 * bytes.len() + (1 << 16),
                    "{name} byte {i} = {value}: allocated {largest}"
                );
                if let Err(e) = result {
                    assert_eq!(malformed(e).0, path);
                }
            }
        }
    }
}

#[test]
fn randomly_damaged_pickles_never_panic() {
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};

    let dir = tempdir();
    let py = dir.path().join("py");
    write_cifar10_python(
        &py,
        &split(0, &[0, 1, 2, 3, 4]),
        &split(9, &[5]),
        &names("n", 10),
    )
    .unwrap();
    let mut samples = vec![
        std::fs::read(py.join("batches.meta")).unwrap(),
        std::fs::read(fixture("numpy_p2.pickle")).unwrap(),
        std::fs::read(fixture("numpy_p5.pickle")).unwrap(),
    ];
    // The writer's batch with an array of shape (0, 3072), so damage lands in the structure.
    let batch = std::fs::read(py.join("test_batch")).unwrap();
    let data = batch
        .windows(5)
        .position(|w| w == b"T\x00\x0c\x00\x00")
        .unwrap();
    let mut short = batch[..data].to_vec();
    short.extend_from_slice(b"U\x00");
    short.extend_from_slice(&batch[data + 5 + 3072..]);
    let count = short
        .windows(5)
        .position(|w| w == b"K\x01M\x00\x0c")
        .unwrap();
    short[count + 1] = 0;
    let parsed = parse(&short, Path::new("short")).unwrap();
    assert_eq!(array(&parsed, "data").shape, [0, 3072]);
    samples.push(short);
    let path = Path::new("damaged.pickle");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for round in 0..20_000 {
        let mut bytes = samples[round % samples.len()].clone();
        for _ in 0..1 + rng.next_u32() % 4 {
            let i = rng.next_u32() as usize % bytes.len();
            bytes[i] = rng.next_u32() as u8;
        }
        if rng.next_u32() % 8 == 0 {
            bytes.truncate(rng.next_u32() as usize % bytes.len());
        }
        let (result, largest) = largest_allocation(|| parse(&bytes, path).map(|_| ()));
        assert!(
            largest <= 64 * bytes.len() + (1 << 16),
            "round {round}: allocated {largest} for {} bytes",
            bytes.len()
        );
        if let Err(e) = result {
            assert_eq!(malformed(e).0, path);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Broken binary files and labels

#[test]
fn truncated_or_oversized_binary_batches_are_refused() {
    let dir = tempdir();
    let cifar = dir.path().join("cifar-10-batches-bin");
    write_cifar10_binary(
        &cifar,
        &split(0, &[1; 10]),
        &split(0, &[2]),
        &cifar10_names(),
    )
    .unwrap();
    let batch = cifar.join("data_batch_3.bin");
    let good = std::fs::read(&batch).unwrap();
    assert_eq!(good.len(), 2 * 3073);
    for (len, extra) in [(2 * 3073 - 1, 0), (2 * 3073, 1), (0, 0)] {
        let mut bytes = good[..len].to_vec();
        bytes.extend(std::iter::repeat_n(0, extra));
        std::fs::write(&batch, &bytes).unwrap();
        let (path, problem) = malformed(read_cifar10_binary(&cifar).unwrap_err());
        assert_eq!(path, batch);
        assert_eq!(
            problem,
            format!(
                "the file is {} bytes, not a whole number of 3073-byte records (one label byte \
                 and 3072 pixel bytes); it is truncated, has trailing bytes, or is not a \
                 CIFAR-10 binary batch",
                bytes.len()
            )
        );
    }

    let fine = names("f", 100);
    let coarse = names("c", 20);
    let one = split(0, &[1]);
    let cifar100 = dir.path().join("cifar-100-binary");
    let splits = Cifar100Splits {
        train: &one,
        train_coarse: &[2],
        test: &one,
        test_coarse: &[2],
        fine_names: &fine,
        coarse_names: &coarse,
    };
    write_cifar100_binary(&cifar100, &splits).unwrap();
    let train = cifar100.join("train.bin");
    std::fs::write(&train, vec![0; 3073]).unwrap();
    let (path, problem) = malformed(read_cifar100_binary(&cifar100, false).unwrap_err());
    assert_eq!(path, train);
    assert!(
        problem.starts_with("the file is 3073 bytes, not a whole number of 3074-byte records"),
        "{problem}"
    );
}

#[test]
fn labels_out_of_range_name_file_index_and_label() {
    let dir = tempdir();
    let cifar = dir.path().join("cifar-10-batches-bin");
    write_cifar10_binary(
        &cifar,
        &split(0, &[1; 5]),
        &split(0, &[2, 3, 4]),
        &cifar10_names(),
    )
    .unwrap();
    let test = cifar.join("test_batch.bin");
    let mut bytes = std::fs::read(&test).unwrap();
    bytes[2 * 3073] = 10;
    std::fs::write(&test, &bytes).unwrap();
    let err = read_cifar10_binary(&cifar).unwrap_err();
    assert!(
        matches!(&err, DataError::LabelOutOfRange { path, index: 2, label: 10, classes: 10, .. } if *path == test),
        "{err:?}"
    );
    assert!(err.to_string().contains("label 10 at index 2"), "{err}");

    // CIFAR-100: a coarse label of 20 fails the coarse reading only.
    let fine = names("f", 100);
    let coarse = names("c", 20);
    let two = split(0, &[5, 6]);
    let cifar100 = dir.path().join("cifar-100-binary");
    let splits = Cifar100Splits {
        train: &two,
        train_coarse: &[1, 1],
        test: &two,
        test_coarse: &[1, 1],
        fine_names: &fine,
        coarse_names: &coarse,
    };
    write_cifar100_binary(&cifar100, &splits).unwrap();
    let train = cifar100.join("train.bin");
    let mut bytes = std::fs::read(&train).unwrap();
    bytes[3074] = 20;
    std::fs::write(&train, &bytes).unwrap();
    assert_eq!(
        read_cifar100_binary(&cifar100, false)
            .unwrap()
            .train
            .labels(),
        &[5, 6]
    );
    let err = read_cifar100_binary(&cifar100, true).unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 20,
                classes: 20,
                ..
            }
        ),
        "{err:?}"
    );

    // Python version: a meta file with two class names, batches with labels up to 4.
    let py = dir.path().join("cifar-10-batches-py");
    write_cifar10_python(
        &py,
        &split(0, &[0, 1, 0, 1, 4]),
        &split(0, &[0]),
        &names("n", 10),
    )
    .unwrap();
    std::fs::write(
        py.join("batches.meta"),
        b"\x80\x02}(U\x0blabel_names](U\x01aU\x01beu.",
    )
    .unwrap();
    let err = read_cifar10_python(&py).unwrap_err();
    assert!(
        matches!(&err, DataError::LabelOutOfRange { path, index: 0, label: 4, classes: 2, .. } if *path == py.join("data_batch_5")),
        "{err:?}"
    );
}
