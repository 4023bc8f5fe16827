//! Verified downloads: streamed to a temporary file, checked, then renamed into place.

use std::io::{Read, Write};

use md5::{Digest, Md5};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{DataError, Result};

/// Largest file accepted from a server (the largest dataset file is ~10 MB compressed).
const MAX_DOWNLOAD_BYTES: u64 = 512 << 20;

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("convlens/", env!("CARGO_PKG_VERSION")))
            .build(),
    )
}

/// Creates the folder `dest` goes into; returns `dest`'s file name for messages.
fn prepare(dest: &Path) -> Result<String> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        action: "cannot create the download folder",
        source,
    })?;
    Ok(dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default())
}

/// Streams the body of `url` into `sink` piece by piece, with a progress bar on stderr when
/// `progress` is set and stderr is a terminal. A server that announces, or sends, more than
/// `max_bytes` is cut off with an error that says so (counted here rather than left to the
/// HTTP client, so that the message says what happened).
fn stream(
    url: &str,
    name: &str,
    max_bytes: u64,
    progress: bool,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let fail = |reason: String| DataError::Download {
        url: url.to_string(),
        reason,
    };
    let mut response = agent().get(url).call().map_err(|e| fail(e.to_string()))?;
    let len = response.body().content_length();
    if let Some(len) = len.filter(|&len| len > max_bytes) {
        return Err(fail(format!(
            "the server announces {len} bytes, more than the {max_bytes} this file can have"
        )));
    }
    let bar = if progress {
        indicatif::ProgressBar::new(len.unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!("downloading {name}"));
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| fail(format!("the connection broke off: {e}")))?;
        if n == 0 {
            break;
        }
        total = total.saturating_add(n as u64);
        if total > max_bytes {
            return Err(fail(format!(
                "the server sent more than {max_bytes} bytes, the most this file can have; cut off"
            )));
        }
        sink(&buf[..n])?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Downloads `url` to `dest`.
///
/// The body is streamed into a temporary file next to `dest` (with a progress bar on stderr
/// when `progress` is set and stderr is a terminal), then `verify` is called on the
/// temporary file, and only if it succeeds is the file renamed to `dest`. On any failure —
/// HTTP error, connection closed early, failed verification — the temporary file is removed
/// and nothing is left at `dest`.
pub fn download_verified(
    url: &str,
    dest: &Path,
    verify: &dyn Fn(&Path) -> Result<()>,
    progress: bool,
) -> Result<()> {
    let name = prepare(dest)?;
    let dir = dest.parent().unwrap_or(Path::new("."));
    let tmp: PathBuf = dir.join(format!(".{name}.part-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(|source| DataError::Io {
            path: tmp.clone(),
            action: "cannot create",
            source,
        })?;
        let write_error = |source| DataError::Io {
            path: tmp.clone(),
            action: "cannot write",
            source,
        };
        stream(url, &name, MAX_DOWNLOAD_BYTES, progress, &mut |bytes| {
            file.write_all(bytes).map_err(write_error)
        })?;
        file.sync_all().map_err(write_error)?;
        drop(file);
        verify(&tmp).map_err(|e| DataError::Download {
            url: url.to_string(),
            reason: format!("the downloaded file was rejected: {e}"),
        })?;
        // The verifier reads a path, so the body is staged in `tmp` first; the verified bytes
        // then go through the one atomic writer (a copy of at most a few MB, negligible next
        // to the download) rather than a second hand-written rename.
        let install = |source| DataError::Io {
            path: dest.to_path_buf(),
            action: "cannot move the download into place",
            source,
        };
        let mut staged = std::fs::File::open(&tmp).map_err(install)?;
        let mut out = atomic_write_file::AtomicWriteFile::open(dest).map_err(install)?;
        std::io::copy(&mut staged, &mut out).map_err(install)?;
        out.commit().map_err(install)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Downloads `url` into `dest` (an archive of a dataset), checking its MD5 against `md5` as
/// the bytes arrive.
///
/// The body streams into an atomic writer next to `dest` and is committed only when all of
/// it arrived and its MD5 is `md5`. A server that announces, or sends, more than
/// `max_bytes` is cut off with an error. On any failure nothing is left at `dest` (a file
/// already there is left as it was).
pub(crate) fn download_md5(
    url: &str,
    dest: &Path,
    md5: &str,
    max_bytes: u64,
    progress: bool,
) -> Result<()> {
    let name = prepare(dest)?;
    let write_error = |source| DataError::Io {
        path: dest.to_path_buf(),
        action: "cannot write the download",
        source,
    };
    // Dropped without a commit on any error below: its temporary file is removed.
    let mut out = atomic_write_file::AtomicWriteFile::open(dest).map_err(write_error)?;
    let mut hasher = Md5::new();
    stream(url, &name, max_bytes, progress, &mut |bytes| {
        hasher.update(bytes);
        out.write_all(bytes).map_err(write_error)
    })?;
    let actual = hex(&hasher.finalize());
    if actual != md5 {
        let rejected = DataError::Checksum {
            path: dest.to_path_buf(),
            what: "downloaded archive",
            expected: md5.to_string(),
            actual,
        };
        return Err(DataError::Download {
            url: url.to_string(),
            reason: format!("the downloaded file was rejected: {rejected}"),
        });
    }
    out.commit().map_err(|source| DataError::Io {
        path: dest.to_path_buf(),
        action: "cannot move the download into place",
        source,
    })
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MD5 of a file, read in pieces (archives run to gigabytes).
pub(crate) fn md5_streamed(path: &Path) -> Result<String> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        action: "cannot read",
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}
