//! Folders of image files, one sub-folder per class: torchvision's `ImageFolder` layout.
//!
//! ```text
//! DIR/train/<class>/<image>.png     the training images
//! DIR/test/<class>/<image>.jpg      the test images (or DIR/val/<class>/… without test/)
//! ```
//!
//! As in torchvision's `ImageFolder`:
//! - the classes are the sub-folders of `train/`, in sorted order (label 0 is the first);
//!   `test/` (or `val/`) must have the same class folders;
//! - each class folder is walked recursively (following links, as torchvision's
//!   `os.walk(…, followlinks=True)`), folders in sorted order and files sorted within each
//!   folder; files whose name ends in `.png`, `.jpg`, `.jpeg` or `.bmp` (any case) are
//!   images, every other file is skipped with a warning;
//! - images are converted as PIL's `convert("RGB")` does: alpha is dropped and gray is
//!   replicated, except that a dataset whose images are *all* grayscale (gray, gray with
//!   alpha, 16-bit gray) keeps one channel. 16-bit samples become 8-bit by rounding
//!   (`v × 255 / 65535`), where PIL would clip them.
//!
//! Where this reader is stricter than torchvision: a file with an image extension that does
//! not decode is an error naming it (torchvision fails later, in the middle of training); an
//! empty class folder, images of different sizes (unless [`FolderOptions::resize`] is set),
//! more than [`MAX_CLASSES`] classes and images larger than [`MAX_SIDE`] on a side are
//! errors, and so is a folder reached twice through links (where torchvision would walk a
//! link loop forever). Class folders whose name starts with a dot (`.ipynb_checkpoints`) are skipped
//! with a warning instead of becoming classes.
//! A file in the PNG, JPEG or BMP format is decoded as what its content is, whatever its
//! extension says; other formats (`.gif`, `.webp`, `.tif` …) are skipped with a warning.
//! Decoding is bounded: image sides, the decoder's memory and the dataset's total size are
//! limited, so a hostile file gives an error, never a huge allocation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::{ColorType, DynamicImage, ImageEncoder};

use super::Loaded;
use crate::dataset::Split;
use crate::error::{DataError, Result};
use crate::idx::write_atomic;
use crate::transform::{check_size, grayscale_image, Resampler, MAX_SIZE};

/// The most classes a folder may have (labels are bytes).
pub const MAX_CLASSES: usize = 256;

/// The largest width or height of an image, in pixels.
pub const MAX_SIDE: usize = MAX_SIZE;

/// The most bytes the decoded images of a folder may take in memory, all splits together.
pub const MAX_FOLDER_BYTES: u64 = 1 << 32;

/// The most bytes the decoder may allocate for one image: a [`MAX_SIDE`]² image of four
/// 16-bit channels.
const MAX_DECODE_BYTES: u64 = (MAX_SIDE * MAX_SIDE * 8) as u64;

/// How deep folders may nest inside a class folder.
const MAX_DEPTH: usize = 32;

/// The file name extensions read as images, lowercase.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// How [`read_image_folder`] converts the images as it loads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderOptions {
    /// Resize every image to `N × N` pixels (as [`transform::resize`](crate::transform::resize)
    /// does), which allows images of different sizes. `None` keeps the size, which must then
    /// be the same for all images.
    pub resize: Option<usize>,
    /// Convert every color image to one channel (as
    /// [`transform::to_grayscale`](crate::transform::to_grayscale) does); grayscale images are
    /// kept as they are. Applied before `resize`.
    pub grayscale: bool,
}

/// What [`read_image_folder`] found.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    /// The splits and the class names (`test` is `None` without `test/` or `val/`).
    pub loaded: Loaded,
    /// The folder the test split came from (`DIR/test` or `DIR/val`), if any.
    pub test_dir: Option<PathBuf>,
    /// One line per file or folder skipped, naming it and saying why.
    pub warnings: Vec<String>,
}

/// The file format [`write_image_folder`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG, lossless; one-channel images are written as 8-bit gray.
    Png,
    /// JPEG at quality 95: lossy, pixel values come back close, not equal.
    Jpeg,
    /// BMP, lossless; one-channel images are written with a gray palette, which readers
    /// (this one and PIL's `convert("RGB")`) return as RGB.
    Bmp,
}

impl ImageFormat {
    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Bmp => "bmp",
        }
    }
}

/// A [`DataError::Malformed`] for `path`.
fn malformed(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Maps an I/O error on `path` to [`DataError::Io`].
fn io_error(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.to_path_buf();
    move |source| DataError::Io {
        path,
        action,
        source,
    }
}

/// Reads an image folder in torchvision's `ImageFolder` layout (see the [module](self)
/// documentation): `dir/train/<class>/*` and, if present, `dir/test/<class>/*` or else
/// `dir/val/<class>/*`.
///
/// # Errors
/// [`DataError::Malformed`] naming the file or folder when `train/` is missing, a class
/// folder is empty, test and train class folders differ, an image does not decode, is too
/// large, or differs in size from the others without [`FolderOptions::resize`], or there
/// are more than [`MAX_CLASSES`] classes; [`DataError::Io`] when a file cannot be read;
/// [`DataError::InvalidArgument`] for a `resize` of 0 or above [`MAX_SIDE`].
pub fn read_image_folder(dir: &Path, options: &FolderOptions) -> Result<ImageFolder> {
    if let Some(size) = options.resize {
        check_size(size)?;
    }
    let mut warnings = Vec::new();
    let train_dir = dir.join("train");
    if !train_dir.is_dir() {
        return Err(malformed(
            dir,
            "no train/ folder: an image folder holds train/<class>/<images> (and test/<class>/ or val/<class>/ for a test split)",
        ));
    }
    let classes = class_folders(&train_dir, &mut warnings)?;
    if classes.is_empty() {
        return Err(malformed(
            &train_dir,
            "no class folder: put the images of each class in a folder named after it",
        ));
    }
    if classes.len() > MAX_CLASSES {
        return Err(malformed(
            &train_dir,
            format!(
                "{} class folders; at most {MAX_CLASSES} classes are supported",
                classes.len()
            ),
        ));
    }
    let test_dir = ["test", "val"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_dir());
    if let Some(test) = &test_dir {
        if test.ends_with("test") && dir.join("val").is_dir() {
            warnings.push(format!(
                "{}: ignored, {} is the test split",
                dir.join("val").display(),
                test.display()
            ));
        }
        let test_classes = class_folders(test, &mut warnings)?;
        if test_classes != classes {
            let missing: Vec<&str> = classes
                .iter()
                .filter(|c| !test_classes.contains(c))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = test_classes
                .iter()
                .filter(|c| !classes.contains(c))
                .map(String::as_str)
                .collect();
            let mut problem = String::from("the class folders differ from those of train/:");
            if !missing.is_empty() {
                problem.push_str(&format!(" missing {}", missing.join(", ")));
            }
            if !extra.is_empty() {
                if !missing.is_empty() {
                    problem.push(';');
                }
                problem.push_str(&format!(" not in train/: {}", extra.join(", ")));
            }
            return Err(malformed(test, problem));
        }
    }

    let mut loader = Loader {
        options,
        size: None,
        total_pixels: 0,
        any_color: false,
        dir,
        resamplers: HashMap::new(),
    };
    let train = loader.read_split(&train_dir, &classes, &mut warnings)?;
    let test = match &test_dir {
        Some(t) => Some(loader.read_split(t, &classes, &mut warnings)?),
        None => None,
    };
    let channels = if loader.any_color { 3 } else { 1 };
    let [h, w] = loader.size.as_ref().map_or([1, 1], |(size, _)| *size);
    let assemble = |images: Vec<Decoded>| -> Result<Split> {
        let mut pixels = Vec::with_capacity(images.len() * channels * h * w);
        let mut labels = Vec::with_capacity(images.len());
        for image in images {
            // A gray image in a color dataset: the one channel, replicated.
            for _ in 0..channels / image.channels {
                pixels.extend_from_slice(&image.pixels);
            }
            labels.push(image.label);
        }
        Split::new(pixels, labels, [channels, h, w])
    };
    Ok(ImageFolder {
        loaded: Loaded {
            train: assemble(train)?,
            test: test.map(assemble).transpose()?,
            class_names: classes,
        },
        test_dir,
        warnings,
    })
}

/// The class folder names of a split folder, sorted; other entries become warnings.
fn class_folders(split_dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<String>> {
    let mut classes = Vec::new();
    for entry in std::fs::read_dir(split_dir).map_err(io_error(split_dir, "cannot list"))? {
        let entry = entry.map_err(io_error(split_dir, "cannot list"))?;
        let path = entry.path();
        let name = entry.file_name();
        if !path.is_dir() {
            warnings.push(format!(
                "{}: skipped, not in a class folder",
                path.display()
            ));
            continue;
        }
        let Some(name) = name.to_str() else {
            return Err(malformed(
                &path,
                "the class folder's name is not valid UTF-8; rename it",
            ));
        };
        if name.starts_with('.') {
            warnings.push(format!(
                "{}: skipped, a hidden folder is not a class",
                path.display()
            ));
            continue;
        }
        classes.push(name.to_string());
    }
    classes.sort();
    Ok(classes)
}

/// The files under a class folder, in torchvision's order: `sorted(os.walk(…))` sorts the
/// folders by path, then each folder's files are sorted by name.
fn class_files(class_dir: &Path) -> Result<Vec<PathBuf>> {
    // (folder path relative to the class folder, file name, full path)
    let mut files: Vec<(String, String, PathBuf)> = Vec::new();
    let mut pending = vec![(class_dir.to_path_buf(), String::new(), 0usize)];
    let mut visited = std::collections::HashSet::new();
    while let Some((folder, relative, depth)) = pending.pop() {
        let real = std::fs::canonicalize(&folder).map_err(io_error(&folder, "cannot resolve"))?;
        if !visited.insert(real) {
            return Err(malformed(
                &folder,
                "this folder is reached twice through links (a link loop?); remove the link",
            ));
        }
        if depth > MAX_DEPTH {
            return Err(malformed(
                &folder,
                format!("folders nest more than {MAX_DEPTH} deep"),
            ));
        }
        for entry in std::fs::read_dir(&folder).map_err(io_error(&folder, "cannot list"))? {
            let entry = entry.map_err(io_error(&folder, "cannot list"))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let sub = if relative.is_empty() {
                    name
                } else {
                    format!("{relative}/{name}")
                };
                pending.push((path, sub, depth + 1));
            } else {
                files.push((relative.clone(), name, path));
            }
        }
    }
    // Python compares the folder paths as strings: "a" < "a b" < "a/b" ('/' sorts after ' ').
    files.sort_by(|a, b| {
        let folder = |r: &str| {
            if r.is_empty() {
                String::new()
            } else {
                format!("/{r}")
            }
        };
        (folder(&a.0), &a.1).cmp(&(folder(&b.0), &b.1))
    });
    Ok(files.into_iter().map(|(_, _, p)| p).collect())
}

fn has_image_extension(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    IMAGE_EXTENSIONS
        .iter()
        .any(|ext| name.ends_with(&format!(".{ext}")))
}

/// One decoded image, converted as the options ask.
struct Decoded {
    pixels: Vec<u8>,
    channels: usize,
    label: u8,
}

/// State shared by the splits of one folder: the common size, the memory used, whether a
/// color image was seen.
struct Loader<'a> {
    options: &'a FolderOptions,
    /// `[rows, cols]` of every image, and the first file read, which set it.
    size: Option<([usize; 2], PathBuf)>,
    total_pixels: u64,
    any_color: bool,
    dir: &'a Path,
    /// One resampler per image shape met, when resizing.
    resamplers: HashMap<[usize; 3], Resampler>,
}

impl Loader<'_> {
    fn read_split(
        &mut self,
        split_dir: &Path,
        classes: &[String],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Decoded>> {
        let mut images = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let class_dir = split_dir.join(class);
            let mut found = 0usize;
            for path in class_files(&class_dir)? {
                if !has_image_extension(&path) {
                    warnings.push(format!(
                        "{}: skipped, not an image file (.png, .jpg, .jpeg or .bmp)",
                        path.display()
                    ));
                    continue;
                }
                let (mut pixels, mut channels, h, w) = decode(&path)?;
                if self.options.grayscale && channels == 3 {
                    pixels = grayscale_image(&pixels, h * w).collect();
                    channels = 1;
                }
                let [h, w] = match self.options.resize {
                    Some(n) => {
                        if [h, w] != [n, n] {
                            let shape = [channels, h, w];
                            let resampler = self
                                .resamplers
                                .entry(shape)
                                .or_insert_with(|| Resampler::new(shape, n));
                            let mut out = Vec::with_capacity(channels * n * n);
                            resampler.resize_into(&pixels, &mut out);
                            pixels = out;
                        }
                        [n, n]
                    }
                    None => [h, w],
                };
                match &self.size {
                    Some((size, first)) if *size != [h, w] => {
                        return Err(malformed(
                            &path,
                            format!(
                                "the image is {w}×{h} (width×height) but {} is {}×{}; images of different sizes need resizing to one size (the resize option)",
                                first.display(),
                                size[1],
                                size[0]
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => self.size = Some(([h, w], path.clone())),
                }
                self.any_color |= channels == 3;
                self.total_pixels += (h * w) as u64;
                let bytes = self.total_pixels * if self.any_color { 3 } else { 1 };
                if bytes > MAX_FOLDER_BYTES {
                    return Err(malformed(
                        self.dir,
                        format!(
                            "the images take more than {MAX_FOLDER_BYTES} bytes in memory (reached at {}); resize them to a smaller size",
                            path.display()
                        ),
                    ));
                }
                images.push(Decoded {
                    pixels,
                    channels,
                    label: label as u8,
                });
                found += 1;
            }
            if found == 0 {
                return Err(malformed(
                    &class_dir,
                    "the class folder holds no image (.png, .jpg, .jpeg or .bmp)",
                ));
            }
        }
        Ok(images)
    }
}

/// Decodes one image file into CHW bytes: one channel for a grayscale image, three (RGB)
/// otherwise. Returns `(pixels, channels, rows, cols)`.
fn decode(path: &Path) -> Result<(Vec<u8>, usize, usize, usize)> {
    let open = || -> Result<_> {
        // The format comes from the content only, as PIL decides it, not from the extension.
        let file = std::fs::File::open(path).map_err(io_error(path, "cannot read"))?;
        image::io::Reader::new(std::io::BufReader::new(file))
            .with_guessed_format()
            .map_err(io_error(path, "cannot read"))
    };
    let mut reader = open()?;
    if reader.format().is_none() {
        return Err(malformed(
            path,
            "not a PNG, JPEG or BMP image: its content is none of these formats",
        ));
    }
    let mut limits = image::io::Limits::default();
    limits.max_image_width = Some(MAX_SIDE as u32);
    limits.max_image_height = Some(MAX_SIDE as u32);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    // The decoders are well tested, but a panic on a hostile file must still become an error.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.decode()))
        .map_err(|_| {
            malformed(
                path,
                "cannot decode the image: the decoder failed on this file",
            )
        })?;
    let image = match decoded {
        Ok(image) => image,
        Err(image::ImageError::Limits(_)) => {
            let size = open()
                .ok()
                .and_then(|r| r.into_dimensions().ok())
                .map(|(w, h)| format!("the image is {w}×{h} (width×height); "))
                .unwrap_or_default();
            return Err(malformed(
                path,
                format!(
                    "{size}images of at most {MAX_SIDE}×{MAX_SIDE} pixels, decoded in at most {} MiB, are accepted",
                    MAX_DECODE_BYTES >> 20
                ),
            ));
        }
        Err(e) => return Err(malformed(path, format!("cannot decode the image: {e}"))),
    };
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(malformed(
            path,
            format!("the image is {w}×{h} (width×height); sides from 1 to {MAX_SIDE} pixels are accepted"),
        ));
    }
    let gray = matches!(
        image.color(),
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16
    );
    if gray {
        return Ok((image.to_luma8().into_raw(), 1, h, w));
    }
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    let area = h * w;
    let mut planar = vec![0u8; 3 * area];
    for (i, px) in rgb.into_raw().chunks_exact(3).enumerate() {
        planar[i] = px[0];
        planar[area + i] = px[1];
        planar[2 * area + i] = px[2];
    }
    Ok((planar, 3, h, w))
}

/// Writes `train` (and `test`) as an image folder that [`read_image_folder`] reads back:
/// `dir/train/<class>/<index>.<ext>` with `<index>` the image's position in its split,
/// five digits or more (`00000.png`), each file written atomically.
///
/// # Errors
/// [`DataError::InvalidArgument`] when the images have neither 1 nor 3 channels or are
/// larger than [`MAX_SIDE`], when `class_names` is empty, longer than [`MAX_CLASSES`], has a
/// name that is not a plain folder name (empty, `.`-first, with a path separator) or a
/// duplicate, when a label has no class name, or when a class has no image in a split (the
/// reader refuses empty class folders); [`DataError::Io`] when a file cannot be written.
pub fn write_image_folder(
    dir: &Path,
    train: &Split,
    test: Option<&Split>,
    class_names: &[String],
    format: ImageFormat,
) -> Result<()> {
    let invalid = |name: &str, value: String, problem: String| DataError::InvalidArgument {
        name: name.into(),
        value,
        problem,
    };
    if class_names.is_empty() || class_names.len() > MAX_CLASSES {
        return Err(invalid(
            "class_names",
            format!("{} names", class_names.len()),
            format!("between 1 and {MAX_CLASSES} classes are supported"),
        ));
    }
    for (i, name) in class_names.iter().enumerate() {
        if name.is_empty()
            || name.starts_with('.')
            || name.contains(['/', '\\', '\0'])
            || class_names[..i].contains(name)
        {
            return Err(invalid(
                "class_names",
                format!("{name:?}"),
                "each class name must be a distinct folder name, not empty, not starting with '.', without path separators".into(),
            ));
        }
    }
    for (split_name, split) in std::iter::once(("train", train)).chain(test.map(|t| ("test", t))) {
        let [c, h, w] = split.image_shape();
        if !matches!(c, 1 | 3) || h > MAX_SIDE || w > MAX_SIDE {
            return Err(invalid(
                split_name,
                format!("images of {c}×{h}×{w}"),
                format!("image files hold 1 or 3 channels of at most {MAX_SIDE}×{MAX_SIDE} pixels"),
            ));
        }
        if let Some(&label) = split
            .labels()
            .iter()
            .find(|&&l| l as usize >= class_names.len())
        {
            return Err(invalid(
                split_name,
                format!("label {label}"),
                format!("there are only {} class names", class_names.len()),
            ));
        }
        let counts = split.class_counts(class_names.len());
        if let Some(empty) = counts.iter().position(|&n| n == 0) {
            return Err(invalid(
                split_name,
                format!("class {:?}", class_names[empty]),
                "the class has no image; the reader refuses empty class folders".into(),
            ));
        }
        let split_dir = dir.join(split_name);
        for class in class_names {
            let class_dir = split_dir.join(class);
            std::fs::create_dir_all(&class_dir).map_err(io_error(&class_dir, "cannot create"))?;
        }
        for (i, &label) in split.labels().iter().enumerate() {
            let path = split_dir
                .join(&class_names[label as usize])
                .join(format!("{i:05}.{}", format.extension()));
            let bytes = encode(split.image(i), [c, h, w], format)
                .map_err(|e| malformed(&path, format!("cannot encode the image: {e}")))?;
            write_atomic(&path, &bytes)?;
        }
    }
    Ok(())
}

/// One CHW image as the bytes of an image file.
fn encode(image: &[u8], [c, h, w]: [usize; 3], format: ImageFormat) -> image::ImageResult<Vec<u8>> {
    let (data, color) = if c == 1 {
        (image.to_vec(), ColorType::L8)
    } else {
        let area = h * w;
        let mut interleaved = Vec::with_capacity(3 * area);
        for i in 0..area {
            interleaved.extend([image[i], image[area + i], image[2 * area + i]]);
        }
        (interleaved, ColorType::Rgb8)
    };
    let (w, h) = (w as u32, h as u32);
    let mut out = Vec::new();
    match format {
        ImageFormat::Png => {
            image::codecs::png::PngEncoder::new(&mut out).write_image(&data, w, h, color)?
        }
        ImageFormat::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
            .write_image(&data, w, h, color)?,
        ImageFormat::Bmp => {
            image::codecs::bmp::BmpEncoder::new(&mut out).write_image(&data, w, h, color)?
        }
    }
    Ok(out)
}
