//! Datasets published as archives — CIFAR's and STL-10's `.tar.gz`, EMNIST's `.zip` — as
//! torchvision gets them: the archive is downloaded into the cache, checked against its
//! published MD5 before anything is read from it, then only the files a layout needs are
//! extracted, each through an atomic writer, into the layout's folder.
//!
//! Every entry of the archive is looked at, and the archive is refused (an error naming it
//! and the entry) when one has an absolute path, a `..` component, is a link or a special
//! file, or is larger than the archive can hold; the files are written under names this
//! crate knows, never under a name taken from the archive, so nothing lands outside the
//! folder. The archive is kept in the cache after extraction, as torchvision keeps it, so
//! that a file removed by hand can be extracted again without a download.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use atomic_write_file::AtomicWriteFile;

use crate::download::{download_md5, md5_streamed};
use crate::error::{DataError, Result};

/// How an archive is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packing {
    /// A gzip-compressed tar file.
    TarGz,
    /// A zip file (entries stored or deflated).
    Zip,
}

/// One published archive, and the files to take out of it.
#[derive(Debug, Clone)]
pub(crate) struct ArchiveSpec {
    /// Where it is published.
    pub url: String,
    /// Its file name (in the cache, and under a mirror's base URL).
    pub file: String,
    /// The published MD5 of the archive.
    pub md5: String,
    /// How it is packed.
    pub packing: Packing,
    /// The most bytes the archive may have (a download beyond is cut off).
    pub max_archive_bytes: u64,
    /// The most bytes one extracted file may have.
    pub max_entry_bytes: u64,
    /// The most bytes the whole tar stream may unpack to, entries skipped included.
    pub max_unpacked_bytes: u64,
    /// `(entry in the archive, file name in the destination folder)`.
    pub entries: Vec<(String, String)>,
    /// The other datasets whose cache folders may keep the same archive (EMNIST's splits
    /// share one), looked in before downloading.
    pub shared_with: Vec<String>,
}

/// Finds the published archive — kept in `<archive_dir>/<spec.file>` or in
/// `<elsewhere>/<spec.file>` from an earlier download, when its MD5 matches — or downloads it
/// into `<archive_dir>/<spec.file>` (from `<mirror><file>` when a mirror is given), then
/// extracts `spec.entries` into `dest`, which lies under `archive_dir`.
pub(crate) fn fetch_and_extract(
    spec: &ArchiveSpec,
    archive_dir: &Path,
    elsewhere: &[PathBuf],
    dest: &Path,
    mirror: Option<&str>,
    progress: bool,
) -> Result<()> {
    let own = archive_dir.join(&spec.file);
    let verified = |p: &PathBuf| p.is_file() && md5_streamed(p).is_ok_and(|m| m == spec.md5);
    let kept = std::iter::once(own.clone())
        .chain(elsewhere.iter().map(|d| d.join(&spec.file)))
        .find(verified);
    let archive = match kept {
        Some(kept) => kept,
        None => {
            let url = match mirror {
                Some(base) => format!("{base}{}", spec.file),
                None => spec.url.clone(),
            };
            download_md5(&url, &own, &spec.md5, spec.max_archive_bytes, progress)?;
            own
        }
    };
    extract(spec, &archive, dest, archive_dir, progress)
}

/// Extracts `spec.entries` of the verified archive at `archive` into `dest`. On an error,
/// the files this call wrote are removed again, and the folders made for them below `top`.
/// With `progress`, a bar on stderr follows the archive's bytes read.
pub(crate) fn extract(
    spec: &ArchiveSpec,
    archive: &Path,
    dest: &Path,
    top: &Path,
    progress: bool,
) -> Result<()> {
    let bar = match std::fs::metadata(archive) {
        Ok(meta) if progress => indicatif::ProgressBar::new(meta.len()),
        _ => indicatif::ProgressBar::hidden(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("extracting {}", spec.file));
    let mut written = Vec::new();
    let result = match spec.packing {
        Packing::TarGz => extract_tar_gz(spec, archive, dest, &mut written, &bar),
        Packing::Zip => extract_zip(spec, archive, dest, &mut written, &bar),
    };
    bar.finish_and_clear();
    if result.is_err() {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        // The folders made for them, when nothing else is in them.
        let mut dir = Some(dest);
        while let Some(d) = dir.filter(|d| d.starts_with(top) && *d != top) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    result
}

fn refused(archive: &Path, entry: &str, problem: impl Into<String>) -> DataError {
    let problem = problem.into();
    DataError::Malformed {
        path: archive.to_path_buf(),
        problem: if entry.is_empty() {
            format!("archive refused: {problem}")
        } else {
            format!("archive refused: entry '{entry}': {problem}")
        },
    }
}

/// The entry's path as `a/b/c` (`.` components dropped), or why it is refused: absolute,
/// with a `..`, or empty.
fn entry_path(archive: &Path, raw: &str) -> Result<String> {
    let refuse = |problem: &str| Err(refused(archive, raw, problem));
    if raw.contains('\0') {
        return refuse("a NUL byte in its name");
    }
    // A `..` between backslashes is a parent folder to Windows tools.
    if raw.split(['/', '\\']).any(|part| part == "..") {
        return refuse("its path goes up a folder ('..'), out of the extraction folder");
    }
    if raw.starts_with(['/', '\\']) || raw.as_bytes().get(1) == Some(&b':') {
        return refuse("an absolute path");
    }
    let mut parts = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                return refuse("its path goes up a folder ('..'), out of the extraction folder")
            }
            Component::RootDir | Component::Prefix(_) => return refuse("an absolute path"),
        }
    }
    Ok(parts.join("/"))
}

/// How [`Capped`]'s error begins.
const UNPACKS_TO_MORE: &str = "it unpacks to more than";

/// Why a read from an archive failed: the cap, or else damage.
fn read_failure(e: &std::io::Error) -> String {
    let message = e.to_string();
    if message.contains(UNPACKS_TO_MORE) {
        message
    } else {
        format!("{message} (the archive is truncated or corrupt)")
    }
}

/// A reader that fails once more than `left` bytes went through it.
struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(std::io::Error::other(format!(
                "{UNPACKS_TO_MORE} {} bytes, more than the published archive does",
                self.cap
            ))),
        }
    }
}

/// Streams `reader` into an atomic writer at `path`, refusing more than `max` bytes. The
/// file is returned uncommitted (a drop discards it) with the number of bytes written.
fn stream_entry(
    reader: &mut dyn Read,
    path: &Path,
    max: u64,
    archive: &Path,
    entry: &str,
) -> Result<(AtomicWriteFile, u64)> {
    let write_error = |action| {
        move |source| DataError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let mut out = AtomicWriteFile::open(path).map_err(write_error("cannot create"))?;
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            refused(
                archive,
                entry,
                format!("cannot be read to its end: {}", read_failure(&e)),
            )
        })?;
        if n == 0 {
            return Ok((out, total));
        }
        total = total.saturating_add(n as u64);
        if total > max {
            return Err(refused(
                archive,
                entry,
                format!("more than {max} bytes, more than the file can have"),
            ));
        }
        out.write_all(&buf[..n])
            .map_err(write_error("cannot write"))?;
    }
}

fn commit(out: AtomicWriteFile, path: &Path) -> Result<()> {
    out.commit().map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        action: "cannot rename into place",
        source,
    })
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        action: "cannot create the extraction folder",
        source,
    })
}

/// The entries still wanted, by their path in the archive, and the error for those that are
/// missing at the end.
fn wanted(spec: &ArchiveSpec) -> HashMap<&str, &str> {
    spec.entries
        .iter()
        .map(|(entry, file)| (entry.as_str(), file.as_str()))
        .collect()
}

fn missing(archive: &Path, spec: &ArchiveSpec, done: &HashSet<String>) -> Result<()> {
    let missing: Vec<&str> = spec
        .entries
        .iter()
        .filter(|(entry, _)| !done.contains(entry))
        .map(|(entry, _)| entry.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(refused(
            archive,
            "",
            format!(
                "it does not hold {} (truncated, or another archive)",
                missing.join(", ")
            ),
        ))
    }
}

fn extract_tar_gz(
    spec: &ArchiveSpec,
    archive: &Path,
    dest: &Path,
    written: &mut Vec<PathBuf>,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let file = File::open(archive).map_err(|source| DataError::Io {
        path: archive.to_path_buf(),
        action: "cannot read",
        source,
    })?;
    let unpacked = Capped {
        inner: flate2::read::GzDecoder::new(bar.wrap_read(BufReader::new(file))),
        left: spec.max_unpacked_bytes,
        cap: spec.max_unpacked_bytes,
    };
    let mut tar = tar::Archive::new(unpacked);
    let wanted = wanted(spec);
    let mut done = HashSet::new();
    let entries = tar
        .entries()
        .map_err(|e| refused(archive, "", format!("not a readable .tar.gz: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            refused(
                archive,
                "",
                format!("cannot read the next entry: {}", read_failure(&e)),
            )
        })?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = entry_path(archive, &raw)?;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory
            | tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(refused(
                    archive,
                    &raw,
                    "a link; archives with links are refused",
                ))
            }
            other => {
                return Err(refused(
                    archive,
                    &raw,
                    format!(
                        "a special file ({other:?}); only plain files and folders are accepted"
                    ),
                ))
            }
        }
        let Some(file) = wanted.get(path.as_str()) else {
            continue;
        };
        let size = entry
            .header()
            .size()
            .map_err(|e| refused(archive, &raw, format!("unreadable size: {e}")))?;
        if size > spec.max_entry_bytes {
            return Err(refused(
                archive,
                &raw,
                format!(
                    "{size} bytes, more than the {} the file can have",
                    spec.max_entry_bytes
                ),
            ));
        }
        if !done.insert(path.clone()) {
            return Err(refused(archive, &raw, "it appears twice"));
        }
        create_dir(dest)?;
        let target = dest.join(file);
        let (out, n) = stream_entry(&mut entry, &target, spec.max_entry_bytes, archive, &raw)?;
        if n != size {
            return Err(refused(
                archive,
                &raw,
                format!("{n} bytes where its header says {size} (truncated)"),
            ));
        }
        commit(out, &target)?;
        written.push(target);
    }
    missing(archive, spec, &done)?;
    // The rest of the gzip stream, up to its checksum: a truncated or corrupt archive is
    // refused even when the files needed came before the damage.
    std::io::copy(&mut tar.into_inner(), &mut std::io::sink()).map_err(|e| {
        refused(
            archive,
            "",
            format!("its end cannot be read: {}", read_failure(&e)),
        )
    })?;
    Ok(())
}

fn extract_zip(
    spec: &ArchiveSpec,
    archive: &Path,
    dest: &Path,
    written: &mut Vec<PathBuf>,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let file = File::open(archive).map_err(|source| DataError::Io {
        path: archive.to_path_buf(),
        action: "cannot read",
        source,
    })?;
    let mut zip = zip::ZipArchive::new(bar.wrap_read(BufReader::new(file)))
        .map_err(|e| refused(archive, "", format!("not a readable zip file: {e}")))?;
    let wanted = wanted(spec);
    let mut done = HashSet::new();
    for index in 0..zip.len() {
        let entry = zip.by_index_raw(index).map_err(|e| {
            refused(
                archive,
                "",
                format!("entry {index} cannot be read: {e} (the archive is truncated or corrupt)"),
            )
        })?;
        let raw = entry
            .name()
            .map_err(|e| refused(archive, "", format!("entry {index}: unreadable name: {e}")))?
            .into_owned();
        let path = entry_path(archive, &raw)?;
        if entry.is_symlink() {
            return Err(refused(
                archive,
                &raw,
                "a link; archives with links are refused",
            ));
        }
        if entry.is_dir() {
            continue;
        }
        let Some(file) = wanted.get(path.as_str()) else {
            continue;
        };
        let size = entry.size();
        if size > spec.max_entry_bytes {
            return Err(refused(
                archive,
                &raw,
                format!(
                    "{size} bytes, more than the {} the file can have",
                    spec.max_entry_bytes
                ),
            ));
        }
        if entry.encrypted() {
            return Err(refused(archive, &raw, "encrypted"));
        }
        if !done.insert(path.clone()) {
            return Err(refused(archive, &raw, "it appears twice"));
        }
        let expected_crc = entry.crc32();
        // Read raw and inflated here with flate2, so that zip needs none of its own
        // compression features.
        // Through zip's constants, which name the method whatever features zip is built
        // with (without its deflate feature, DEFLATE is `Unsupported(8)`).
        let method = entry.compression();
        let mut reader: Box<dyn Read + '_> = if method == zip::CompressionMethod::STORE {
            Box::new(entry)
        } else if method == zip::CompressionMethod::DEFLATE {
            Box::new(flate2::read::DeflateDecoder::new(entry))
        } else {
            return Err(refused(
                archive,
                &raw,
                format!("compressed with {method:?}; only stored and deflated entries are read"),
            ));
        };
        let mut checked = flate2::CrcReader::new(&mut reader);
        create_dir(dest)?;
        let target = dest.join(file);
        let (out, n) = stream_entry(&mut checked, &target, spec.max_entry_bytes, archive, &raw)?;
        if n != size {
            return Err(refused(
                archive,
                &raw,
                format!("{n} bytes where the zip directory says {size} (corrupt)"),
            ));
        }
        let crc = checked.crc().sum();
        if crc != expected_crc {
            return Err(refused(
                archive,
                &raw,
                format!(
                    "CRC-32 {crc:08x} where the zip directory says {expected_crc:08x} (corrupt)"
                ),
            ));
        }
        commit(out, &target)?;
        written.push(target);
    }
    missing(archive, spec, &done)
}

#[cfg(test)]
mod tests;
