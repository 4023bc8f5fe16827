//! Reading one dataset file and checking it against the registry's checksums.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::idx::{read_images, read_labels, FileDigest, IdxImages, IdxLabels};
use crate::registry::{FileSpec, Role};

/// How a file's identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The decompressed content matches the published MD5 (any compression is accepted).
    Content,
    /// The `.gz` file matches the published MD5 of the upstream archive.
    Archive,
    /// No checksum is known for this file (`idx:<DIR>` data, image folders, distributions
    /// without published per-file checksums).
    Unverified,
    /// The file differs from the published one and was used because unverified files were
    /// allowed.
    Allowed,
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verification::Content => "verified (content MD5)",
            Verification::Archive => "verified (archive MD5)",
            Verification::Unverified => "not verified (no published checksum)",
            Verification::Allowed => {
                "NOT the published file (used because unverified files were allowed)"
            }
        })
    }
}

/// One file a dataset was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Which file: `training images`, … for IDX files, the file name for other layouts.
    pub role: String,
    /// Where it was read.
    pub path: PathBuf,
    /// Its checksums.
    pub digest: FileDigest,
    /// Whether and how it was verified.
    pub verification: Verification,
}

/// The parsed content of one file.
#[derive(Debug)]
pub(crate) enum Content {
    Images(IdxImages),
    Labels(IdxLabels),
}

/// Checks a digest against a registry entry.
pub fn verify_digest(
    path: &Path,
    digest: &FileDigest,
    spec: Option<&FileSpec>,
) -> Result<Verification> {
    let Some(spec) = spec else {
        return Ok(Verification::Unverified);
    };
    if spec.md5 == Some(digest.md5.as_str()) {
        return Ok(Verification::Content);
    }
    if let (Some(expected), Some(actual)) = (spec.gzip_md5, &digest.gzip_md5) {
        if expected == actual {
            return Ok(Verification::Archive);
        }
    }
    Err(match (spec.md5, spec.gzip_md5) {
        (Some(expected), _) => DataError::Checksum {
            path: path.to_path_buf(),
            what: "decompressed content",
            expected: expected.to_string(),
            actual: digest.md5.clone(),
        },
        (None, Some(expected)) => DataError::Checksum {
            path: path.to_path_buf(),
            what: "gzip file; only the upstream .gz checksum is published, so keep the original .gz file or load the folder with idx:<DIR> unverified",
            expected: expected.to_string(),
            actual: digest.gzip_md5.clone().unwrap_or_else(|| format!("(not gzip; content MD5 {})", digest.md5)),
        },
        (None, None) => unreachable!("a FileSpec always carries a checksum"),
    })
}

/// Reads, parses and verifies one file.
pub(crate) fn read_and_verify(
    path: &Path,
    role: Role,
    spec: Option<&FileSpec>,
) -> Result<(Content, FileRecord)> {
    let (content, digest) = match role {
        Role::TrainImages | Role::TestImages => {
            let (i, d) = read_images(path)?;
            (Content::Images(i), d)
        }
        Role::TrainLabels | Role::TestLabels => {
            let (l, d) = read_labels(path)?;
            (Content::Labels(l), d)
        }
    };
    let verification = verify_digest(path, &digest, spec)?;
    Ok((
        content,
        FileRecord {
            role: role.to_string(),
            path: path.to_path_buf(),
            digest,
            verification,
        },
    ))
}
