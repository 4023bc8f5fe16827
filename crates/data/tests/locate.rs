//! The registry and the search order.

use std::path::Path;

use convlens_data::synthetic::{write_synthetic, SyntheticConfig};
use convlens_data::{
    DataError, DatasetId, DatasetSpec, FileSpec, Locator, Origin, FASHION_MNIST, KMNIST, MNIST,
};

fn put(dir: &Path) {
    write_synthetic(
        dir,
        &SyntheticConfig {
            train: 10,
            test: 10,
            ..Default::default()
        },
    )
    .unwrap();
}

/// A registry entry like `base` whose checksums are those of the synthetic files `put`
/// writes, so the search accepts them as that dataset.
fn synthetic_as(base: &DatasetSpec) -> &'static DatasetSpec {
    let dir = crate::tempdir();
    put(dir.path());
    let md5 = |name: &str| -> &'static str {
        let path = dir.path().join(format!("{name}.gz"));
        let digest = if name.contains("labels") {
            convlens_data::idx::read_labels(&path).unwrap().1
        } else {
            convlens_data::idx::read_images(&path).unwrap().1
        };
        Box::leak(digest.md5.into_boxed_str())
    };
    let files = base.files.map(|f| FileSpec {
        md5: Some(md5(f.role.file_name())),
        gzip_md5: None,
        ..f
    });
    Box::leak(Box::new(DatasetSpec { files, ..*base }))
}

#[test]
fn names_parse_and_unknown_names_list_the_choices() {
    assert_eq!(
        "mnist".parse::<DatasetId>().unwrap(),
        DatasetId::Known(&MNIST)
    );
    assert_eq!(
        "Fashion-MNIST".parse::<DatasetId>().unwrap(),
        DatasetId::Known(&FASHION_MNIST)
    );
    assert_eq!(
        "kmnist".parse::<DatasetId>().unwrap(),
        DatasetId::Known(&KMNIST)
    );
    assert_eq!(
        "idx:/x/y".parse::<DatasetId>().unwrap(),
        DatasetId::Idx("/x/y".into())
    );
    assert_eq!(
        "CIFAR10".parse::<DatasetId>().unwrap(),
        DatasetId::Archive(convlens_data::Archive::Cifar10)
    );
    let err = "cifar".parse::<DatasetId>().unwrap_err().to_string();
    assert!(
        err.starts_with("unknown dataset 'cifar'")
            && err.contains("cifar10")
            && err.contains("fashion-mnist")
            && err.contains("idx:<DIR>"),
        "{err}"
    );
    assert!("idx:".parse::<DatasetId>().is_err());
}

#[test]
fn registry_entries_are_complete() {
    for spec in convlens_data::DATASETS {
        assert_eq!(spec.class_names.len(), 10, "{}", spec.name);
        assert!(!spec.mirrors.is_empty());
        for f in &spec.files {
            for sum in f.md5.iter().chain(&f.gzip_md5) {
                assert!(
                    sum.len() == 32 && sum.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{}: {sum}",
                    spec.name
                );
            }
        }
    }
    assert_eq!(FASHION_MNIST.class_names[0], "T-shirt/top");
    assert_eq!(FASHION_MNIST.class_names[9], "Ankle boot");
    assert!(KMNIST.class_names[0].starts_with('お'));
}

#[test]
fn the_search_order_is_data_dir_then_env_then_cache() {
    let data_dir = crate::tempdir();
    let env = crate::tempdir();
    let cache = crate::tempdir();
    put(&data_dir.path().join("mnist"));
    put(&env.path().join("mnist"));
    put(&cache.path().join("mnist"));
    let mut locator = Locator {
        data_dir: Some(data_dir.path().to_path_buf()),
        env_dir: Some(env.path().to_path_buf()),
        cache_dir: Some(cache.path().to_path_buf()),
        ..Locator::default()
    };
    let id = DatasetId::Known(synthetic_as(&MNIST));
    let found = locator.locate(&id).unwrap();
    assert_eq!(
        (found.origin, found.dir),
        (Origin::DataDir, data_dir.path().join("mnist"))
    );
    locator.data_dir = None;
    let found = locator.locate(&id).unwrap();
    assert_eq!(
        (found.origin, found.dir),
        (Origin::EnvVar, env.path().join("mnist"))
    );
    locator.env_dir = None;
    let found = locator.locate(&id).unwrap();
    assert_eq!(
        (found.origin, found.dir),
        (Origin::Cache, cache.path().join("mnist"))
    );
}

#[test]
fn torchvision_layout_is_found() {
    let root = crate::tempdir();
    put(&root.path().join("FashionMNIST/raw"));
    let locator = Locator {
        data_dir: Some(root.path().to_path_buf()),
        ..Locator::default()
    };
    let found = locator
        .locate(&DatasetId::Known(synthetic_as(&FASHION_MNIST)))
        .unwrap();
    assert_eq!(found.dir, root.path().join("FashionMNIST/raw"));
}

#[test]
fn not_found_lists_every_place_and_every_way() {
    let data_dir = crate::tempdir();
    let cache = crate::tempdir();
    // An incomplete copy: only one of the four files.
    std::fs::create_dir_all(data_dir.path().join("fashion-mnist")).unwrap();
    std::fs::write(
        data_dir
            .path()
            .join("fashion-mnist/train-images-idx3-ubyte.gz"),
        b"x",
    )
    .unwrap();
    let locator = Locator {
        data_dir: Some(data_dir.path().to_path_buf()),
        cache_dir: Some(cache.path().to_path_buf()),
        download: false,
        ..Locator::default()
    };
    let err = locator
        .locate(&DatasetId::Known(&FASHION_MNIST))
        .unwrap_err();
    let DataError::NotFound { tried, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(tried.len(), 5, "{tried:?}");
    let text = err.to_string();
    for needle in [
        "incomplete, missing train-labels-idx1-ubyte",
        "(cache)",
        "download: turned off",
        "apt-get install dataset-fashion-mnist",
        "a data folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte",
        "CONVLENS_DATA",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // The library speaks of fields, not of a program's flags.
    assert!(!text.contains("--"), "{text}");
}

#[test]
fn a_data_dir_that_does_not_exist_is_named() {
    let locator = Locator {
        data_dir: Some("/no/such/folder".into()),
        ..Locator::default()
    };
    let err = locator.locate(&DatasetId::Known(&MNIST)).unwrap_err();
    assert!(
        matches!(&err, DataError::NoSuchDataDir { path } if path.as_os_str() == "/no/such/folder"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("data folder /no/such/folder") && !text.contains("--"),
        "{text}"
    );
}

#[test]
fn idx_folders_find_files_by_pattern_and_reject_ambiguity() {
    let dir = crate::tempdir();
    put(dir.path());
    for r in convlens_data::Role::ALL {
        let from = dir.path().join(format!("{}.gz", r.file_name()));
        let to = dir.path().join(format!(
            "emnist-letters-{}.gz",
            r.file_name().replace("t10k", "test")
        ));
        std::fs::rename(from, to).unwrap();
    }
    let id = DatasetId::Idx(dir.path().to_path_buf());
    let found = Locator::default().locate(&id).unwrap();
    assert!(found.files[2].ends_with("emnist-letters-test-images-idx3-ubyte.gz"));
    std::fs::write(dir.path().join("other-train-images-idx3-ubyte"), b"").unwrap();
    let err = Locator::default().locate(&id).unwrap_err().to_string();
    assert!(
        err.contains("several files could be the training images"),
        "{err}"
    );
}

/// A --data-dir holding another dataset under the same file names is passed over (named in
/// the list of places tried), and the search goes on.
#[test]
fn a_folder_with_another_dataset_is_passed_over() {
    let other = crate::tempdir();
    put(other.path());
    let cache = crate::tempdir();
    put(&cache.path().join("fashion-mnist"));
    let spec = synthetic_as(&FASHION_MNIST);
    let wrong = Locator {
        data_dir: Some(other.path().to_path_buf()),
        ..Locator::default()
    };
    let err = wrong
        .locate(&DatasetId::Known(&MNIST))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not MNIST") && err.contains("checksum mismatch"),
        "{err}"
    );
    // The synthetic folder is a valid copy of `spec`, so with a cache holding it too the
    // data-dir copy is taken first; with a data dir of MNIST-like names but other labels the
    // search moves on to the cache.
    let locator = Locator {
        data_dir: Some(other.path().to_path_buf()),
        cache_dir: Some(cache.path().to_path_buf()),
        ..Locator::default()
    };
    assert_eq!(
        locator.locate(&DatasetId::Known(spec)).unwrap().origin,
        Origin::DataDir
    );
    let (found, tried) = locator.search(&MNIST).unwrap();
    assert!(found.is_none());
    assert_eq!(
        tried.iter().filter(|t| t.contains("not MNIST")).count(),
        1,
        "{tried:?}"
    );
}
