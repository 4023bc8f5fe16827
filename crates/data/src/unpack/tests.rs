//! The archive path with the expected MD5 set by the test: the published archives cannot be
//! made here, so their specs are taken from [`Archive`] and only the MD5 (and, where the
//! test needs it, a cap) is replaced. The public path, with the published MD5s, is tested
//! for rejection in `tests/archives.rs`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};

use super::*;
use crate::archive::{Archive, ReadOptions};
use crate::formats::cifar;
use crate::formats::emnist::EmnistSplit;
use crate::locate::{Locator, Origin};
use crate::registry::DatasetId;
use crate::synthetic_formats::{write_synthetic_format, SyntheticFormat};
use crate::Dataset;

/// Serves `body` at every path on 127.0.0.1 for `connections` connections, with a
/// `Content-Length` or, when `length` is false, delimited by closing the connection.
/// Returns the base URL and the paths asked for.
fn serve(body: Vec<u8>, length: bool, connections: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            log.lock()
                .unwrap()
                .push(path.trim_start_matches('/').to_string());
            let head = if length {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
            } else {
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(&body));
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    (base, asked)
}

fn md5(bytes: &[u8]) -> String {
    crate::download::hex(&Md5::digest(bytes))
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A tar header for `path` (written as it is, `..` and `/` included), `size` bytes.
fn raw_header(path: &str, size: u64, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(kind);
    header.set_cksum();
    header
}

/// A `.tar.gz` of `entries` (`(path, bytes)`, paths written as they are).
fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (path, bytes) in entries {
        let header = raw_header(path, bytes.len() as u64, tar::EntryType::Regular);
        builder.append(&header, *bytes).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// The synthetic CIFAR-10 Python files under their archive's top folder, plus a readme
/// that is not extracted.
fn cifar10_entries(root: &Path) -> Vec<(String, Vec<u8>)> {
    write_synthetic_format(root, SyntheticFormat::Cifar10Python, 30, 20, 3).unwrap();
    let folder = cifar::CIFAR10_PYTHON_ARCHIVE.folder;
    let mut entries = vec![(format!("{folder}/readme.html"), b"<html></html>".to_vec())];
    for (name, _) in cifar::CIFAR10_PYTHON_FILES {
        let bytes = std::fs::read(root.join(folder).join(name)).unwrap();
        entries.push((format!("{folder}/{name}"), bytes));
    }
    entries
}

fn cifar10_tar_gz(root: &Path) -> Vec<u8> {
    let entries = cifar10_entries(root);
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    tar_gz(&refs)
}

/// CIFAR-10's spec, expecting the MD5 of `body`.
fn cifar10_spec(body: &[u8]) -> ArchiveSpec {
    let mut spec = Archive::Cifar10.archive_download().unwrap();
    spec.md5 = md5(body);
    spec
}

fn cifar10_dirs(cache: &Path) -> (PathBuf, PathBuf) {
    let archive_dir = cache.join("cifar10");
    let dest = archive_dir.join(cifar::CIFAR10_PYTHON_ARCHIVE.folder);
    (archive_dir, dest)
}

#[test]
fn the_published_specs_name_the_published_archives() {
    let spec = Archive::Cifar10.archive_download().unwrap();
    assert_eq!(spec.md5, cifar::CIFAR10_PYTHON_ARCHIVE.md5);
    assert_eq!(spec.file, "cifar-10-python.tar.gz");
    assert_eq!(spec.entries.len(), 7);
    assert!(spec.entries.contains(&(
        "cifar-10-batches-py/data_batch_1".into(),
        "data_batch_1".into()
    )));
    let stl = Archive::Stl10.archive_download().unwrap();
    assert_eq!(stl.md5, crate::formats::stl10::STL10_ARCHIVE_MD5);
    assert!(
        stl.max_archive_bytes > 2_640_397_119,
        "STL-10's archive must fit its cap"
    );
    assert!(!stl.entries.iter().any(|(e, _)| e.contains("unlabeled")));
    let emnist = Archive::Emnist(EmnistSplit::Digits)
        .archive_download()
        .unwrap();
    assert_eq!(emnist.packing, Packing::Zip);
    assert!(emnist.max_archive_bytes > 561_753_746);
    assert!(emnist.entries.contains(&(
        "gzip/emnist-digits-train-images-idx3-ubyte.gz".into(),
        "emnist-digits-train-images-idx3-ubyte.gz".into()
    )));
    for single in [Archive::Svhn, Archive::Usps, Archive::Qmnist] {
        assert!(single.archive_download().is_none());
    }
}

#[test]
fn cifar10_is_downloaded_verified_extracted_and_loads_from_the_cache() {
    let src = tempfile::tempdir().unwrap();
    let body = cifar10_tar_gz(src.path());
    let (base, asked) = serve(body.clone(), true, 1);
    let cache = tempfile::tempdir().unwrap();
    let (archive_dir, dest) = cifar10_dirs(cache.path());
    fetch_and_extract(
        &cifar10_spec(&body),
        &archive_dir,
        &[],
        &dest,
        Some(&base),
        false,
    )
    .unwrap();
    assert_eq!(*asked.lock().unwrap(), vec!["cifar-10-python.tar.gz"]);
    let mut expected: Vec<String> = cifar::CIFAR10_PYTHON_FILES
        .iter()
        .map(|(f, _)| format!("cifar-10-batches-py/{f}"))
        .collect();
    expected.push("cifar-10-python.tar.gz".into());
    expected.sort();
    assert_eq!(files(&archive_dir), expected, "the readme is not extracted");
    for (name, _) in cifar::CIFAR10_PYTHON_FILES {
        let written = src.path().join("cifar-10-batches-py").join(name);
        assert_eq!(
            std::fs::read(dest.join(name)).unwrap(),
            std::fs::read(written).unwrap()
        );
    }
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: false,
        ..Locator::default()
    };
    let options = ReadOptions {
        unverified: true,
        ..ReadOptions::default()
    };
    let data =
        Dataset::load_with(&DatasetId::Archive(Archive::Cifar10), &locator, &options).unwrap();
    assert_eq!(data.provenance.origin, Origin::Cache);
    assert_eq!((data.train.len(), data.test.len()), (30, 20));

    // The archive is kept: a removed file is extracted again with no server (its one
    // connection is used).
    std::fs::remove_file(dest.join("test_batch")).unwrap();
    fetch_and_extract(
        &cifar10_spec(&body),
        &archive_dir,
        &[],
        &dest,
        Some(&base),
        false,
    )
    .unwrap();
    assert_eq!(files(&archive_dir), expected);
}

#[test]
fn a_kept_archive_that_no_longer_matches_is_downloaded_again() {
    let src = tempfile::tempdir().unwrap();
    let body = cifar10_tar_gz(src.path());
    let (base, asked) = serve(body.clone(), true, 1);
    let cache = tempfile::tempdir().unwrap();
    let (archive_dir, dest) = cifar10_dirs(cache.path());
    std::fs::create_dir_all(&archive_dir).unwrap();
    std::fs::write(archive_dir.join("cifar-10-python.tar.gz"), b"damaged").unwrap();
    fetch_and_extract(
        &cifar10_spec(&body),
        &archive_dir,
        &[],
        &dest,
        Some(&base),
        false,
    )
    .unwrap();
    assert_eq!(asked.lock().unwrap().len(), 1);
    assert_eq!(
        std::fs::read(archive_dir.join("cifar-10-python.tar.gz")).unwrap(),
        body
    );
}

/// Extracts a hand-made archive at `archive_dir/<spec.file>` and returns the error; nothing
/// may be extracted, in the folder or outside it.
fn refused_tar(entries: &[(&str, &[u8])], kinds: &[tar::EntryType]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let (archive_dir, dest) = cifar10_dirs(&cache.path().join("cache"));
    std::fs::create_dir_all(&archive_dir).unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for ((path, bytes), kind) in entries.iter().zip(kinds) {
        let mut header = raw_header(path, bytes.len() as u64, *kind);
        if kind.is_symlink() || kind.is_hard_link() {
            header.set_size(0);
            header.set_link_name("/etc/passwd").unwrap();
            header.set_cksum();
            builder.append(&header, &[][..]).unwrap();
        } else {
            builder.append(&header, *bytes).unwrap();
        }
    }
    let body = builder.into_inner().unwrap().finish().unwrap();
    let spec = cifar10_spec(&body);
    let archive = archive_dir.join(&spec.file);
    std::fs::write(&archive, &body).unwrap();
    let err = extract(&spec, &archive, &dest, &archive_dir, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cifar-10-python.tar.gz"), "{err}");
    assert_eq!(
        files(cache.path()),
        vec!["cache/cifar10/cifar-10-python.tar.gz"],
        "{err}"
    );
    err
}

fn good_entries() -> Vec<(String, Vec<u8>)> {
    cifar::CIFAR10_PYTHON_FILES
        .iter()
        .map(|(f, _)| (format!("cifar-10-batches-py/{f}"), b"data".to_vec()))
        .collect()
}

fn with_good(extra: (&str, &[u8]), first: bool) -> Vec<(String, Vec<u8>)> {
    let mut entries = good_entries();
    let extra = (extra.0.to_string(), extra.1.to_vec());
    if first {
        entries.insert(0, extra);
    } else {
        entries.insert(3, extra);
    }
    entries
}

fn refs(entries: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    entries
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect()
}

#[test]
fn entries_going_up_a_folder_are_refused_by_name() {
    for path in [
        "../evil",
        "cifar-10-batches-py/../../evil",
        "cifar-10-batches-py/..\\..\\evil",
    ] {
        let entries = with_good((path, b"pwned"), false);
        let kinds = vec![tar::EntryType::Regular; entries.len()];
        let err = refused_tar(&refs(&entries), &kinds);
        assert!(err.contains(path) && err.contains(".."), "{path}: {err}");
    }
}

#[test]
fn absolute_entries_are_refused() {
    let entries = with_good(("/tmp/evil", b"pwned"), true);
    let kinds = vec![tar::EntryType::Regular; entries.len()];
    let err = refused_tar(&refs(&entries), &kinds);
    assert!(
        err.contains("/tmp/evil") && err.contains("absolute"),
        "{err}"
    );
}

#[test]
fn links_are_refused_even_under_a_wanted_name() {
    for kind in [tar::EntryType::Symlink, tar::EntryType::Link] {
        // The link stands where a wanted file would be, and before the real one.
        let entries = with_good(("cifar-10-batches-py/data_batch_1", b""), true);
        let mut kinds = vec![tar::EntryType::Regular; entries.len()];
        kinds[0] = kind;
        let err = refused_tar(&refs(&entries), &kinds);
        assert!(
            err.contains("data_batch_1") && err.contains("link"),
            "{err}"
        );
    }
}

#[test]
fn special_files_are_refused() {
    let entries = with_good(("cifar-10-batches-py/fifo", b""), false);
    let mut kinds = vec![tar::EntryType::Regular; entries.len()];
    kinds[3] = tar::EntryType::Fifo;
    let err = refused_tar(&refs(&entries), &kinds);
    assert!(err.contains("fifo") && err.contains("special"), "{err}");
}

#[test]
fn an_entry_larger_than_its_cap_is_refused_and_what_was_extracted_removed() {
    let mut entries = good_entries();
    // After three files that are written, then removed again.
    entries[3].1 = vec![7u8; (64 << 20) + 1];
    let kinds = vec![tar::EntryType::Regular; entries.len()];
    let err = refused_tar(&refs(&entries), &kinds);
    assert!(
        err.contains("data_batch_4") && err.contains("more than"),
        "{err}"
    );
}

#[test]
fn an_archive_without_a_wanted_file_is_refused_by_name() {
    let mut entries = good_entries();
    entries.remove(5);
    let kinds = vec![tar::EntryType::Regular; entries.len()];
    let err = refused_tar(&refs(&entries), &kinds);
    assert!(
        err.contains("does not hold cifar-10-batches-py/test_batch"),
        "{err}"
    );
}

#[test]
fn a_truncated_tar_gz_is_refused_and_leaves_no_file() {
    let src = tempfile::tempdir().unwrap();
    let body = cifar10_tar_gz(src.path());
    // Cut inside the last batch, and just before the gzip trailer (all the tar present but
    // the stream's end and checksum).
    for cut in [body.len() * 3 / 4, body.len() - 4] {
        let truncated = &body[..cut];
        let cache = tempfile::tempdir().unwrap();
        let (archive_dir, dest) = cifar10_dirs(cache.path());
        std::fs::create_dir_all(&archive_dir).unwrap();
        let spec = cifar10_spec(truncated);
        let archive = archive_dir.join(&spec.file);
        std::fs::write(&archive, truncated).unwrap();
        let err = extract(&spec, &archive, &dest, &archive_dir, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cifar-10-python.tar.gz"), "{err}");
        assert!(
            err.contains("truncated"),
            "cut at {cut} of {}: {err}",
            body.len()
        );
        assert_eq!(files(cache.path()), vec!["cifar10/cifar-10-python.tar.gz"]);
    }
}

#[test]
fn a_body_beyond_the_cap_is_cut_off_and_nothing_is_kept() {
    for length in [true, false] {
        let (base, _) = serve(vec![1u8; 200_000], length, 1);
        let cache = tempfile::tempdir().unwrap();
        let (archive_dir, dest) = cifar10_dirs(cache.path());
        let mut spec = cifar10_spec(b"");
        spec.max_archive_bytes = 100_000;
        let err = fetch_and_extract(&spec, &archive_dir, &[], &dest, Some(&base), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{base}cifar-10-python.tar.gz")),
            "{err}"
        );
        assert!(
            err.contains("more than the 100000") || err.contains("more than 100000"),
            "{err}"
        );
        if !length {
            assert!(err.contains("cut off"), "{err}");
        }
        assert!(files(cache.path()).is_empty(), "{:?}", files(cache.path()));
    }
}

/// A zip file of `(name, bytes, deflated, symlink)`, written by hand so that the test needs
/// no zip writer features (and can write what a writer would refuse).
fn zip_bytes(entries: &[(&str, &[u8], bool, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, bytes, deflated, symlink) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        let data = if *deflated {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(bytes).unwrap();
            enc.finish().unwrap()
        } else {
            bytes.to_vec()
        };
        let method: u16 = if *deflated { 8 } else { 0 };
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&method.to_le_bytes());
            v.extend_from_slice(&0u32.to_le_bytes()); // time, date
            v.extend_from_slice(&crc.sum().to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by: Unix
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        let mode: u32 = if *symlink { 0o120777 } else { 0o100644 };
        central.extend_from_slice(&(mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // disks
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment
    out
}

/// The synthetic EMNIST files of `splits`, gzipped, as `gzip/<name>.gz` (half stored, half
/// deflated, as a zip tool may leave them), with a folder entry, a mapping file and another
/// split's file that are not extracted.
fn emnist_zip(root: &Path, splits: &[EmnistSplit]) -> Vec<u8> {
    let mut entries: Vec<(String, Vec<u8>, bool)> = vec![
        ("gzip/".into(), Vec::new(), false),
        (
            "gzip/emnist-letters-mapping.txt".into(),
            b"1 65 97\n".to_vec(),
            true,
        ),
        (
            "gzip/emnist-byclass-train-images-idx3-ubyte.gz".into(),
            crate::idx::gzip(b"not wanted"),
            false,
        ),
    ];
    for &split in splits {
        write_synthetic_format(root, SyntheticFormat::Emnist(split), 40, 20, 5).unwrap();
        for (i, (train, images)) in [(true, true), (true, false), (false, true), (false, false)]
            .into_iter()
            .enumerate()
        {
            let name = split.file_name(train, images);
            let raw = std::fs::read(root.join("EMNIST/raw").join(&name)).unwrap();
            entries.push((
                format!("gzip/{name}.gz"),
                crate::idx::gzip(&raw),
                i % 2 == 0,
            ));
        }
    }
    let refs: Vec<(&str, &[u8], bool, bool)> = entries
        .iter()
        .map(|(n, b, d)| (n.as_str(), b.as_slice(), *d, false))
        .collect();
    zip_bytes(&refs)
}

#[test]
fn emnist_is_extracted_from_its_zip_into_emnist_raw_and_loads() {
    let src = tempfile::tempdir().unwrap();
    let body = emnist_zip(src.path(), &[EmnistSplit::Letters]);
    let (base, asked) = serve(body.clone(), true, 1);
    let cache = tempfile::tempdir().unwrap();
    let archive = Archive::Emnist(EmnistSplit::Letters);
    let mut spec = archive.archive_download().unwrap();
    spec.md5 = md5(&body);
    let archive_dir = cache.path().join("emnist-letters");
    let dest = archive_dir.join("EMNIST/raw");
    fetch_and_extract(&spec, &archive_dir, &[], &dest, Some(&base), false).unwrap();
    assert_eq!(*asked.lock().unwrap(), vec!["gzip.zip"]);
    assert_eq!(
        files(&archive_dir),
        vec![
            "EMNIST/raw/emnist-letters-test-images-idx3-ubyte.gz",
            "EMNIST/raw/emnist-letters-test-labels-idx1-ubyte.gz",
            "EMNIST/raw/emnist-letters-train-images-idx3-ubyte.gz",
            "EMNIST/raw/emnist-letters-train-labels-idx1-ubyte.gz",
            "gzip.zip",
        ]
    );
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: false,
        ..Locator::default()
    };
    let data = Dataset::load_with(
        &DatasetId::Archive(archive),
        &locator,
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(data.provenance.origin, Origin::Cache);
    assert_eq!((data.train.len(), data.test.len()), (40, 20));
    let written = Dataset::load_with(
        &DatasetId::Archive(archive),
        &Locator {
            data_dir: Some(src.path().to_path_buf()),
            ..Locator::default()
        },
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(data.train.labels(), written.train.labels());
    assert_eq!(data.test.image(3), written.test.image(3));
}

fn refused_zip(entries: &[(&str, &[u8], bool, bool)]) -> String {
    let body = zip_bytes(entries);
    let cache = tempfile::tempdir().unwrap();
    let archive_dir = cache.path().join("emnist-digits");
    std::fs::create_dir_all(&archive_dir).unwrap();
    let mut spec = Archive::Emnist(EmnistSplit::Digits)
        .archive_download()
        .unwrap();
    spec.md5 = md5(&body);
    let archive = archive_dir.join("gzip.zip");
    std::fs::write(&archive, &body).unwrap();
    let err = extract(
        &spec,
        &archive,
        &archive_dir.join("EMNIST/raw"),
        &archive_dir,
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("gzip.zip"), "{err}");
    assert_eq!(files(cache.path()), vec!["emnist-digits/gzip.zip"], "{err}");
    err
}

fn digits_entries() -> Vec<(String, Vec<u8>)> {
    let split = EmnistSplit::Digits;
    [(true, true), (true, false), (false, true), (false, false)]
        .into_iter()
        .map(|(t, i)| (format!("gzip/{}.gz", split.file_name(t, i)), b"x".to_vec()))
        .collect()
}

#[test]
fn zip_entries_going_up_or_absolute_or_links_are_refused() {
    let good = digits_entries();
    for (name, symlink, words) in [
        ("../../evil", false, ".."),
        ("gzip/../../../evil", false, ".."),
        ("/etc/evil", false, "absolute"),
        (
            "gzip/emnist-digits-train-images-idx3-ubyte.gz",
            true,
            "link",
        ),
    ] {
        let mut entries: Vec<(&str, &[u8], bool, bool)> = good
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice(), false, false))
            .collect();
        if symlink {
            // In place of the wanted file of that name (zip keeps one entry per name).
            entries[0] = (name, b"/etc/passwd", false, true);
        } else {
            entries.insert(2, (name, b"pwned", false, false));
        }
        let err = refused_zip(&entries);
        assert!(err.contains(name) && err.contains(words), "{name}: {err}");
    }
}

#[test]
fn a_zip_entry_whose_crc_differs_is_refused() {
    let good = digits_entries();
    let entries: Vec<(&str, &[u8], bool, bool)> = good
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice(), true, false))
        .collect();
    let mut body = zip_bytes(&entries);
    // The first entry's data (after its 30-byte header and name) altered.
    let at = 30 + good[0].0.len();
    body[at] ^= 0x01;
    let cache = tempfile::tempdir().unwrap();
    let archive = cache.path().join("gzip.zip");
    std::fs::write(&archive, &body).unwrap();
    let mut spec = Archive::Emnist(EmnistSplit::Digits)
        .archive_download()
        .unwrap();
    spec.md5 = md5(&body);
    let err = extract(
        &spec,
        &archive,
        &cache.path().join("EMNIST/raw"),
        cache.path(),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains(&good[0].0), "{err}");
    assert_eq!(files(cache.path()), vec!["gzip.zip"]);
}

#[test]
fn a_truncated_zip_is_refused() {
    let src = tempfile::tempdir().unwrap();
    let body = emnist_zip(src.path(), &[EmnistSplit::Letters]);
    let cache = tempfile::tempdir().unwrap();
    let archive_dir = cache.path().join("emnist-letters");
    std::fs::create_dir_all(&archive_dir).unwrap();
    let archive = archive_dir.join("gzip.zip");
    std::fs::write(&archive, &body[..body.len() / 2]).unwrap();
    let spec = Archive::Emnist(EmnistSplit::Letters)
        .archive_download()
        .unwrap();
    let err = extract(
        &spec,
        &archive,
        &archive_dir.join("EMNIST/raw"),
        &archive_dir,
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("gzip.zip") && err.contains("zip"), "{err}");
    assert_eq!(files(cache.path()), vec!["emnist-letters/gzip.zip"]);
}

fn unverified() -> ReadOptions {
    ReadOptions {
        unverified: true,
        ..ReadOptions::default()
    }
}

/// Through the locator, as `Dataset::load` goes: the archive from the mirror into
/// `<cache>/cifar10/`, its files into `<cache>/cifar10/cifar-10-batches-py/`, read from there
/// (unverified: they are not the published files); found in the cache the next time.
#[test]
fn the_locator_downloads_and_extracts_into_the_first_layouts_folder() {
    let src = tempfile::tempdir().unwrap();
    let body = cifar10_tar_gz(src.path());
    let (base, asked) = serve(body.clone(), true, 1);
    let cache = tempfile::tempdir().unwrap();
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: true,
        mirrors: Some(vec![base]),
        ..Locator::default()
    };
    let found = locator
        .locate_archive_from(&Archive::Cifar10, Some(cifar10_spec(&body)))
        .unwrap();
    assert_eq!(found.origin, Origin::Downloaded);
    assert_eq!(found.dir, cache.path().join("cifar10/cifar-10-batches-py"));
    assert_eq!(*asked.lock().unwrap(), vec!["cifar-10-python.tar.gz"]);
    let published =
        crate::archive::read_archive(&Archive::Cifar10, &found, &ReadOptions::default())
            .unwrap_err()
            .to_string();
    assert!(published.contains("data_batch_1"), "{published}");
    let (loaded, records) =
        crate::archive::read_archive(&Archive::Cifar10, &found, &unverified()).unwrap();
    assert_eq!(records.len(), 7);
    drop(loaded);
    let again = locator
        .locate_archive_from(&Archive::Cifar10, Some(cifar10_spec(&body)))
        .unwrap();
    assert_eq!(again.origin, Origin::Cache);
}

/// EMNIST's splits share one archive: a split asked for after another is extracted from the
/// archive kept in the other's cache folder, with no download (the server is gone).
#[test]
fn emnist_splits_share_the_kept_archive() {
    let src = tempfile::tempdir().unwrap();
    let body = emnist_zip(src.path(), &[EmnistSplit::Letters, EmnistSplit::Digits]);
    let (base, asked) = serve(body.clone(), true, 1);
    let cache = tempfile::tempdir().unwrap();
    let locator = Locator {
        cache_dir: Some(cache.path().to_path_buf()),
        download: true,
        mirrors: Some(vec![base]),
        ..Locator::default()
    };
    let spec = |split| {
        let mut spec = Archive::Emnist(split).archive_download().unwrap();
        spec.md5 = md5(&body);
        spec
    };
    for split in [EmnistSplit::Letters, EmnistSplit::Digits] {
        let archive = Archive::Emnist(split);
        let found = locator
            .locate_archive_from(&archive, Some(spec(split)))
            .unwrap();
        assert_eq!(found.origin, Origin::Downloaded);
        let (loaded, _) =
            crate::archive::read_archive(&archive, &found, &ReadOptions::default()).unwrap();
        assert_eq!(loaded.train.len(), 40, "{archive}");
    }
    assert_eq!(asked.lock().unwrap().len(), 1);
    assert_eq!(
        files(&cache.path().join("emnist-digits")),
        vec![
            "EMNIST/raw/emnist-digits-test-images-idx3-ubyte.gz",
            "EMNIST/raw/emnist-digits-test-labels-idx1-ubyte.gz",
            "EMNIST/raw/emnist-digits-train-images-idx3-ubyte.gz",
            "EMNIST/raw/emnist-digits-train-labels-idx1-ubyte.gz",
        ]
    );
}

/// Every `.tar.gz` dataset through the locator, from a synthetic copy packed as published
/// (its top folder, plus a file the layout does not read): what the reader needs is
/// extracted, and it reads.
#[test]
fn every_tar_gz_dataset_extracts_what_its_reader_needs() {
    for (format, archive, folder) in [
        (
            SyntheticFormat::Cifar10Python,
            Archive::Cifar10,
            cifar::CIFAR10_PYTHON_ARCHIVE.folder,
        ),
        (
            SyntheticFormat::Cifar100Python,
            Archive::Cifar100,
            cifar::CIFAR100_PYTHON_ARCHIVE.folder,
        ),
        (
            SyntheticFormat::Stl10,
            Archive::Stl10,
            crate::formats::stl10::STL10_FOLDER,
        ),
    ] {
        let src = tempfile::tempdir().unwrap();
        write_synthetic_format(src.path(), format, 30, 20, 9).unwrap();
        std::fs::write(src.path().join(folder).join("unlabeled_X.bin"), [0u8; 64]).unwrap();
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all(folder, src.path().join(folder)).unwrap();
        let body = tar.into_inner().unwrap().finish().unwrap();
        let mut spec = archive.archive_download().unwrap();
        spec.md5 = md5(&body);
        let (base, _) = serve(body, true, 1);
        let cache = tempfile::tempdir().unwrap();
        let locator = Locator {
            cache_dir: Some(cache.path().to_path_buf()),
            download: true,
            mirrors: Some(vec![base]),
            ..Locator::default()
        };
        let found = locator
            .locate_archive_from(&archive, Some(spec))
            .unwrap_or_else(|e| panic!("{archive}: {e}"));
        let (loaded, _) = crate::archive::read_archive(&archive, &found, &unverified())
            .unwrap_or_else(|e| panic!("{archive}: {e}"));
        assert_eq!(loaded.train.len(), 30, "{archive}");
        assert!(
            !found.dir.join("unlabeled_X.bin").exists(),
            "{archive}: a file no layout reads was extracted"
        );
    }
}

/// A stream that unpacks to more than its cap (a gzip bomb, with entries that are not even
/// extracted) is cut off, naming the cap.
#[test]
fn an_archive_unpacking_beyond_its_cap_is_refused() {
    let src = tempfile::tempdir().unwrap();
    let body = cifar10_tar_gz(src.path());
    for cap in [100_000, 2_000] {
        let cache = tempfile::tempdir().unwrap();
        let (archive_dir, dest) = cifar10_dirs(cache.path());
        std::fs::create_dir_all(&archive_dir).unwrap();
        let mut spec = cifar10_spec(&body);
        spec.max_unpacked_bytes = cap;
        let archive = archive_dir.join(&spec.file);
        std::fs::write(&archive, &body).unwrap();
        let err = extract(&spec, &archive, &dest, &archive_dir, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cifar-10-python.tar.gz"), "{err}");
        assert!(err.contains(&format!("more than {cap} bytes")), "{err}");
        assert!(!err.contains("truncated"), "{err}");
        assert_eq!(files(cache.path()), vec!["cifar10/cifar-10-python.tar.gz"]);
    }
}
