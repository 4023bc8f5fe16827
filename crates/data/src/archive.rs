//! Datasets in torchvision's other layouts — CIFAR-10/100, SVHN, STL-10, USPS, EMNIST,
//! QMNIST — found where torchvision leaves them, verified against the published checksums,
//! and read by the readers of [`formats`](crate::formats). Missing, they are downloaded into
//! the cache: SVHN, USPS and QMNIST file by file, the others as their published archive,
//! extracted once its MD5 is checked (`unpack`).

use std::fmt;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::download::download_verified;
use crate::error::{DataError, Result};
use crate::formats::emnist::{self, EmnistSplit};
use crate::formats::{cifar, stl10, svhn, usps, Loaded};
use crate::idx::FileDigest;
use crate::locate::{Locator, Origin};
use crate::unpack::{fetch_and_extract, ArchiveSpec, Packing};
use crate::verify::{FileRecord, Verification};

/// A dataset in one of torchvision's non-IDX layouts (or EMNIST/QMNIST, IDX with their own
/// folder and label conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archive {
    /// CIFAR-10: 10 classes of 3×32×32 photos.
    Cifar10,
    /// CIFAR-100: 100 fine classes (or 20 coarse superclasses) of 3×32×32 photos.
    Cifar100,
    /// SVHN: house-number digits, 3×32×32, MATLAB files.
    Svhn,
    /// STL-10: 10 classes of 3×96×96 photos.
    Stl10,
    /// USPS: 1×16×16 digits, bz2-compressed libsvm text.
    Usps,
    /// EMNIST, one of its six splits.
    Emnist(EmnistSplit),
    /// QMNIST: MNIST's digits with extended labels.
    Qmnist,
}

/// Which labels a dataset with two label sets gives (CIFAR-100's fine classes or coarse
/// superclasses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelSet {
    /// The dataset's usual labels (CIFAR-100's 100 fine classes).
    #[default]
    Fine,
    /// CIFAR-100's 20 superclasses.
    Coarse,
}

impl std::str::FromStr for LabelSet {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fine" => Ok(LabelSet::Fine),
            "coarse" => Ok(LabelSet::Coarse),
            other => Err(DataError::InvalidArgument {
                name: "labels".into(),
                value: other.into(),
                problem: "expected fine or coarse".into(),
            }),
        }
    }
}

/// How to read a dataset beyond finding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// CIFAR-100's fine or coarse labels.
    pub labels: LabelSet,
    /// Accept files whose checksums differ from the published ones (re-packed, subsetted,
    /// or written by a test); their records say so.
    pub unverified: bool,
    /// Resize every image to this square size at load (bilinear with antialiasing).
    pub resize: Option<usize>,
    /// Convert every image to one channel at load.
    pub grayscale: bool,
}

/// One way a dataset is distributed: a folder under torchvision's root and its files.
#[derive(Debug)]
struct Layout {
    /// The folder under the root (empty: the root itself).
    folder: &'static str,
    /// Each file, relative to the folder, with its published MD5 when there is one.
    files: Vec<(String, Option<&'static str>)>,
    /// `python pickles`, `binary`, ….
    kind: &'static str,
}

fn with_md5(files: &[(&str, &'static str)]) -> Vec<(String, Option<&'static str>)> {
    files
        .iter()
        .map(|(name, md5)| (name.to_string(), Some(*md5)))
        .collect()
}

fn without_md5(files: &[&str]) -> Vec<(String, Option<&'static str>)> {
    files.iter().map(|name| (name.to_string(), None)).collect()
}

impl Archive {
    /// Every dataset of this kind, EMNIST once per split.
    pub fn all() -> Vec<Archive> {
        let mut all = vec![
            Archive::Cifar10,
            Archive::Cifar100,
            Archive::Svhn,
            Archive::Stl10,
            Archive::Usps,
        ];
        all.extend(EmnistSplit::ALL.map(Archive::Emnist));
        all.push(Archive::Qmnist);
        all
    }

    /// The name on the command line and in run folders (`cifar100`, `emnist-letters`).
    pub fn name(&self) -> String {
        self.static_name().to_string()
    }

    /// [`Archive::name`] as a `&'static str`.
    pub fn static_name(&self) -> &'static str {
        match self {
            Archive::Cifar10 => "cifar10",
            Archive::Cifar100 => "cifar100",
            Archive::Svhn => "svhn",
            Archive::Stl10 => "stl10",
            Archive::Usps => "usps",
            Archive::Emnist(EmnistSplit::ByClass) => "emnist-byclass",
            Archive::Emnist(EmnistSplit::ByMerge) => "emnist-bymerge",
            Archive::Emnist(EmnistSplit::Balanced) => "emnist-balanced",
            Archive::Emnist(EmnistSplit::Letters) => "emnist-letters",
            Archive::Emnist(EmnistSplit::Digits) => "emnist-digits",
            Archive::Emnist(EmnistSplit::Mnist) => "emnist-mnist",
            Archive::Qmnist => "qmnist",
        }
    }

    /// The usual title (`CIFAR-100`, `EMNIST letters`).
    pub fn title(&self) -> String {
        match self {
            Archive::Cifar10 => "CIFAR-10".into(),
            Archive::Cifar100 => "CIFAR-100".into(),
            Archive::Svhn => "SVHN".into(),
            Archive::Stl10 => "STL-10".into(),
            Archive::Usps => "USPS".into(),
            Archive::Emnist(split) => format!("EMNIST {}", split.name()),
            Archive::Qmnist => "QMNIST".into(),
        }
    }

    /// The layouts, in the order they are looked for.
    fn layouts(&self) -> Vec<Layout> {
        match self {
            Archive::Cifar10 => vec![
                Layout {
                    folder: cifar::CIFAR10_PYTHON_ARCHIVE.folder,
                    files: with_md5(cifar::CIFAR10_PYTHON_FILES),
                    kind: "python pickles",
                },
                Layout {
                    folder: cifar::CIFAR10_BINARY_ARCHIVE.folder,
                    files: without_md5(cifar::CIFAR10_BINARY_FILES),
                    kind: "binary",
                },
            ],
            Archive::Cifar100 => vec![
                Layout {
                    folder: cifar::CIFAR100_PYTHON_ARCHIVE.folder,
                    files: with_md5(cifar::CIFAR100_PYTHON_FILES),
                    kind: "python pickles",
                },
                Layout {
                    folder: cifar::CIFAR100_BINARY_ARCHIVE.folder,
                    files: without_md5(cifar::CIFAR100_BINARY_FILES),
                    kind: "binary",
                },
            ],
            Archive::Svhn => vec![Layout {
                folder: "",
                files: with_md5(&[
                    (svhn::TRAIN_FILE, svhn::TRAIN_MD5),
                    (svhn::TEST_FILE, svhn::TEST_MD5),
                ]),
                kind: "MATLAB files",
            }],
            Archive::Stl10 => vec![Layout {
                folder: stl10::STL10_FOLDER,
                files: with_md5(
                    &stl10::STL10_MD5S
                        .into_iter()
                        .filter(|(name, _)| *name != "unlabeled_X.bin")
                        .collect::<Vec<_>>(),
                ),
                kind: "binary",
            }],
            Archive::Usps => vec![Layout {
                folder: "",
                files: with_md5(&[
                    (usps::USPS_TRAIN.0, usps::USPS_TRAIN.2),
                    (usps::USPS_TEST.0, usps::USPS_TEST.2),
                ]),
                kind: "bz2 libsvm",
            }],
            Archive::Emnist(split) => {
                let files: Vec<String> =
                    [(true, true), (true, false), (false, true), (false, false)]
                        .into_iter()
                        .map(|(train, images)| split.file_name(train, images))
                        .collect();
                ["EMNIST/raw", ""]
                    .into_iter()
                    .map(|folder| Layout {
                        folder,
                        files: files.iter().map(|f| (f.clone(), None)).collect(),
                        kind: "IDX",
                    })
                    .collect()
            }
            Archive::Qmnist => ["QMNIST/raw", ""]
                .into_iter()
                .map(|folder| Layout {
                    folder,
                    files: emnist::QMNIST_FILES
                        .iter()
                        .map(|(name, _, md5)| (format!("{name}.gz"), Some(*md5)))
                        .collect(),
                    kind: "IDX",
                })
                .collect(),
        }
    }

    /// Files that can be downloaded one by one into the cache: `(file, url, md5)`.
    fn downloads(&self) -> Vec<(String, &'static str, &'static str)> {
        match self {
            Archive::Svhn => [
                (svhn::TRAIN_FILE, svhn::TRAIN_URL, svhn::TRAIN_MD5),
                (svhn::TEST_FILE, svhn::TEST_URL, svhn::TEST_MD5),
            ]
            .into_iter()
            .map(|(f, url, md5)| (f.to_string(), url, md5))
            .collect(),
            Archive::Usps => [usps::USPS_TRAIN, usps::USPS_TEST]
                .into_iter()
                .map(|(f, url, md5)| (f.to_string(), url, md5))
                .collect(),
            Archive::Qmnist => emnist::QMNIST_FILES
                .iter()
                .map(|(f, url, md5)| (format!("{f}.gz"), *url, *md5))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The published archive to download and the files to extract from it into the first
    /// layout's folder, for the datasets published that way (CIFAR-10/100's Python
    /// versions, STL-10, EMNIST); the caps are a margin above the published sizes.
    pub(crate) fn archive_download(&self) -> Option<ArchiveSpec> {
        const MB: u64 = 1 << 20;
        let layout = self.layouts().remove(0);
        let inside = |folder: &str| {
            layout
                .files
                .iter()
                .map(|(f, _)| (format!("{folder}/{f}"), f.clone()))
                .collect::<Vec<_>>()
        };
        let cifar = |a: cifar::Archive, max_entry_bytes| ArchiveSpec {
            url: a.url.into(),
            file: a.file.into(),
            md5: a.md5.into(),
            packing: Packing::TarGz,
            // 170 MB and 169 MB; CIFAR-100's training pickle is the largest file, 155 MB.
            max_archive_bytes: 256 * MB,
            max_entry_bytes,
            max_unpacked_bytes: 512 * MB,
            entries: inside(a.folder),
            shared_with: Vec::new(),
        };
        match self {
            Archive::Cifar10 => Some(cifar(cifar::CIFAR10_PYTHON_ARCHIVE, 64 * MB)),
            Archive::Cifar100 => Some(cifar(cifar::CIFAR100_PYTHON_ARCHIVE, 256 * MB)),
            Archive::Stl10 => Some(ArchiveSpec {
                url: stl10::STL10_ARCHIVE_URL.into(),
                file: stl10::STL10_ARCHIVE_NAME.into(),
                md5: stl10::STL10_ARCHIVE_MD5.into(),
                packing: Packing::TarGz,
                // 2.64 GB; test_X.bin, the largest file extracted, is 221 MB. The stream
                // also runs through unlabeled_X.bin (2.76 GB), which is not extracted.
                max_archive_bytes: 3 << 30,
                max_entry_bytes: 512 * MB,
                max_unpacked_bytes: 4 << 30,
                // The reader also takes the class names, which have no published MD5 and
                // so are not among the layout's checked files.
                entries: inside(stl10::STL10_FOLDER)
                    .into_iter()
                    .chain([(
                        format!("{}/class_names.txt", stl10::STL10_FOLDER),
                        "class_names.txt".to_string(),
                    )])
                    .collect(),
                shared_with: Vec::new(),
            }),
            Archive::Emnist(split) => Some(ArchiveSpec {
                url: emnist::EMNIST_ARCHIVE_URL.into(),
                file: "gzip.zip".into(),
                md5: emnist::EMNIST_ARCHIVE_MD5.into(),
                packing: Packing::Zip,
                // 562 MB, holding every split's gzipped IDX files.
                max_archive_bytes: 768 * MB,
                max_entry_bytes: 512 * MB,
                max_unpacked_bytes: 768 * MB,
                // `gzip/emnist-<split>-….gz`, kept gzipped: the reader takes `.gz`.
                entries: layout
                    .files
                    .iter()
                    .map(|(f, _)| (format!("gzip/{f}.gz"), format!("{f}.gz")))
                    .collect(),
                // One archive for every split: a split downloaded before spares the download.
                shared_with: EmnistSplit::ALL
                    .into_iter()
                    .filter(|other| other != split)
                    .map(|other| Archive::Emnist(other).name())
                    .collect(),
            }),
            Archive::Svhn | Archive::Usps | Archive::Qmnist => None,
        }
    }

    /// How to get the data, for the "not found" error and the dataset list.
    pub fn how_to_get(&self) -> String {
        let extract = |url: &str, md5: &str| {
            format!("allow downloads (the archive {url}, MD5 {md5}, is downloaded into the cache and extracted there), or download it and extract it into the data folder")
        };
        match self {
            Archive::Cifar10 => extract(cifar::CIFAR10_PYTHON_ARCHIVE.url, cifar::CIFAR10_PYTHON_ARCHIVE.md5),
            Archive::Cifar100 => extract(cifar::CIFAR100_PYTHON_ARCHIVE.url, cifar::CIFAR100_PYTHON_ARCHIVE.md5),
            Archive::Stl10 => extract(stl10::STL10_ARCHIVE_URL, stl10::STL10_ARCHIVE_MD5),
            Archive::Emnist(_) => format!(
                "allow downloads (the archive {}, MD5 {}, is downloaded into the cache and the split's files extracted there), or download it, unzip it and gunzip its files into <data folder>/EMNIST/raw/",
                emnist::EMNIST_ARCHIVE_URL,
                emnist::EMNIST_ARCHIVE_MD5
            ),
            Archive::Svhn | Archive::Usps | Archive::Qmnist => format!(
                "allow downloads (the files come from {} into the cache), or put {} in the data folder",
                self.downloads().first().map_or("", |d| d.1),
                self.downloads()
                    .iter()
                    .map(|d| d.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The files a layout would use, as a list for messages.
    fn expected_files(&self) -> String {
        self.layouts()
            .iter()
            .map(|l| {
                let files: Vec<String> = l
                    .files
                    .iter()
                    .map(|(f, _)| {
                        if l.folder.is_empty() {
                            f.clone()
                        } else {
                            format!("{}/{f}", l.folder)
                        }
                    })
                    .collect();
                format!("{} ({})", files.join(", "), l.kind)
            })
            .collect::<Vec<_>>()
            .join("; or ")
    }

    fn read(&self, layout: &Layout, dir: &Path, options: &ReadOptions) -> Result<Loaded> {
        let coarse = options.labels == LabelSet::Coarse;
        if coarse && *self != Archive::Cifar100 {
            return Err(DataError::InvalidArgument {
                name: "labels".into(),
                value: "coarse".into(),
                problem: format!("only cifar100 has coarse labels, not {}", self.name()),
            });
        }
        let binary = layout.kind == "binary";
        match self {
            Archive::Cifar10 if binary => cifar::read_cifar10_binary(dir),
            Archive::Cifar10 => cifar::read_cifar10_python(dir),
            Archive::Cifar100 if binary => cifar::read_cifar100_binary(dir, coarse),
            Archive::Cifar100 => cifar::read_cifar100_python(dir, coarse),
            Archive::Svhn => svhn::read_svhn(dir),
            Archive::Stl10 => stl10::read_stl10(dir),
            Archive::Usps => usps::read_usps(dir),
            Archive::Emnist(split) => emnist::read_emnist(dir, *split),
            Archive::Qmnist => emnist::read_qmnist(dir),
        }
    }
}

impl fmt::Display for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Archive {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        Archive::all()
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| DataError::UnknownDataset(s.to_string()))
    }
}

/// A dataset of this module, found: the folder, the layout and the files with their
/// checksums.
#[derive(Debug)]
pub(crate) struct FoundArchive {
    pub origin: Origin,
    pub dir: PathBuf,
    layout: Layout,
}

/// The MD5 of a file's bytes as they are on disk.
fn md5_file(path: &Path) -> Result<FileDigest> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        action: "cannot read",
        source,
    })?;
    let md5 = Md5::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok(FileDigest {
        md5,
        gzip_md5: None,
        bytes: bytes.len() as u64,
    })
}

/// `folder/name`, or `folder/name` without `.gz` when only that exists (EMNIST and QMNIST
/// files are read raw or gzip).
fn existing(folder: &Path, name: &str) -> Option<PathBuf> {
    let path = folder.join(name);
    if path.is_file() {
        return Some(path);
    }
    let alternative = match name.strip_suffix(".gz") {
        Some(raw) => folder.join(raw),
        None => folder.join(format!("{name}.gz")),
    };
    alternative.is_file().then_some(alternative)
}

/// What [`Locator::find_archive`] found: the folder, how it was found and its layout
/// (`python pickles`, `binary`, …), or one line per place looked at.
pub type Search = std::result::Result<(PathBuf, Origin, &'static str), Vec<String>>;

impl Locator {
    fn archive_roots(&self, archive: &Archive) -> Vec<(Origin, PathBuf)> {
        let name = archive.name();
        let mut out = Vec::new();
        if let Some(d) = &self.data_dir {
            out.push((Origin::DataDir, d.clone()));
            out.push((Origin::DataDir, d.join(&name)));
        }
        if let Some(d) = &self.env_dir {
            out.push((Origin::EnvVar, d.join(&name)));
            out.push((Origin::EnvVar, d.clone()));
        }
        if let Some(d) = &self.cache_dir {
            out.push((Origin::Cache, d.join(&name)));
        }
        if self.system {
            out.push((
                Origin::System,
                PathBuf::from("/usr/share/datasets").join(&name),
            ));
        }
        out
    }

    /// Looks for an [`Archive`] dataset without downloading: the folder, how it was found
    /// and its layout (`python pickles`, `binary`, …), or a line per place looked at.
    pub fn find_archive(&self, archive: &Archive) -> Result<Search> {
        Ok(self
            .search_archive(archive)?
            .map(|found| (found.dir, found.origin, found.layout.kind)))
    }

    fn search_archive(
        &self,
        archive: &Archive,
    ) -> Result<std::result::Result<FoundArchive, Vec<String>>> {
        if let Some(d) = &self.data_dir {
            if !d.is_dir() {
                return Err(DataError::NoSuchDataDir { path: d.clone() });
            }
        }
        let mut tried = Vec::new();
        for (origin, root) in self.archive_roots(archive) {
            for layout in archive.layouts() {
                // The layout's folder under the root, or the root itself when it is that
                // folder (a run records the folder it read).
                let dir = if layout.folder.is_empty() || root.ends_with(layout.folder) {
                    root.clone()
                } else {
                    root.join(layout.folder)
                };
                let missing: Vec<&str> = layout
                    .files
                    .iter()
                    .filter(|(f, _)| existing(&dir, f).is_none())
                    .map(|(f, _)| f.as_str())
                    .collect();
                if missing.is_empty() {
                    return Ok(Ok(FoundArchive {
                        origin,
                        dir,
                        layout,
                    }));
                }
                if missing.len() < layout.files.len() {
                    tried.push(format!(
                        "{} ({origin}): incomplete {} layout, missing {}",
                        dir.display(),
                        layout.kind,
                        missing.join(", ")
                    ));
                }
            }
            tried.push(format!(
                "{} ({origin}): no {} files",
                root.display(),
                archive.title()
            ));
        }
        tried.dedup();
        Ok(Err(tried))
    }

    /// Finds an [`Archive`] dataset — in the search order, then by downloading its files
    /// into the cache (one by one, or as the published archive, verified, then extracted).
    pub(crate) fn locate_archive(&self, archive: &Archive) -> Result<FoundArchive> {
        self.locate_archive_from(archive, archive.archive_download())
    }

    /// [`Locator::locate_archive`] with the archive to download, when there is one, given:
    /// the published one there, one a test made here.
    pub(crate) fn locate_archive_from(
        &self,
        archive: &Archive,
        published: Option<ArchiveSpec>,
    ) -> Result<FoundArchive> {
        let mut tried = match self.search_archive(archive)? {
            Ok(found) => return Ok(found),
            Err(tried) => tried,
        };
        let downloads = archive.downloads();
        if !downloads.is_empty() || published.is_some() {
            match (&self.cache_dir, self.download) {
                (Some(cache), true) => {
                    // Into the first layout's folder, where the next search finds it.
                    let layout = archive.layouts().remove(0);
                    let dir = cache.join(archive.name()).join(layout.folder);
                    let fetched = match &published {
                        // The archive stays in `<cache>/<name>/`, beside the folder it is
                        // extracted to.
                        Some(spec) => fetch_and_extract(
                            spec,
                            &cache.join(archive.name()),
                            &spec
                                .shared_with
                                .iter()
                                .map(|name| cache.join(name))
                                .collect::<Vec<_>>(),
                            &dir,
                            self.mirrors
                                .as_ref()
                                .and_then(|m| m.first())
                                .map(String::as_str),
                            self.progress,
                        ),
                        None => self.download_files(&dir, &downloads),
                    };
                    match fetched {
                        Ok(()) => {
                            return Ok(FoundArchive {
                                origin: Origin::Downloaded,
                                dir,
                                layout,
                            });
                        }
                        Err(e) => tried.push(format!("download into {}: {e}", dir.display())),
                    }
                }
                (None, true) => {
                    tried.push("download: no cache folder is known for this user".into())
                }
                (_, false) => tried.push(format!(
                    "download: turned off ({} is set)",
                    crate::locate::OFFLINE_ENV
                )),
            }
        }
        Err(DataError::ArchiveNotFound {
            dataset: archive.title(),
            tried,
            expected: archive.expected_files(),
            how: archive.how_to_get(),
        })
    }

    fn download_files(
        &self,
        dir: &Path,
        files: &[(String, &'static str, &'static str)],
    ) -> Result<()> {
        for (name, url, md5) in files {
            let dest = dir.join(name);
            if dest.is_file() {
                continue;
            }
            let url = match &self.mirrors {
                // A local mirror (or a test's server) holds the files under their names.
                Some(mirrors) => match mirrors.first() {
                    Some(base) => format!("{base}{name}"),
                    None => url.to_string(),
                },
                None => url.to_string(),
            };
            let verify = |p: &Path| {
                let digest = md5_file(p)?;
                if digest.md5 == *md5 {
                    Ok(())
                } else {
                    Err(DataError::Checksum {
                        path: p.to_path_buf(),
                        what: "downloaded file",
                        expected: md5.to_string(),
                        actual: digest.md5,
                    })
                }
            };
            download_verified(&url, &dest, &verify, self.progress)?;
        }
        Ok(())
    }
}

/// Reads a found dataset: checks every file against its published MD5 (or records that it
/// has none), then parses it.
pub(crate) fn read_archive(
    archive: &Archive,
    found: &FoundArchive,
    options: &ReadOptions,
) -> Result<(Loaded, Vec<FileRecord>)> {
    let mut records = Vec::new();
    for (name, published) in &found.layout.files {
        let Some(path) = existing(&found.dir, name) else {
            return Err(DataError::Io {
                path: found.dir.join(name),
                action: "cannot read",
                source: std::io::ErrorKind::NotFound.into(),
            });
        };
        let digest = md5_file(&path)?;
        let verification = match published {
            None => Verification::Unverified,
            Some(md5) if digest.md5 == *md5 => Verification::Content,
            Some(_) if options.unverified => Verification::Allowed,
            Some(md5) => {
                return Err(DataError::NotPublished {
                    path,
                    expected: md5.to_string(),
                    actual: digest.md5,
                })
            }
        };
        records.push(FileRecord {
            role: name.clone(),
            path,
            digest,
            verification,
        });
    }
    let loaded = archive.read(&found.layout, &found.dir, options)?;
    Ok((loaded, records))
}
