//! The IDX file format (LeCun's MNIST format): a validating reader and a writer.
//!
//! An IDX file is a big-endian header — two zero bytes, a type code (0x08 = unsigned byte),
//! the number of dimensions, then one `u32` per dimension — followed by the data. Files may
//! be gzip-compressed; compression is detected from the content (the gzip magic bytes),
//! never from the file name. Nothing is trusted before it is checked: the header's sizes are
//! checked against the bytes actually present before anything is allocated from them.

use std::io::{Read, Write};
use std::path::Path;

use md5::{Digest, Md5};

use crate::error::{DataError, IdxDefect, Result};

/// Magic number of an image file: unsigned bytes, 3 dimensions `[count, rows, columns]`.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of a multi-channel image file: unsigned bytes, 4 dimensions
/// `[count, channels, rows, columns]`.
pub const IMAGES_CHANNELS_MAGIC: u32 = 0x0000_0804;
/// Magic number of a label file: unsigned bytes, 1 dimension `[count]`.
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// The largest data section accepted (2 GiB): larger than any dataset this tool reads,
/// small enough that a forged header cannot make the reader ask for absurd amounts of memory.
pub const MAX_DATA_BYTES: u64 = 1 << 31;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images from an IDX file, kept as bytes (one `u8` per pixel, row-major, `[count, channels,
/// rows, columns]`).
#[derive(Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Channels per image (1 for every file with magic 2051).
    pub channels: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count × channels × rows × cols` bytes.
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for IdxImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxImages")
            .field("count", &self.count)
            .field("channels", &self.channels)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

/// Labels from an IDX file, one byte per item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxLabels {
    /// The labels.
    pub labels: Vec<u8>,
}

/// Checksums of a file that was read: MD5 of the decompressed content (what the published
/// MNIST checksums cover) and, for a gzip file, MD5 of the compressed bytes too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// MD5 of the decompressed bytes, lowercase hex.
    pub md5: String,
    /// MD5 of the gzip file itself, when the file was compressed.
    pub gzip_md5: Option<String>,
    /// Size of the decompressed content in bytes.
    pub bytes: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

struct Header {
    dims: Vec<usize>,
    len: usize,
    data_bytes: u64,
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" × ")
}

/// Parses the 4-byte magic and returns the number of dimensions it announces.
fn check_magic(magic: u32, kind: Kind) -> Result<usize, IdxDefect> {
    match (kind, magic) {
        (Kind::Images, IMAGES_MAGIC) => Ok(3),
        (Kind::Images, IMAGES_CHANNELS_MAGIC) => Ok(4),
        (Kind::Labels, LABELS_MAGIC) => Ok(1),
        (Kind::Images, found) => Err(IdxDefect::BadMagic {
            found,
            expected: format!("{IMAGES_MAGIC} (or {IMAGES_CHANNELS_MAGIC} with channels)"),
            what: "an image file",
        }),
        (Kind::Labels, found) => Err(IdxDefect::BadMagic {
            found,
            expected: LABELS_MAGIC.to_string(),
            what: "a label file",
        }),
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Parses a header from the start of `bytes` (which may hold only the header).
fn parse_header(bytes: &[u8], kind: Kind) -> Result<Header, IdxDefect> {
    if bytes.len() < 4 {
        return Err(IdxDefect::TooShortForHeader {
            len: bytes.len(),
            needed: 4,
        });
    }
    let ndims = check_magic(be_u32(&bytes[..4]), kind)?;
    let len = 4 + 4 * ndims;
    if bytes.len() < len {
        return Err(IdxDefect::TooShortForHeader {
            len: bytes.len(),
            needed: len,
        });
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| be_u32(&bytes[4 + 4 * i..8 + 4 * i]) as usize)
        .collect();
    if let Some(index) = dims.iter().position(|&d| d == 0) {
        return Err(IdxDefect::ZeroDimension { index });
    }
    let data_bytes = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_DATA_BYTES)
        .ok_or_else(|| IdxDefect::TooLarge {
            dims: dims_text(&dims),
            limit: MAX_DATA_BYTES,
        })?;
    Ok(Header {
        dims,
        len,
        data_bytes,
    })
}

fn check_length(header: &Header, actual: u64) -> Result<(), IdxDefect> {
    use std::cmp::Ordering;
    match actual.cmp(&header.data_bytes) {
        Ordering::Less => Err(IdxDefect::Truncated {
            declared: header.data_bytes,
            dims: dims_text(&header.dims),
            actual,
        }),
        Ordering::Greater => Err(IdxDefect::TrailingBytes {
            declared: header.data_bytes,
            dims: dims_text(&header.dims),
        }),
        Ordering::Equal => Ok(()),
    }
}

fn gzip_error(e: std::io::Error) -> IdxDefect {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        IdxDefect::Gzip("the compressed stream ends early (truncated download?)".into())
    } else {
        IdxDefect::Gzip(e.to_string())
    }
}

/// Decompresses (when needed) and validates; returns the whole decompressed file and its header.
fn decode(raw: Vec<u8>, kind: Kind) -> Result<(Vec<u8>, Header), IdxDefect> {
    if !raw.starts_with(&GZIP_MAGIC) {
        let header = parse_header(&raw, kind)?;
        check_length(&header, (raw.len() - header.len) as u64)?;
        return Ok((raw, header));
    }
    let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]);
    let mut head = Vec::with_capacity(20);
    (&mut decoder)
        .take(4)
        .read_to_end(&mut head)
        .map_err(gzip_error)?;
    if head.len() == 4 {
        let ndims = check_magic(be_u32(&head), kind)?;
        (&mut decoder)
            .take(4 * ndims as u64)
            .read_to_end(&mut head)
            .map_err(gzip_error)?;
    }
    let header = parse_header(&head, kind)?;
    // Grow with the data actually decompressed; reserve no more than the compressed input
    // can plausibly expand to, whatever the header claims.
    let total = header.len as u64 + header.data_bytes;
    let reserve = total.min(raw.len() as u64 * 8) as usize;
    let mut out = Vec::with_capacity(reserve);
    out.extend_from_slice(&head);
    (&mut decoder)
        .take(header.data_bytes + 1)
        .read_to_end(&mut out)
        .map_err(gzip_error)?;
    check_length(&header, (out.len() - header.len) as u64)?;
    Ok((out, header))
}

fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_with_digest(
    raw: Vec<u8>,
    kind: Kind,
) -> Result<(Vec<u8>, Header, FileDigest), IdxDefect> {
    let gzip_md5 = raw.starts_with(&GZIP_MAGIC).then(|| md5_hex(&raw));
    let (content, header) = decode(raw, kind)?;
    let digest = FileDigest {
        md5: md5_hex(&content),
        gzip_md5,
        bytes: content.len() as u64,
    };
    Ok((content, header, digest))
}

fn images_from(mut content: Vec<u8>, header: Header) -> IdxImages {
    let (channels, rows, cols) = match header.dims[..] {
        [_, c, r, w] => (c, r, w),
        [_, r, w] => (1, r, w),
        _ => unreachable!("check_magic only admits 3 or 4 image dimensions"),
    };
    content.drain(..header.len);
    IdxImages {
        count: header.dims[0],
        channels,
        rows,
        cols,
        pixels: content,
    }
}

/// Parses an image file's bytes (raw or gzip). Never panics, whatever the bytes.
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, IdxDefect> {
    let (content, header) = decode(bytes.to_vec(), Kind::Images)?;
    Ok(images_from(content, header))
}

/// Parses a label file's bytes (raw or gzip). Never panics, whatever the bytes.
pub fn parse_labels(bytes: &[u8]) -> Result<IdxLabels, IdxDefect> {
    let (mut content, header) = decode(bytes.to_vec(), Kind::Labels)?;
    content.drain(..header.len);
    Ok(IdxLabels { labels: content })
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        action: "cannot read",
        source,
    })
}

/// Reads and validates an image file; returns the images and the file's checksums.
pub fn read_images(path: &Path) -> Result<(IdxImages, FileDigest)> {
    let (content, header, digest) =
        decode_with_digest(read_file(path)?, Kind::Images).map_err(|defect| DataError::Format {
            path: path.to_path_buf(),
            defect,
        })?;
    Ok((images_from(content, header), digest))
}

/// Reads and validates a label file; returns the labels and the file's checksums.
pub fn read_labels(path: &Path) -> Result<(IdxLabels, FileDigest)> {
    let (mut content, header, digest) = decode_with_digest(read_file(path)?, Kind::Labels)
        .map_err(|defect| DataError::Format {
            path: path.to_path_buf(),
            defect,
        })?;
    content.drain(..header.len);
    Ok((IdxLabels { labels: content }, digest))
}

/// Encodes images as IDX bytes (magic 2051 for one channel, 2052 otherwise).
pub fn encode_images(images: &IdxImages) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + images.pixels.len());
    if images.channels == 1 {
        out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
        for d in [images.count, images.rows, images.cols] {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
    } else {
        out.extend_from_slice(&IMAGES_CHANNELS_MAGIC.to_be_bytes());
        for d in [images.count, images.channels, images.rows, images.cols] {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(&images.pixels);
    out
}

/// Encodes labels as IDX bytes (magic 2049).
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// Compresses bytes with gzip (modification time 0, so the output is reproducible).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .expect("writing into a Vec cannot fail")
}

/// Writes `bytes` to `path` atomically and durably: a temporary file in the same folder,
/// synced, renamed over `path`, then the folder synced (the `atomic-write-file` crate), so a
/// reader never sees a half-written file, even after a power loss.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |action: &'static str| {
        move |source| DataError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let mut file = atomic_write_file::AtomicWriteFile::open(path).map_err(io("cannot create"))?;
    file.write_all(bytes).map_err(io("cannot write"))?;
    file.commit().map_err(io("cannot rename into place"))
}
