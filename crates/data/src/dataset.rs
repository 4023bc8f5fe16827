//! A loaded dataset: two splits of `u8` images and labels, class names, and where it came from.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::archive::{read_archive, ReadOptions};
use crate::error::{DataError, Result};
use crate::formats::imagefolder::{read_image_folder, FolderOptions};
use crate::formats::Loaded;
use crate::locate::{Located, Locator, Origin};
use crate::registry::{DatasetId, DatasetSpec, Role};
use crate::sampler::holdout_indices;
use crate::transform::{resize, to_grayscale};
use crate::verify::{read_and_verify, Content, FileRecord};

/// Images and labels of one split, kept as bytes; converted to `f32` one batch at a time.
#[derive(Clone, PartialEq, Eq)]
pub struct Split {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    shape: [usize; 3],
}

impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Split")
            .field("len", &self.len())
            .field("shape", &self.shape)
            .finish()
    }
}

impl Split {
    /// Builds a split from raw pixels (`len × channels × rows × cols` bytes) and labels.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>, shape: [usize; 3]) -> Result<Self> {
        let per = shape.iter().product::<usize>();
        if per == 0 || pixels.len() != per * labels.len() {
            return Err(DataError::InvalidArgument {
                name: "pixels".into(),
                value: format!("{} bytes", pixels.len()),
                problem: format!(
                    "expected {} labels × {:?} = {} bytes",
                    labels.len(),
                    shape,
                    per * labels.len()
                ),
            });
        }
        Ok(Split {
            pixels,
            labels,
            shape,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[channels, rows, cols]` of every image.
    pub fn image_shape(&self) -> [usize; 3] {
        self.shape
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The bytes of image `i` (`channels × rows × cols`). Panics if `i >= len()`.
    #[inline]
    pub fn image(&self, i: usize) -> &[u8] {
        let per = self.shape.iter().product::<usize>();
        &self.pixels[i * per..(i + 1) * per]
    }

    /// The first `n` images (all of them if `n` is larger).
    pub fn first(&self, n: usize) -> Split {
        let n = n.min(self.len());
        let per = self.shape.iter().product::<usize>();
        Split {
            pixels: self.pixels[..n * per].to_vec(),
            labels: self.labels[..n].to_vec(),
            shape: self.shape,
        }
    }

    /// The images at `indices`, in that order. Panics on an index out of range.
    pub fn select(&self, indices: &[usize]) -> Split {
        let per = self.shape.iter().product::<usize>();
        let mut pixels = Vec::with_capacity(indices.len() * per);
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Split {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
        }
    }

    /// How many images each class has (`classes` entries).
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// Writes the images at `indices` as `f32` in `[0, 1]` (÷255, like torchvision's
    /// `ToTensor`) into `out`, replacing its content. Reuse `out` across batches to avoid
    /// allocations.
    ///
    /// `#[inline]`: the one loop of this crate that runs per training step is compiled with
    /// the caller's optimization (convlens-train's), not this crate's lighter one.
    #[inline]
    pub fn batch_pixels_into(&self, indices: &[usize], out: &mut Vec<f32>) {
        out.clear();
        out.reserve(indices.len() * self.shape.iter().product::<usize>());
        for &i in indices {
            out.extend(self.image(i).iter().map(|&p| f32::from(p) / 255.0));
        }
    }

    /// A batch as tensors: images `f32 [B, C, H, W]` in `[0, 1]` and labels `u32 [B]`.
    #[inline]
    pub fn batch(&self, indices: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
        let mut pixels = Vec::new();
        self.batch_pixels_into(indices, &mut pixels);
        let [c, h, w] = self.shape;
        let images = Tensor::from_vec(pixels, (indices.len(), c, h, w), device)?;
        let labels: Vec<u32> = indices.iter().map(|&i| u32::from(self.labels[i])).collect();
        let labels = Tensor::from_vec(labels, indices.len(), device)?;
        Ok((images, labels))
    }
}

/// Where a dataset was loaded from, file by file — what a run's `config.json` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// How the folder was found.
    pub origin: Origin,
    /// The folder.
    pub dir: PathBuf,
    /// The four files with their checksums, in [`Role::ALL`] order.
    pub files: Vec<FileRecord>,
}

/// A dataset ready for training: train and test splits, class names, provenance.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// `mnist`, `fashion-mnist`, `kmnist`, or `idx`.
    pub name: String,
    /// Title for figures and reports (`Fashion-MNIST`; the folder name for `idx:`).
    pub title: String,
    /// One name per class, in label order.
    pub class_names: Vec<String>,
    /// The training split.
    pub train: Split,
    /// The test split.
    pub test: Split,
    /// Where it came from.
    pub provenance: Provenance,
    /// What the loader skipped or changed, one line each (files that are not images, a
    /// resize), for the log.
    pub notes: Vec<String>,
}

impl Dataset {
    /// Finds (or downloads), reads, verifies and validates a dataset.
    pub fn load(id: &DatasetId, locator: &Locator) -> Result<Dataset> {
        Self::load_with(id, locator, &ReadOptions::default())
    }

    /// As [`Dataset::load`], with the choices of [`ReadOptions`]: CIFAR-100's label set,
    /// whether files that differ from the published ones may be used, and a resize or
    /// grayscale conversion at load.
    pub fn load_with(id: &DatasetId, locator: &Locator, options: &ReadOptions) -> Result<Dataset> {
        let data = match id {
            DatasetId::Known(spec) => Self::from_located(locator.locate(id)?, Some(spec))?,
            DatasetId::Idx(_) => Self::from_located(locator.locate(id)?, None)?,
            DatasetId::Archive(archive) => {
                let found = locator.locate_archive(archive)?;
                let (loaded, files) = read_archive(archive, &found, options)?;
                Self::from_loaded(
                    loaded,
                    archive.name(),
                    archive.title(),
                    Provenance {
                        origin: found.origin,
                        dir: found.dir,
                        files,
                    },
                )?
            }
            DatasetId::ImageFolder(dir) => {
                let folder_options = FolderOptions {
                    resize: options.resize,
                    grayscale: options.grayscale,
                };
                let folder = read_image_folder(dir, &folder_options)?;
                let (loaded, notes) = (folder.loaded, folder.warnings);
                let title = dir
                    .canonicalize()
                    .unwrap_or_else(|_| dir.clone())
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "imagefolder".into());
                let mut data = Self::from_loaded(
                    loaded,
                    "imagefolder".into(),
                    title,
                    Provenance {
                        origin: Origin::ImageFolder,
                        dir: dir.clone(),
                        files: Vec::new(),
                    },
                )?;
                data.notes = notes;
                // The folder reader resized and converted while decoding.
                return Ok(data);
            }
        };
        data.transformed(options)
    }

    /// Applies the resize and grayscale conversion of `options`.
    fn transformed(mut self, options: &ReadOptions) -> Result<Dataset> {
        if options.grayscale && self.train.image_shape()[0] != 1 {
            self.train = to_grayscale(&self.train)?;
            self.test = to_grayscale(&self.test)?;
            self.notes.push("converted to grayscale".into());
        }
        if let Some(size) = options.resize {
            let [_, h, w] = self.train.image_shape();
            if (h, w) != (size, size) {
                self.train = resize(&self.train, size)?;
                self.test = resize(&self.test, size)?;
                self.notes.push(format!(
                    "resized from {h}×{w} to {size}×{size} (bilinear, antialiased)"
                ));
            }
        }
        Ok(self)
    }

    /// A dataset from a reader's result: checks that train and test images have one shape
    /// and every label names a class. A missing test split becomes an empty one.
    fn from_loaded(
        loaded: Loaded,
        name: String,
        title: String,
        provenance: Provenance,
    ) -> Result<Dataset> {
        let Loaded {
            train,
            test,
            class_names,
        } = loaded;
        let test = match test {
            Some(test) => test,
            None => Split::new(Vec::new(), Vec::new(), train.image_shape())?,
        };
        if !test.is_empty() && train.image_shape() != test.image_shape() {
            return Err(DataError::ShapeMismatch {
                train: provenance.dir.clone(),
                train_shape: train.image_shape(),
                test: provenance.dir.clone(),
                test_shape: test.image_shape(),
            });
        }
        for split in [&train, &test] {
            if let Some(index) = split
                .labels()
                .iter()
                .position(|&l| l as usize >= class_names.len())
            {
                return Err(DataError::LabelOutOfRange {
                    path: provenance.dir.clone(),
                    index,
                    label: split.labels()[index],
                    dataset: title.clone(),
                    classes: class_names.len(),
                });
            }
        }
        Ok(Dataset {
            name,
            title,
            class_names,
            train,
            test,
            provenance,
            notes: Vec::new(),
        })
    }

    /// Reads the four files of a known dataset from one folder, verifying checksums.
    pub fn from_dir(dir: &Path, spec: &'static DatasetSpec) -> Result<Dataset> {
        let (found, tried) = Locator {
            data_dir: Some(dir.to_path_buf()),
            ..Locator::default()
        }
        .search(spec)?;
        let located = found.ok_or_else(|| DataError::NotFound {
            dataset: spec.title.to_string(),
            tried,
            hints: crate::locate::hints(spec),
        })?;
        Self::from_located(located, Some(spec))
    }

    fn from_located(located: Located, spec: Option<&'static DatasetSpec>) -> Result<Dataset> {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        let mut records = Vec::new();
        for (role, path) in Role::ALL.into_iter().zip(&located.files) {
            let fspec =
                spec.map(|s| &s.files[Role::ALL.iter().position(|r| *r == role).unwrap_or(0)]);
            let (content, record) = read_and_verify(path, role, fspec)?;
            match content {
                Content::Images(i) => images.push(i),
                Content::Labels(l) => labels.push(l.labels),
            }
            records.push(record);
        }
        let [train_images, test_images]: [_; 2] = images.try_into().expect("two image files");
        let [train_labels, test_labels]: [_; 2] = labels.try_into().expect("two label files");
        let path = |role: Role| {
            located.files[Role::ALL.iter().position(|r| *r == role).unwrap_or(0)].clone()
        };
        for (imgs, lbls, ri, rl) in [
            (
                &train_images,
                &train_labels,
                Role::TrainImages,
                Role::TrainLabels,
            ),
            (
                &test_images,
                &test_labels,
                Role::TestImages,
                Role::TestLabels,
            ),
        ] {
            if imgs.count != lbls.len() {
                return Err(DataError::CountMismatch {
                    images: path(ri),
                    image_count: imgs.count,
                    labels: path(rl),
                    label_count: lbls.len(),
                });
            }
        }
        let shape = |i: &crate::idx::IdxImages| [i.channels, i.rows, i.cols];
        if shape(&train_images) != shape(&test_images) {
            return Err(DataError::ShapeMismatch {
                train: path(Role::TrainImages),
                train_shape: shape(&train_images),
                test: path(Role::TestImages),
                test_shape: shape(&test_images),
            });
        }
        let (name, title, class_names) = match spec {
            Some(s) => (
                s.name.to_string(),
                s.title.to_string(),
                s.class_names
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>(),
            ),
            None => {
                let title = located
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "idx".into());
                (
                    "idx".to_string(),
                    title,
                    idx_class_names(&located.dir, &train_labels, &test_labels)?,
                )
            }
        };
        for (lbls, role) in [
            (&train_labels, Role::TrainLabels),
            (&test_labels, Role::TestLabels),
        ] {
            if let Some(index) = lbls.iter().position(|&l| l as usize >= class_names.len()) {
                return Err(DataError::LabelOutOfRange {
                    path: path(role),
                    index,
                    label: lbls[index],
                    dataset: title.clone(),
                    classes: class_names.len(),
                });
            }
        }
        let s = shape(&train_images);
        Ok(Dataset {
            name,
            title,
            class_names,
            train: Split::new(train_images.pixels, train_labels, s)?,
            test: Split::new(test_images.pixels, test_labels, s)?,
            provenance: Provenance {
                origin: located.origin,
                dir: located.dir,
                files: records,
            },
            notes: Vec::new(),
        })
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Splits the training set into a training part and a held-out validation part of
    /// `val_count` images, chosen by a seeded shuffle (the same seed gives the same split).
    pub fn holdout(&self, val_count: usize, seed: u64) -> Result<(Split, Split)> {
        if val_count == 0 || val_count >= self.train.len() {
            return Err(DataError::HoldoutOutOfRange {
                holdout: val_count,
                max: self.train.len().saturating_sub(1),
            });
        }
        let (train, val) = holdout_indices(self.train.len(), val_count, seed);
        Ok((self.train.select(&train), self.train.select(&val)))
    }

    /// The same data as candle-datasets' `vision::Dataset`, in candle's conventions:
    /// images `f32 [N, C·H·W]` in `[0, 1]`, labels `u8 [N]`.
    ///
    /// Needs the `candle-datasets` feature of this crate.
    #[cfg(feature = "candle-datasets")]
    pub fn to_candle(&self, device: &Device) -> Result<candle_datasets::vision::Dataset> {
        let convert = |s: &Split| -> Result<(Tensor, Tensor)> {
            let per = s.shape.iter().product::<usize>();
            let pixels: Vec<f32> = s.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
            Ok((
                Tensor::from_vec(pixels, (s.len(), per), device)?,
                Tensor::from_vec(s.labels.clone(), s.len(), device)?,
            ))
        };
        let (train_images, train_labels) = convert(&self.train)?;
        let (test_images, test_labels) = convert(&self.test)?;
        Ok(candle_datasets::vision::Dataset {
            train_images,
            train_labels,
            test_images,
            test_labels,
            labels: self.classes(),
        })
    }
}

/// Class names of an `idx:` folder: `classes.txt` (one per line) or `0..=max label`.
fn idx_class_names(dir: &Path, train: &[u8], test: &[u8]) -> Result<Vec<String>> {
    let file = dir.join("classes.txt");
    if file.is_file() {
        let text = std::fs::read_to_string(&file).map_err(|source| DataError::Io {
            path: file.clone(),
            action: "cannot read",
            source,
        })?;
        let names: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if names.is_empty() {
            return Err(DataError::IdxDirectory {
                dir: dir.to_path_buf(),
                problem: "classes.txt is empty; write one class name per line".into(),
            });
        }
        return Ok(names);
    }
    let max = train.iter().chain(test).copied().max().unwrap_or(0);
    Ok((0..=max).map(|c| c.to_string()).collect())
}
