//! Downloads against a loopback HTTP server started by the test itself.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use convlens_data::idx::{encode_images, gzip};
use convlens_data::synthetic::{generate, write_synthetic, SyntheticConfig};
use convlens_data::{
    download_verified, DataError, Dataset, DatasetId, Locator, Origin, Role, MNIST,
};

/// How the server answers one path.
#[derive(Clone)]
pub enum Reply {
    /// The whole body.
    Body(Vec<u8>),
    /// Declares the whole body's length, sends half of it, then closes the connection.
    CloseMidway(Vec<u8>),
}

/// Serves `routes` on 127.0.0.1 (an ephemeral port) for at most `connections` connections;
/// anything else gets 404. Returns the base URL.
pub fn serve(routes: HashMap<String, Reply>, connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let routes = Arc::new(routes);
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
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let _ = match routes.get(&path) {
                Some(Reply::Body(body)) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| stream.write_all(body)),
                Some(Reply::CloseMidway(body)) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| stream.write_all(&body[..body.len() / 2])),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    base
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn offline_locator(cache: &Path, base: &str) -> Locator {
    Locator {
        cache_dir: Some(cache.to_path_buf()),
        download: true,
        mirrors: Some(vec![base.to_string()]),
        ..Locator::default()
    }
}

#[test]
fn a_good_download_is_verified_then_moved_into_place() {
    let body = gzip(&encode_images(&generate(30, 28, 1).0));
    let base = serve(
        HashMap::from([("a.gz".to_string(), Reply::Body(body.clone()))]),
        1,
    );
    let dir = crate::tempdir();
    let dest = dir.path().join("a.gz");
    let checked = std::sync::atomic::AtomicBool::new(false);
    let verify = |p: &Path| {
        assert_ne!(p, dest, "verification must run before the file is in place");
        assert_eq!(std::fs::read(p).unwrap(), body);
        checked.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    };
    download_verified(&format!("{base}a.gz"), &dest, &verify, false).unwrap();
    assert!(checked.into_inner());
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(entries(dir.path()), vec!["a.gz"]);
}

#[test]
fn a_connection_closed_midway_leaves_nothing_behind() {
    let body = gzip(&encode_images(&generate(200, 28, 2).0));
    let base = serve(
        HashMap::from([("b.gz".to_string(), Reply::CloseMidway(body))]),
        1,
    );
    let dir = crate::tempdir();
    let dest = dir.path().join("b.gz");
    let err = download_verified(&format!("{base}b.gz"), &dest, &|_| Ok(()), false).unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err:?}");
    assert!(err.to_string().contains("b.gz"), "{err}");
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn a_missing_file_reports_the_http_status() {
    let base = serve(HashMap::new(), 1);
    let dir = crate::tempdir();
    let err = download_verified(
        &format!("{base}c.gz"),
        &dir.path().join("c.gz"),
        &|_| Ok(()),
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    assert!(entries(dir.path()).is_empty());
}

/// The mirror serves files that are valid IDX but not MNIST: every one is rejected by its
/// checksum and the cache stays empty.
#[test]
fn files_with_a_wrong_checksum_are_rejected_and_not_cached() {
    let src = crate::tempdir();
    write_synthetic(src.path(), &SyntheticConfig::default()).unwrap();
    let routes = Role::ALL
        .iter()
        .map(|r| {
            let name = format!("{}.gz", r.file_name());
            (
                name.clone(),
                Reply::Body(std::fs::read(src.path().join(&name)).unwrap()),
            )
        })
        .collect();
    let base = serve(routes, 8);
    let cache = crate::tempdir();
    let err = offline_locator(cache.path(), &base)
        .locate(&DatasetId::Known(&MNIST))
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("checksum mismatch"), "{message}");
    assert!(
        message.contains("6bbc9ace898e44ae57da46a324031adb"),
        "{message}"
    );
    assert!(
        entries(&cache.path().join("mnist")).is_empty(),
        "{:?}",
        entries(&cache.path().join("mnist"))
    );
}

/// End to end with the real MNIST files (when the machine has them): a mirror serving the
/// byte-exact content in a recompressed `.gz` is accepted by the content checksum.
#[test]
fn mnist_downloads_into_the_cache_and_loads() {
    let Some(mnist) = crate::shared_mnist() else {
        eprintln!("note: ../shared/data/mnist absent; skipping the MNIST download test");
        return;
    };
    let routes = Role::ALL
        .iter()
        .map(|r| {
            let name = format!("{}.gz", r.file_name());
            (
                name.clone(),
                Reply::Body(std::fs::read(mnist.join(&name)).unwrap()),
            )
        })
        .collect();
    let base = serve(routes, 8);
    let cache = crate::tempdir();
    let locator = offline_locator(cache.path(), &base);
    let data = Dataset::load(&DatasetId::Known(&MNIST), &locator).unwrap();
    assert_eq!(data.provenance.origin, Origin::Downloaded);
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!(
        entries(&cache.path().join("mnist")),
        vec![
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz"
        ]
    );
    // Found in the cache the second time; the server (8 connections, 4 used) is not needed.
    let again = Locator {
        download: false,
        ..locator
    };
    assert_eq!(
        again.locate(&DatasetId::Known(&MNIST)).unwrap().origin,
        Origin::Cache
    );
}
