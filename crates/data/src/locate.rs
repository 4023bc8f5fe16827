//! Finding a dataset on disk — a given data folder, `$CONVLENS_DATA`, the cache, system
//! folders — and, when it is nowhere, downloading it into the cache.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::download::download_verified;
use crate::error::{DataError, Hint, Result};
use crate::registry::{DatasetId, DatasetSpec, Role};
use crate::verify::read_and_verify;

/// Environment variable naming a folder of dataset folders (`$CONVLENS_DATA/mnist/…`).
pub const DATA_ENV: &str = "CONVLENS_DATA";
/// Environment variable that, set to anything but `0` or empty, turns downloads off.
pub const OFFLINE_ENV: &str = "CONVLENS_OFFLINE";

/// Where a dataset's files were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The folder given as [`Locator::data_dir`].
    DataDir,
    /// Under `$CONVLENS_DATA`.
    EnvVar,
    /// The user's cache folder.
    Cache,
    /// A system folder (a distribution package).
    System,
    /// Downloaded just now into the cache.
    Downloaded,
    /// The folder named by `idx:<DIR>`.
    IdxDir,
    /// The folder named by `imagefolder:<DIR>`.
    ImageFolder,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::DataDir => "data folder",
            Origin::EnvVar => DATA_ENV,
            Origin::Cache => "cache",
            Origin::System => "system folder",
            Origin::Downloaded => "downloaded",
            Origin::IdxDir => "idx folder",
            Origin::ImageFolder => "image folder",
        })
    }
}

/// A dataset's four files, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// How it was found.
    pub origin: Origin,
    /// The folder.
    pub dir: PathBuf,
    /// Paths in [`Role::ALL`] order.
    pub files: [PathBuf; 4],
}

/// The search order for datasets, and whether to download.
///
/// [`Locator::from_env`] is what the command line uses; tests build one field by field so
/// nothing outside the test's own folders is looked at.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    /// A folder given by the caller, searched first: the folder itself, `<dir>/<name>/`, and
    /// torchvision's `<dir>/<Folder>/raw/`.
    pub data_dir: Option<PathBuf>,
    /// A folder of dataset folders (from `$CONVLENS_DATA`).
    pub env_dir: Option<PathBuf>,
    /// The cache folder, where downloads go (`<cache>/<name>/`).
    pub cache_dir: Option<PathBuf>,
    /// Whether to look in system folders such as `/usr/share/datasets/<name>`.
    pub system: bool,
    /// Whether to download when the data is nowhere else.
    pub download: bool,
    /// Replaces the registry's mirror base URLs (for a local mirror, or tests).
    pub mirrors: Option<Vec<String>>,
    /// Show a progress bar while downloading.
    pub progress: bool,
}

impl Locator {
    /// The default search: `$CONVLENS_DATA`, the user's cache (`~/.cache/convlens`), system
    /// folders, then a download unless `$CONVLENS_OFFLINE` is set. Add a data folder with
    /// [`Locator::with_data_dir`].
    pub fn from_env() -> Self {
        let offline = std::env::var(OFFLINE_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        Locator {
            data_dir: None,
            env_dir: std::env::var_os(DATA_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            cache_dir: dirs::cache_dir().map(|d| d.join("convlens")),
            system: true,
            download: !offline,
            mirrors: None,
            progress: true,
        }
    }

    /// Sets (or clears) the data folder searched first.
    pub fn with_data_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.data_dir = dir;
        self
    }

    fn candidates(&self, spec: &DatasetSpec) -> Vec<(Origin, PathBuf)> {
        let mut out = Vec::new();
        if let Some(d) = &self.data_dir {
            out.push((Origin::DataDir, d.clone()));
            out.push((Origin::DataDir, d.join(spec.name)));
            out.push((Origin::DataDir, d.join(spec.torchvision_folder).join("raw")));
        }
        if let Some(d) = &self.env_dir {
            out.push((Origin::EnvVar, d.join(spec.name)));
            out.push((Origin::EnvVar, d.join(spec.torchvision_folder).join("raw")));
        }
        if let Some(d) = &self.cache_dir {
            out.push((Origin::Cache, d.join(spec.name)));
        }
        if self.system {
            out.extend(
                spec.system_dirs
                    .iter()
                    .map(|d| (Origin::System, PathBuf::from(d))),
            );
        }
        out
    }

    /// Looks for a known dataset without downloading. Returns what was found, and a line
    /// per place that was looked at without success.
    pub fn search(&self, spec: &DatasetSpec) -> Result<(Option<Located>, Vec<String>)> {
        if let Some(d) = &self.data_dir {
            if !d.is_dir() {
                return Err(DataError::NoSuchDataDir { path: d.clone() });
            }
        }
        let mut tried = Vec::new();
        for (origin, dir) in self.candidates(spec) {
            let found: Vec<Option<PathBuf>> = Role::ALL
                .iter()
                .map(|r| find_standard(&dir, r.file_name()))
                .collect();
            let present = found.iter().filter(|f| f.is_some()).count();
            if present == 4 {
                let files = found.into_iter().flatten().collect::<Vec<_>>();
                let files: [PathBuf; 4] = files.try_into().expect("four files were found");
                // A folder may hold another dataset under the same file names (a data folder
                // of MNIST while Fashion-MNIST is wanted): the small training-label file
                // tells them apart before anything large is read.
                match read_and_verify(&files[1], Role::TrainLabels, Some(&spec.files[1])) {
                    Ok(_) => return Ok((Some(Located { origin, dir, files }), tried)),
                    Err(e) => {
                        tried.push(format!(
                            "{} ({origin}): not {}: {e}",
                            dir.display(),
                            spec.title
                        ));
                        continue;
                    }
                }
            }
            let why = if present == 0 {
                "no dataset files".to_string()
            } else {
                let missing: Vec<&str> = Role::ALL
                    .iter()
                    .zip(&found)
                    .filter(|(_, f)| f.is_none())
                    .map(|(r, _)| r.file_name())
                    .collect();
                format!("incomplete, missing {}", missing.join(", "))
            };
            tried.push(format!("{} ({origin}): {why}", dir.display()));
        }
        Ok((None, tried))
    }

    /// Finds a dataset — in the search order, then by downloading into the cache — or fails
    /// with one error that lists every place tried and the ways to get the data.
    pub fn locate(&self, id: &DatasetId) -> Result<Located> {
        let spec = match id {
            DatasetId::Idx(dir) => return locate_idx_dir(dir),
            DatasetId::Known(spec) => *spec,
            DatasetId::Archive(_) | DatasetId::ImageFolder(_) => {
                return Err(DataError::InvalidArgument {
                    name: "dataset".into(),
                    value: id.to_string(),
                    problem: "not a set of four IDX files; load it with Dataset::load".into(),
                })
            }
        };
        let (found, mut tried) = self.search(spec)?;
        if let Some(found) = found {
            return Ok(found);
        }
        match (&self.cache_dir, self.download) {
            (Some(cache), true) => match self.download(spec, &cache.join(spec.name)) {
                Ok(files) => {
                    return Ok(Located {
                        origin: Origin::Downloaded,
                        dir: cache.join(spec.name),
                        files,
                    })
                }
                Err(e) => tried.push(format!(
                    "download into {}: {e}",
                    cache.join(spec.name).display()
                )),
            },
            (None, true) => tried.push("download: no cache folder is known for this user".into()),
            (_, false) => tried.push(format!("download: turned off ({OFFLINE_ENV} is set)")),
        }
        Err(DataError::NotFound {
            dataset: spec.title.to_string(),
            tried,
            hints: hints(spec),
        })
    }

    fn download(&self, spec: &DatasetSpec, dir: &Path) -> Result<[PathBuf; 4]> {
        let mirrors: Vec<String> = match &self.mirrors {
            Some(m) => m.clone(),
            None => spec.mirrors.iter().map(|m| m.to_string()).collect(),
        };
        let mut paths = Vec::with_capacity(4);
        for fspec in &spec.files {
            let name = format!("{}.gz", fspec.role.file_name());
            let dest = dir.join(&name);
            if let Some(existing) = find_standard(dir, fspec.role.file_name()) {
                paths.push(existing);
                continue;
            }
            let verify = |p: &Path| read_and_verify(p, fspec.role, Some(fspec)).map(|_| ());
            let mut reasons = Vec::new();
            let mut ok = false;
            for base in &mirrors {
                let url = format!("{base}{name}");
                match download_verified(&url, &dest, &verify, self.progress) {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(e) => reasons.push(e.to_string()),
                }
            }
            if !ok {
                return Err(DataError::Download {
                    url: name,
                    reason: reasons.join("; "),
                });
            }
            paths.push(dest);
        }
        Ok(paths.try_into().expect("one path per role"))
    }
}

/// Ways to get a dataset, for the "not found" error and a listing of datasets.
pub fn hints(spec: &DatasetSpec) -> Vec<Hint> {
    let mut h = Vec::new();
    if let Some(p) = spec.package_hint {
        h.push(Hint::Package(p));
    }
    h.push(Hint::DataDir {
        files: Role::ALL.map(|r| r.file_name()),
    });
    h.push(Hint::EnvDir { folder: spec.name });
    h.push(Hint::Download {
        mirror: spec.mirrors.first().unwrap_or(&"its mirror"),
    });
    h
}

/// `<dir>/<name>` or `<dir>/<name>.gz`, raw preferred.
fn find_standard(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

fn locate_idx_dir(dir: &Path) -> Result<Located> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        action: "cannot read the idx: folder",
        source,
    })?;
    let names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    let mut files = Vec::with_capacity(4);
    for role in Role::ALL {
        let mut matches: Vec<&PathBuf> = names
            .iter()
            .filter(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_lowercase())
                    .unwrap_or_default();
                !n.starts_with('.') && role.name_patterns().iter().any(|pat| n.contains(pat))
            })
            .collect();
        matches.sort();
        // `x` and `x.gz` side by side are one file; prefer the raw one.
        if matches.len() == 2 {
            let (a, b) = (matches[0].to_string_lossy(), matches[1].to_string_lossy());
            if b == format!("{a}.gz") {
                matches.truncate(1);
            }
        }
        match matches.as_slice() {
            [one] => files.push((*one).clone()),
            [] => {
                return Err(DataError::IdxDirectory {
                    dir: dir.to_path_buf(),
                    problem: format!(
                        "no file for the {role} (expected a name containing {})",
                        role.name_patterns().join(" or ")
                    ),
                })
            }
            many => {
                return Err(DataError::IdxDirectory {
                    dir: dir.to_path_buf(),
                    problem: format!(
                        "several files could be the {role}: {}; keep one",
                        many.iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
        }
    }
    Ok(Located {
        origin: Origin::IdxDir,
        dir: dir.to_path_buf(),
        files: files.try_into().expect("one file per role"),
    })
}
