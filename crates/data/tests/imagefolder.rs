//! Image folders: torchvision's ImageFolder layout, read and written.

use std::path::{Path, PathBuf};

use convlens_data::formats::imagefolder::{
    read_image_folder, write_image_folder, FolderOptions, ImageFolder, ImageFormat,
};
use convlens_data::transform::{resize, to_grayscale};
use convlens_data::{DataError, Split};
use image::codecs::bmp::BmpEncoder;
use image::codecs::png::PngEncoder;
use image::{ColorType, ImageEncoder};

/// Writes an image file of `format` from interleaved samples (`data` as bytes; 16-bit
/// samples in native order, as the encoder takes them).
fn write_image(path: &Path, w: u32, h: u32, color: ColorType, data: &[u8], bmp: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut out = Vec::new();
    if bmp {
        BmpEncoder::new(&mut out)
            .write_image(data, w, h, color)
            .unwrap();
    } else {
        PngEncoder::new(&mut out)
            .write_image(data, w, h, color)
            .unwrap();
    }
    std::fs::write(path, out).unwrap();
}

fn png(path: &Path, w: u32, h: u32, color: ColorType, data: &[u8]) {
    write_image(path, w, h, color, data, false);
}

fn gray_png(path: &Path, w: u32, h: u32, first: u8) {
    let data: Vec<u8> = (0..w * h).map(|i| first.wrapping_add(i as u8)).collect();
    png(path, w, h, ColorType::L8, &data);
}

fn read(dir: &Path) -> ImageFolder {
    read_image_folder(dir, &FolderOptions::default()).unwrap()
}

fn read_err(dir: &Path, options: &FolderOptions) -> (PathBuf, String) {
    let error = read_image_folder(dir, options).expect_err("the folder must be refused");
    match &error {
        DataError::Malformed { path, .. } => (path.clone(), error.to_string()),
        other => panic!("expected a Malformed error, got {other:?}"),
    }
}

/// A split of `labels.len()` RGB images of 5×4 (rows×cols), each with distinct bytes.
fn rgb_split(labels: &[u8], seed: u8) -> Split {
    let per = 3 * 5 * 4;
    let pixels: Vec<u8> = (0..labels.len() * per)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
        .collect();
    Split::new(pixels, labels.to_vec(), [3, 5, 4]).unwrap()
}

/// The indices of `split` in the order a reader returns them: by label, stable.
fn by_class(split: &Split) -> Vec<usize> {
    let mut order: Vec<usize> = (0..split.len()).collect();
    order.sort_by_key(|&i| split.labels()[i]);
    order
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn png_and_bmp_round_trip_exactly_with_classes_sorted() {
    for format in [ImageFormat::Png, ImageFormat::Bmp] {
        let dir = crate::tempdir();
        let train = rgb_split(&[2, 0, 1, 0, 2, 1, 1], 3);
        let test = rgb_split(&[1, 2, 0], 100);
        // Written under names that are not in sorted order: labels follow the sorted names.
        let classes = names(&["zebra", "ant", "moth"]);
        write_image_folder(dir.path(), &train, Some(&test), &classes, format).unwrap();
        assert!(dir
            .path()
            .join(format!("train/moth/00000.{}", format.extension()))
            .is_file());
        let got = read(dir.path());
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);
        assert_eq!(got.loaded.class_names, names(&["ant", "moth", "zebra"]));
        assert_eq!(got.test_dir, Some(dir.path().join("test")));
        // old label → new label: zebra 0 → 2, ant 1 → 0, moth 2 → 1.
        let relabel = [2u8, 0, 1];
        for (written, read) in [
            (&train, &got.loaded.train),
            (&test, got.loaded.test.as_ref().unwrap()),
        ] {
            assert_eq!(read.image_shape(), [3, 5, 4]);
            let mut order: Vec<usize> = (0..written.len()).collect();
            order.sort_by_key(|&i| (relabel[written.labels()[i] as usize], i));
            assert_eq!(read.len(), written.len());
            for (k, &i) in order.iter().enumerate() {
                assert_eq!(read.labels()[k], relabel[written.labels()[i] as usize]);
                assert_eq!(read.image(k), written.image(i), "{format:?} image {k}");
            }
        }
    }
}

#[test]
fn a_gray_bmp_reads_back_as_rgb_through_its_palette() {
    let dir = crate::tempdir();
    let split = Split::new((0..12).collect(), vec![0, 0], [1, 2, 3]).unwrap();
    write_image_folder(dir.path(), &split, None, &names(&["a"]), ImageFormat::Bmp).unwrap();
    let got = read(dir.path()).loaded.train;
    assert_eq!(got.image_shape(), [3, 2, 3]);
    assert_eq!(
        got.image(1),
        &[6, 7, 8, 9, 10, 11, 6, 7, 8, 9, 10, 11, 6, 7, 8, 9, 10, 11]
    );
}

#[test]
fn jpeg_round_trips_within_the_loss_of_the_format() {
    let dir = crate::tempdir();
    // Smooth 16×16 gradients (values 40 to 200): JPEG keeps them to a few levels.
    let (h, w) = (16, 16);
    let mut pixels = Vec::new();
    for image in 0..4usize {
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    pixels.push((40 + 4 * x + 2 * y + 20 * c + 10 * image) as u8);
                }
            }
        }
    }
    let split = Split::new(pixels, vec![1, 0, 1, 0], [3, h, w]).unwrap();
    write_image_folder(
        dir.path(),
        &split,
        None,
        &names(&["a", "b"]),
        ImageFormat::Jpeg,
    )
    .unwrap();
    assert!(dir.path().join("train/b/00000.jpg").is_file());
    let got = read(dir.path()).loaded;
    assert_eq!(got.train.image_shape(), [3, h, w]);
    assert_eq!(got.train.labels(), &[0, 0, 1, 1]);
    for (k, &i) in by_class(&split).iter().enumerate() {
        let (a, b) = (got.train.image(k), split.image(i));
        let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        let mean = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum::<f64>()
            / a.len() as f64;
        assert!(
            max <= 16 && mean <= 2.0,
            "image {k}: max {max}, mean {mean}"
        );
    }
    // The decoder is deterministic: a second read gives the same bytes.
    assert_eq!(read(dir.path()).loaded.train, got.train);
}

#[test]
fn mixed_folder_converts_like_pil_and_warns_about_skipped_files() {
    let dir = crate::tempdir();
    let train = dir.path().join("train");
    // ant: one gray PNG, replicated to RGB because other images are in color.
    gray_png(&train.join("ant/1.png"), 3, 2, 10);
    // bee: an RGB BMP with an upper-case extension.
    let rgb: Vec<u8> = (0..18).map(|i| 100 + i as u8).collect();
    write_image(&train.join("bee/x.BMP"), 3, 2, ColorType::Rgb8, &rgb, true);
    // cat: an RGBA PNG (alpha dropped, not blended) and one in a sub-folder, read after it.
    let rgba: Vec<u8> = (0..24).map(|i| (i * 10) as u8).collect();
    png(&train.join("cat/rgba.png"), 3, 2, ColorType::Rgba8, &rgba);
    gray_png(&train.join("cat/sub/deep.png"), 3, 2, 200);
    std::fs::write(train.join("cat/notes.txt"), "not an image").unwrap();
    std::fs::write(train.join("cat/anim.gif"), "GIF89a").unwrap();
    std::fs::write(train.join("README.md"), "about").unwrap();
    std::fs::create_dir_all(train.join(".ipynb_checkpoints")).unwrap();

    let got = read(dir.path());
    let split = &got.loaded.train;
    assert_eq!(got.loaded.class_names, names(&["ant", "bee", "cat"]));
    assert!(got.loaded.test.is_none() && got.test_dir.is_none());
    assert_eq!(split.image_shape(), [3, 2, 3]);
    assert_eq!(split.labels(), &[0, 1, 2, 2]);
    let gray: Vec<u8> = (10..16).collect();
    assert_eq!(split.image(0), [gray.clone(), gray.clone(), gray].concat());
    let planar = |data: &[u8], channels: usize| -> Vec<u8> {
        (0..3)
            .flat_map(|c| (0..6).map(move |i| data[i * channels + c]))
            .collect()
    };
    assert_eq!(split.image(1), planar(&rgb, 3));
    assert_eq!(split.image(2), planar(&rgba, 4));
    let deep: Vec<u8> = (200..206).collect();
    assert_eq!(split.image(3), [deep.clone(), deep.clone(), deep].concat());

    let warned = |p: &Path| {
        got.warnings
            .iter()
            .any(|w| w.contains(&p.display().to_string()))
    };
    for skipped in [
        train.join("cat/notes.txt"),
        train.join("cat/anim.gif"),
        train.join("README.md"),
        train.join(".ipynb_checkpoints"),
    ] {
        assert!(
            warned(&skipped),
            "no warning for {}: {:?}",
            skipped.display(),
            got.warnings
        );
    }
    assert_eq!(got.warnings.len(), 4, "{:?}", got.warnings);
}

#[test]
fn all_grayscale_folder_has_one_channel_and_16_bit_is_rounded() {
    let dir = crate::tempdir();
    let train = dir.path().join("train");
    gray_png(&train.join("a/1.png"), 5, 1, 0);
    // Gray with alpha: the alpha is dropped.
    png(
        &train.join("b/1.png"),
        5,
        1,
        ColorType::La8,
        &[1, 0, 2, 50, 3, 100, 4, 150, 5, 255],
    );
    // 16-bit gray: v × 255 / 65535, rounded.
    let samples: [u16; 5] = [0, 25700, 32767, 32768, 65535];
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_ne_bytes()).collect();
    png(&train.join("c/1.png"), 5, 1, ColorType::L16, &bytes);
    let got = read(dir.path()).loaded.train;
    assert_eq!(got.image_shape(), [1, 1, 5]);
    assert_eq!(got.image(0), &[0, 1, 2, 3, 4]);
    assert_eq!(got.image(1), &[1, 2, 3, 4, 5]);
    assert_eq!(got.image(2), &[0, 100, 127, 128, 255]);
}

#[test]
fn grayscale_option_converts_color_images_as_to_grayscale() {
    let dir = crate::tempdir();
    let split = rgb_split(&[0, 1], 9);
    write_image_folder(
        dir.path(),
        &split,
        None,
        &names(&["a", "b"]),
        ImageFormat::Png,
    )
    .unwrap();
    gray_png(&dir.path().join("train/b/gray.png"), 4, 5, 77);
    let options = FolderOptions {
        grayscale: true,
        ..Default::default()
    };
    let got = read_image_folder(dir.path(), &options)
        .unwrap()
        .loaded
        .train;
    assert_eq!(got.image_shape(), [1, 5, 4]);
    assert_eq!(got.labels(), &[0, 1, 1]);
    let expected = to_grayscale(&split).unwrap();
    assert_eq!(got.image(0), expected.image(0));
    assert_eq!(got.image(1), expected.image(1));
    // A gray image is kept as it is (not replicated and converted, which would lose a level).
    let gray: Vec<u8> = (77..97).collect();
    assert_eq!(got.image(2), &gray[..]);
}

#[test]
fn mixed_sizes_are_an_error_naming_both_files_unless_resized() {
    let dir = crate::tempdir();
    let train = dir.path().join("train");
    let big: Vec<u8> = (0..8 * 8 * 3).map(|i| (i * 7 % 256) as u8).collect();
    png(&train.join("a/big.png"), 8, 8, ColorType::Rgb8, &big);
    gray_png(&train.join("b/small.png"), 4, 6, 0);
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, train.join("b/small.png"));
    for part in [
        "small.png: the image is 4×6 (width×height)",
        &format!("but {} is 8×8", train.join("a/big.png").display()),
        "resize",
    ] {
        assert!(message.contains(part), "{message}");
    }

    let options = FolderOptions {
        resize: Some(4),
        ..Default::default()
    };
    let got = read_image_folder(dir.path(), &options)
        .unwrap()
        .loaded
        .train;
    assert_eq!(got.image_shape(), [3, 4, 4]);
    // The same numbers as resizing the loaded image afterwards.
    let planar: Vec<u8> = (0..3)
        .flat_map(|c| (0..64).map(move |i| (c, i)))
        .map(|(c, i)| big[i * 3 + c])
        .collect();
    let alone = resize(&Split::new(planar, vec![0], [3, 8, 8]).unwrap(), 4).unwrap();
    assert_eq!(got.image(0), alone.image(0));
    let small = resize(
        &Split::new((0..24).collect(), vec![1], [1, 6, 4]).unwrap(),
        4,
    )
    .unwrap();
    assert_eq!(
        got.image(1),
        [small.image(0), small.image(0), small.image(0)].concat()
    );

    let zero = FolderOptions {
        resize: Some(0),
        ..Default::default()
    };
    let m = read_image_folder(dir.path(), &zero)
        .unwrap_err()
        .to_string();
    assert!(m.contains("resize = 0"), "{m}");
}

#[test]
fn test_images_must_match_the_training_size() {
    let dir = crate::tempdir();
    gray_png(&dir.path().join("train/a/1.png"), 4, 4, 0);
    gray_png(&dir.path().join("test/a/1.png"), 5, 4, 0);
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, dir.path().join("test/a/1.png"));
    assert!(
        message.contains("5×4") && message.contains("4×4"),
        "{message}"
    );
}

#[test]
fn a_corrupt_image_is_an_error_naming_the_file() {
    let dir = crate::tempdir();
    gray_png(&dir.path().join("train/a/good.png"), 4, 4, 0);
    let bad = dir.path().join("train/b/bad.png");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    // A PNG signature followed by garbage.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend([0x55; 40]);
    std::fs::write(&bad, &bytes).unwrap();
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, bad);
    assert!(
        message.starts_with(&format!("{}: cannot decode the image", bad.display())),
        "{message}"
    );

    // A valid PNG cut in the middle.
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&[9; 64], 8, 8, ColorType::L8)
        .unwrap();
    std::fs::write(&bad, &out[..out.len() / 2]).unwrap();
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, bad);
    assert!(message.contains("cannot decode the image"), "{message}");

    // Text under an image extension.
    std::fs::write(&bad, "hello").unwrap();
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, bad);
    assert!(
        message.contains("not a PNG, JPEG or BMP image"),
        "{message}"
    );
}

#[test]
fn an_oversized_image_is_refused_before_it_is_decoded() {
    let dir = crate::tempdir();
    let wide = dir.path().join("train/a/wide.png");
    png(&wide, 5000, 1, ColorType::L8, &[0; 5000]);
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, wide);
    assert!(
        message.contains("5000×1 (width×height)") && message.contains("4096×4096"),
        "{message}"
    );
}

#[test]
fn an_empty_class_folder_is_an_error_naming_it() {
    let dir = crate::tempdir();
    gray_png(&dir.path().join("train/a/1.png"), 2, 2, 0);
    let empty = dir.path().join("train/b");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "").unwrap();
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, empty);
    assert!(
        message.contains("the class folder holds no image"),
        "{message}"
    );
}

#[test]
fn val_is_the_test_split_when_there_is_no_test_folder() {
    let dir = crate::tempdir();
    gray_png(&dir.path().join("train/a/1.png"), 2, 2, 0);
    gray_png(&dir.path().join("train/b/1.png"), 2, 2, 10);
    gray_png(&dir.path().join("val/a/1.png"), 2, 2, 20);
    gray_png(&dir.path().join("val/b/1.png"), 2, 2, 30);
    let got = read(dir.path());
    assert_eq!(got.test_dir, Some(dir.path().join("val")));
    let test = got.loaded.test.unwrap();
    assert_eq!(test.labels(), &[0, 1]);
    assert_eq!(test.image(1), &[30, 31, 32, 33]);

    // With test/ as well, test/ is the test split and val/ is ignored with a warning.
    gray_png(&dir.path().join("test/a/1.png"), 2, 2, 40);
    gray_png(&dir.path().join("test/b/1.png"), 2, 2, 50);
    let got = read(dir.path());
    assert_eq!(got.test_dir, Some(dir.path().join("test")));
    assert_eq!(got.loaded.test.unwrap().image(0), &[40, 41, 42, 43]);
    assert!(
        got.warnings
            .iter()
            .any(|w| w.contains("val") && w.contains("ignored")),
        "{:?}",
        got.warnings
    );
}

#[test]
fn test_classes_must_be_the_training_classes() {
    let dir = crate::tempdir();
    for class in ["a", "b", "c"] {
        gray_png(&dir.path().join("train").join(class).join("1.png"), 2, 2, 0);
    }
    for class in ["a", "c", "d"] {
        gray_png(&dir.path().join("test").join(class).join("1.png"), 2, 2, 0);
    }
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, dir.path().join("test"));
    assert!(
        message.contains("missing b") && message.contains("not in train/: d"),
        "{message}"
    );
}

#[test]
fn folders_without_train_or_classes_and_too_many_classes_are_errors() {
    let dir = crate::tempdir();
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, dir.path());
    assert!(message.contains("no train/ folder"), "{message}");

    std::fs::create_dir_all(dir.path().join("train")).unwrap();
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, dir.path().join("train"));
    assert!(message.contains("no class folder"), "{message}");

    for i in 0..257 {
        std::fs::create_dir_all(dir.path().join(format!("train/{i:03}"))).unwrap();
    }
    let (_, message) = read_err(dir.path(), &FolderOptions::default());
    assert!(
        message.contains("257 class folders; at most 256"),
        "{message}"
    );
}

#[test]
fn the_writer_refuses_what_the_reader_could_not_read_back() {
    let dir = crate::tempdir();
    let split = rgb_split(&[0, 1], 0);
    let refuse = |split: &Split, classes: &[&str], expect: &str| {
        let m = write_image_folder(dir.path(), split, None, &names(classes), ImageFormat::Png)
            .unwrap_err()
            .to_string();
        assert!(m.contains(expect), "{m}");
    };
    refuse(&split, &["a", "b/c"], "\"b/c\"");
    refuse(&split, &["a", ".b"], "\".b\"");
    refuse(&split, &["a", "a"], "distinct");
    refuse(&split, &["a"], "label 1");
    refuse(&split, &["a", "b", "c"], "class \"c\"");
    let two = Split::new(vec![0; 8], vec![0], [2, 2, 2]).unwrap();
    refuse(&two, &["a"], "images of 2×2×2");
}

#[test]
fn headers_claiming_huge_images_are_refused_without_allocating() {
    // PNG: the signature and an IHDR chunk for 60000×60000 RGB with a valid checksum.
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(60000u32.to_be_bytes());
    ihdr.extend(60000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut crc = flate2::Crc::new();
    crc.update(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc.sum().to_be_bytes());
    // BMP: a file header and a 40-byte info header for 60000×60000 at 24 bits, no pixels.
    let mut bmp = b"BM".to_vec();
    bmp.extend(54u32.to_le_bytes());
    bmp.extend([0; 4]);
    bmp.extend(54u32.to_le_bytes());
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(60000i32.to_le_bytes());
    bmp.extend(60000i32.to_le_bytes());
    bmp.extend(1u16.to_le_bytes());
    bmp.extend(24u16.to_le_bytes());
    bmp.extend([0; 24]);
    for (name, bytes) in [("huge.png", png), ("huge.bmp", bmp)] {
        let dir = crate::tempdir();
        let path = dir.path().join("train/a").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let (at, message) = read_err(dir.path(), &FolderOptions::default());
        assert_eq!(at, path);
        assert!(
            message.contains("images of at most 4096×4096 pixels, decoded in at most 128 MiB"),
            "{message}"
        );
        // The BMP decoder reads the size from the header alone; the PNG decoder wants
        // more than a header to tell it.
        if name.ends_with("bmp") {
            assert!(message.contains("60000×60000 (width×height)"), "{message}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_link_loop_is_an_error_not_an_endless_walk() {
    let dir = crate::tempdir();
    gray_png(&dir.path().join("train/a/1.png"), 2, 2, 0);
    let class = dir.path().join("train/a");
    std::os::unix::fs::symlink(&class, class.join("again")).unwrap();
    let (path, message) = read_err(dir.path(), &FolderOptions::default());
    assert_eq!(path, class.join("again"));
    assert!(message.contains("reached twice through links"), "{message}");
}
