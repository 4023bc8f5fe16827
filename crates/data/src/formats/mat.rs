//! MATLAB Level 5 MAT-files (what MATLAB's `save -v7` and `-v6`, and `scipy.io.savemat`
//! write): a reader of numeric arrays and a writer of `uint8` and `double` arrays.
//!
//! A Level 5 file is a 128-byte header (descriptive text, a subsystem offset, version
//! `0x0100` and the endian indicator `IM` or `MI`) followed by data elements. Each element
//! has a tag (type and byte count; in the *small data element* format both fit in four
//! bytes and up to four data bytes follow in the tag itself) and is padded to a multiple of
//! eight bytes. A variable is an `miMATRIX` element (array flags, dimensions, name, real
//! part), stored as it is or zlib-compressed inside an `miCOMPRESSED` element.
//!
//! The reader decodes every numeric class (`double`, `single`, `int8` … `uint64`) whatever
//! numeric type holds its values — MATLAB stores doubles compactly, e.g. whole numbers from
//! 0 to 255 as `miUINT8`. `uint8` arrays come back as bytes ([`MatData::U8`]), every other
//! numeric class as `f64` ([`MatData::F64`]; `int64` and `uint64` values above 2^53 lose
//! precision). Variables of other classes (cell, struct, char, sparse, objects) and complex
//! arrays are listed with their name and class but not decoded ([`MatData::NotRead`]).
//! Values are in MATLAB's column-major order: element `(i, j, k, …)` of an array with
//! dimensions `(d0, d1, d2, …)` is at `i + d0 * (j + d1 * (k + …))`.
//!
//! Both byte orders are read. The reader never trusts a size before checking it against
//! the bytes present, and refuses compressed variables that would inflate past
//! [`MAX_VARIABLE_BYTES`] or past what deflate can produce from the compressed bytes, so a
//! forged file cannot make it allocate more than a small multiple of its own size.
//! MATLAB 7.3 files (HDF5) and Level 4 files are refused with an error saying so.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{DataError, Result};
use crate::idx::write_atomic;

/// The largest decompressed variable the reader accepts (2 GiB; SVHN's largest variable,
/// `X` of `extra_32x32.mat`, is 1.6 GB).
pub const MAX_VARIABLE_BYTES: u64 = 2 << 30;

/// The descriptive text the writer puts at the start of its files.
pub const HEADER_TEXT: &str = "MATLAB 5.0 MAT-file Platform: posix, Created by: convlens-data";

const HEADER_LEN: usize = 128;
/// Deflate produces at most 1032 bytes per compressed byte (a 258-byte match in 2 bits).
const DEFLATE_MAX_RATIO: u64 = 1032;

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// The name of a data type, for messages.
fn type_name(ty: u32) -> String {
    let name = match ty {
        MI_INT8 => "miINT8",
        MI_UINT8 => "miUINT8",
        MI_INT16 => "miINT16",
        MI_UINT16 => "miUINT16",
        MI_INT32 => "miINT32",
        MI_UINT32 => "miUINT32",
        MI_SINGLE => "miSINGLE",
        MI_DOUBLE => "miDOUBLE",
        MI_INT64 => "miINT64",
        MI_UINT64 => "miUINT64",
        MI_MATRIX => "miMATRIX",
        MI_COMPRESSED => "miCOMPRESSED",
        16 => "miUTF8",
        17 => "miUTF16",
        18 => "miUTF32",
        _ => return format!("unknown data type {ty}"),
    };
    format!("{name} ({ty})")
}

/// Bytes per value of a numeric data type; `None` for other types.
fn numeric_size(ty: u32) -> Option<usize> {
    match ty {
        MI_INT8 | MI_UINT8 => Some(1),
        MI_INT16 | MI_UINT16 => Some(2),
        MI_INT32 | MI_UINT32 | MI_SINGLE => Some(4),
        MI_DOUBLE | MI_INT64 | MI_UINT64 => Some(8),
        _ => None,
    }
}

/// The class of a MATLAB array (`mxCLASS`), from the array flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MatClass {
    /// Cell array (1).
    Cell,
    /// Structure (2).
    Struct,
    /// Object (3).
    Object,
    /// Character array (4).
    Char,
    /// Sparse array (5).
    Sparse,
    /// `double` (6).
    Double,
    /// `single` (7).
    Single,
    /// `int8` (8).
    Int8,
    /// `uint8` (9).
    Uint8,
    /// `int16` (10).
    Int16,
    /// `uint16` (11).
    Uint16,
    /// `int32` (12).
    Int32,
    /// `uint32` (13).
    Uint32,
    /// `int64` (14).
    Int64,
    /// `uint64` (15).
    Uint64,
    /// Any other class code (function handles, opaque objects, …).
    Other(u8),
}

impl MatClass {
    fn from_code(code: u8) -> MatClass {
        match code {
            1 => MatClass::Cell,
            2 => MatClass::Struct,
            3 => MatClass::Object,
            4 => MatClass::Char,
            5 => MatClass::Sparse,
            6 => MatClass::Double,
            7 => MatClass::Single,
            8 => MatClass::Int8,
            9 => MatClass::Uint8,
            10 => MatClass::Int16,
            11 => MatClass::Uint16,
            12 => MatClass::Int32,
            13 => MatClass::Uint32,
            14 => MatClass::Int64,
            15 => MatClass::Uint64,
            other => MatClass::Other(other),
        }
    }

    /// The class code of the array flags.
    pub fn code(self) -> u8 {
        match self {
            MatClass::Cell => 1,
            MatClass::Struct => 2,
            MatClass::Object => 3,
            MatClass::Char => 4,
            MatClass::Sparse => 5,
            MatClass::Double => 6,
            MatClass::Single => 7,
            MatClass::Int8 => 8,
            MatClass::Uint8 => 9,
            MatClass::Int16 => 10,
            MatClass::Uint16 => 11,
            MatClass::Int32 => 12,
            MatClass::Uint32 => 13,
            MatClass::Int64 => 14,
            MatClass::Uint64 => 15,
            MatClass::Other(code) => code,
        }
    }

    /// Whether arrays of this class hold numbers (`double` … `uint64`).
    pub fn is_numeric(self) -> bool {
        (6..=15).contains(&self.code())
    }
}

impl std::fmt::Display for MatClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            MatClass::Cell => "cell array",
            MatClass::Struct => "struct",
            MatClass::Object => "object",
            MatClass::Char => "char array",
            MatClass::Sparse => "sparse array",
            MatClass::Double => "double",
            MatClass::Single => "single",
            MatClass::Int8 => "int8",
            MatClass::Uint8 => "uint8",
            MatClass::Int16 => "int16",
            MatClass::Uint16 => "uint16",
            MatClass::Int32 => "int32",
            MatClass::Uint32 => "uint32",
            MatClass::Int64 => "int64",
            MatClass::Uint64 => "uint64",
            MatClass::Other(code) => return write!(f, "class {code}"),
        };
        f.write_str(name)
    }
}

/// The values of a variable.
#[derive(Debug, Clone, PartialEq)]
pub enum MatData {
    /// The values of a `uint8` array.
    U8(Vec<u8>),
    /// The values of any other real numeric array, as `f64`.
    F64(Vec<f64>),
    /// Not decoded: a class this reader does not read (cell, struct, char, sparse, …) or a
    /// complex array; the text says which.
    NotRead(String),
}

/// One variable of a MAT-file.
#[derive(Debug, Clone, PartialEq)]
pub struct MatArray {
    /// The variable's name.
    pub name: String,
    /// Its dimensions (at least two for MATLAB arrays; empty for opaque objects).
    pub dims: Vec<usize>,
    /// Its class.
    pub class: MatClass,
    /// Its values, column-major.
    pub data: MatData,
}

impl MatArray {
    /// A `uint8` array; `data` holds the product of `dims` values, column-major.
    pub fn uint8(name: &str, dims: &[usize], data: Vec<u8>) -> Result<MatArray> {
        check_count(name, dims, data.len())?;
        Ok(MatArray {
            name: name.to_string(),
            dims: dims.to_vec(),
            class: MatClass::Uint8,
            data: MatData::U8(data),
        })
    }

    /// A `double` array; `data` holds the product of `dims` values, column-major.
    pub fn double(name: &str, dims: &[usize], data: Vec<f64>) -> Result<MatArray> {
        check_count(name, dims, data.len())?;
        Ok(MatArray {
            name: name.to_string(),
            dims: dims.to_vec(),
            class: MatClass::Double,
            data: MatData::F64(data),
        })
    }

    /// The dimensions as text, `32×32×3×2`.
    pub fn dims_text(&self) -> String {
        dims_text(&self.dims)
    }
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

fn check_count(name: &str, dims: &[usize], len: usize) -> Result<()> {
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if dims.len() < 2 || count != Some(len) {
        return Err(DataError::InvalidArgument {
            name: format!("MAT variable {name}"),
            value: format!("{len} values, dimensions {}", dims_text(dims)),
            problem:
                "a MATLAB array needs at least two dimensions whose product is the number of values"
                    .into(),
        });
    }
    Ok(())
}

/// The first variable called `name`.
pub fn find<'a>(vars: &'a [MatArray], name: &str) -> Option<&'a MatArray> {
    vars.iter().find(|v| v.name == name)
}

/// Reads the variables of a Level 5 MAT-file, in file order.
pub fn read_mat(path: &Path) -> Result<Vec<MatArray>> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        action: "cannot read",
        source,
    })?;
    parse_mat(path, &bytes)
}

/// Parses the bytes of a Level 5 MAT-file; `path` only names the file in errors.
pub fn parse_mat(path: &Path, bytes: &[u8]) -> Result<Vec<MatArray>> {
    let parser = Parser {
        path,
        endian: header(path, bytes)?,
    };
    parser.top_level(bytes)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

fn malformed(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn header(path: &Path, bytes: &[u8]) -> Result<Endian> {
    if bytes.len() < HEADER_LEN {
        return Err(malformed(
            path,
            format!(
                "not a MAT-file: the file is {} bytes long, too short for the {HEADER_LEN}-byte header of a MATLAB Level 5 MAT-file",
                bytes.len()
            ),
        ));
    }
    if bytes.starts_with(b"\x89HDF") || bytes[..4].contains(&0) {
        return Err(malformed(
            path,
            "not a MATLAB Level 5 MAT-file: the header does not start with text (a Level 4 MAT-file or another format); save it with MATLAB's -v7 or scipy.io.savemat",
        ));
    }
    let endian = match &bytes[126..128] {
        b"IM" => Endian::Little,
        b"MI" => Endian::Big,
        other => {
            return Err(malformed(
                path,
                format!(
                    "not a MATLAB Level 5 MAT-file: the endian indicator at byte 126 is {:?}, expected \"IM\" or \"MI\"",
                    String::from_utf8_lossy(other)
                ),
            ))
        }
    };
    let raw = [bytes[124], bytes[125]];
    let version = match endian {
        Endian::Little => u16::from_le_bytes(raw),
        Endian::Big => u16::from_be_bytes(raw),
    };
    match version {
        0x0100 => Ok(endian),
        0x0200 => Err(malformed(
            path,
            "a MATLAB 7.3 MAT-file (HDF5), which this reader does not read; save it with MATLAB's -v7 or scipy.io.savemat",
        )),
        v => Err(malformed(
            path,
            format!("MAT-file version {v:#06x} in the header, expected 0x0100 (Level 5)"),
        )),
    }
}

/// A data element: its type, its data, and where the next element starts.
struct Element<'a> {
    ty: u32,
    data: &'a [u8],
    /// Offset of the data within the buffer it was read from.
    start: usize,
    next: usize,
}

struct Parser<'p> {
    path: &'p Path,
    endian: Endian,
}

/// Where a matrix's values are.
enum Body<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Body<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Borrowed(b) => b,
            Body::Owned(v) => v,
        }
    }
}

impl Parser<'_> {
    fn err(&self, problem: impl Into<String>) -> DataError {
        malformed(self.path, problem)
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let raw = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        match self.endian {
            Endian::Little => u32::from_le_bytes(raw),
            Endian::Big => u32::from_be_bytes(raw),
        }
    }

    /// Reads the element at `pos` of `buf`; `what` and `within` name it in messages.
    /// `next` skips the padding that follows the data of regular elements (clamped to the
    /// buffer, for writers that leave it out at the end).
    fn element<'a>(
        &self,
        buf: &'a [u8],
        pos: usize,
        what: &str,
        within: &str,
    ) -> Result<Element<'a>> {
        let remaining = buf.len().saturating_sub(pos);
        if remaining < 8 {
            return Err(self.err(format!(
                "{what} at byte {pos} of {within}: only {remaining} bytes remain, too few for a data element tag of 8 bytes; the file is truncated"
            )));
        }
        let first = self.u32_at(buf, pos);
        if first >> 16 != 0 {
            // Small data element: type and byte count in the first four bytes.
            let ty = first & 0xffff;
            let size = (first >> 16) as usize;
            if size > 4 {
                return Err(self.err(format!(
                    "{what} at byte {pos} of {within}: a small data element of {} declares {size} bytes, at most 4 fit",
                    type_name(ty)
                )));
            }
            return Ok(Element {
                ty,
                data: &buf[pos + 4..pos + 4 + size],
                start: pos + 4,
                next: pos + 8,
            });
        }
        let ty = first;
        let size = self.u32_at(buf, pos + 4) as usize;
        let start = pos + 8;
        let end = match start.checked_add(size) {
            Some(end) if end <= buf.len() => end,
            _ => {
                return Err(self.err(format!(
                    "{what} at byte {pos} of {within}: the {} element declares {size} bytes but only {} remain; the file is truncated",
                    type_name(ty),
                    buf.len() - start
                )))
            }
        };
        // Padding makes the data a multiple of 8 bytes long (offsets in the file need not be
        // multiples of 8: compressed elements are not padded).
        let next = start
            .saturating_add(size.checked_next_multiple_of(8).unwrap_or(size))
            .min(buf.len());
        Ok(Element {
            ty,
            data: &buf[start..end],
            start,
            next,
        })
    }

    fn top_level(&self, bytes: &[u8]) -> Result<Vec<MatArray>> {
        let mut vars = Vec::new();
        let mut pos = HEADER_LEN;
        while pos < bytes.len() {
            if bytes.len() - pos < 8 && bytes[pos..].iter().all(|&b| b == 0) {
                break; // padding at the end of the file
            }
            // Elements are padded to 8 bytes, except compressed ones.
            let el = self.element(bytes, pos, "data element", "the file")?;
            match el.ty {
                MI_MATRIX => {
                    let within = format!("the variable at byte {pos}");
                    let array = self.matrix(Body::Borrowed(el.data), &within)?;
                    vars.push(array);
                }
                MI_COMPRESSED => {
                    vars.push(self.compressed(el.data, pos)?);
                    pos = el.start + el.data.len();
                    continue;
                }
                other => {
                    return Err(self.err(format!(
                        "data element at byte {pos} is of type {}; a MAT-file holds only miMATRIX and miCOMPRESSED elements at its top level",
                        type_name(other)
                    )))
                }
            }
            pos = el.next;
        }
        Ok(vars)
    }

    fn compressed(&self, data: &[u8], pos: usize) -> Result<MatArray> {
        let corrupt = |e: std::io::Error| {
            self.err(format!(
                "the zlib stream of the variable compressed at byte {pos} is corrupt: {e}"
            ))
        };
        let mut decoder = flate2::read::ZlibDecoder::new(data);
        let mut tag = Vec::with_capacity(8);
        (&mut decoder)
            .take(8)
            .read_to_end(&mut tag)
            .map_err(corrupt)?;
        if tag.len() < 8 {
            return Err(self.err(format!(
                "the zlib stream of the variable compressed at byte {pos} holds {} bytes, too few for a data element tag of 8 bytes; the file is truncated",
                tag.len()
            )));
        }
        let ty = self.u32_at(&tag, 0);
        if ty != MI_MATRIX {
            return Err(self.err(format!(
                "the variable compressed at byte {pos} holds an element of {}, expected miMATRIX (14)",
                type_name(ty)
            )));
        }
        let size = u64::from(self.u32_at(&tag, 4));
        let bound = (data.len() as u64)
            .saturating_mul(DEFLATE_MAX_RATIO)
            .min(MAX_VARIABLE_BYTES);
        if size > bound {
            return Err(self.err(format!(
                "the variable compressed at byte {pos} declares {size} bytes, more than {bound} ({}); a forged or corrupt file",
                if bound == MAX_VARIABLE_BYTES {
                    "the largest variable this reader accepts"
                } else {
                    "what deflate can produce from its compressed bytes"
                }
            )));
        }
        // Room for what the stream plausibly holds; more is allocated only as it arrives.
        let plausible = (data.len() as u64).saturating_mul(4).saturating_add(4096);
        let mut body = Vec::with_capacity(size.min(plausible) as usize);
        (&mut decoder)
            .take(size)
            .read_to_end(&mut body)
            .map_err(corrupt)?;
        if (body.len() as u64) < size {
            return Err(self.err(format!(
                "the zlib stream of the variable compressed at byte {pos} ends after {} of the {size} bytes its miMATRIX declares; the file is truncated",
                body.len()
            )));
        }
        // Read on to the end of the stream (a little way) so that zlib checks its checksum.
        std::io::copy(&mut (&mut decoder).take(1 << 20), &mut std::io::sink()).map_err(corrupt)?;
        self.matrix(
            Body::Owned(body),
            &format!("the variable compressed at byte {pos}"),
        )
    }

    /// Decodes the content of an `miMATRIX` element; `within` names it in messages
    /// (offsets in them count from the start of its content).
    fn matrix(&self, body: Body<'_>, within: &str) -> Result<MatArray> {
        let b = body.bytes();
        let at = |p: usize| format!(" at byte {p} of {within}");
        let flags = self.element(b, 0, "array flags", within)?;
        if flags.ty != MI_UINT32 || flags.data.len() != 8 {
            return Err(self.err(format!(
                "array flags{}: expected 8 bytes of miUINT32, found {} bytes of {}",
                at(0),
                flags.data.len(),
                type_name(flags.ty)
            )));
        }
        let word = self.u32_at(flags.data, 0);
        let class = MatClass::from_code((word & 0xff) as u8);
        let complex = word & 0x0800 != 0;
        let mut next = flags.next;
        let mut dims = Vec::new();
        if class != MatClass::Other(17) {
            let el = self.element(b, next, "dimensions", within)?;
            if el.ty != MI_INT32 || el.data.len() % 4 != 0 || el.data.len() < 8 {
                return Err(self.err(format!(
                    "dimensions{}: expected at least two miINT32 values, found {} bytes of {}",
                    at(next),
                    el.data.len(),
                    type_name(el.ty)
                )));
            }
            for i in 0..el.data.len() / 4 {
                let d = self.u32_at(el.data, i * 4) as i32;
                let d = usize::try_from(d).map_err(|_| {
                    self.err(format!("dimensions{}: dimension {i} is {d}", at(next)))
                })?;
                dims.push(d);
            }
            next = el.next;
        }
        let el = self.element(b, next, "array name", within)?;
        if el.ty != MI_INT8 {
            return Err(self.err(format!(
                "array name{}: expected miINT8 characters, found {}",
                at(next),
                type_name(el.ty)
            )));
        }
        // Latin-1, as scipy reads names.
        let name: String = el.data.iter().map(|&c| char::from(c)).collect();
        next = el.next;
        if !class.is_numeric() || complex {
            let what = if complex {
                format!("complex {class}")
            } else {
                class.to_string()
            };
            return Ok(MatArray {
                name,
                dims,
                class,
                data: MatData::NotRead(format!("a {what}, which is not read")),
            });
        }
        let count = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                self.err(format!(
                    "variable {name} ({within}): dimensions {} overflow",
                    dims_text(&dims)
                ))
            })?;
        let real = self.element(b, next, "real part", within)?;
        let real_ty = real.ty;
        let size = numeric_size(real_ty).ok_or_else(|| {
            self.err(format!(
                "variable {name}{}: its real part is of {}, not a numeric type",
                at(next),
                type_name(real_ty)
            ))
        })?;
        if Some(real.data.len()) != count.checked_mul(size) {
            return Err(self.err(format!(
                "variable {name}{}: its dimensions {} make {count} values but its real part holds {} bytes of {} ({} values)",
                at(next),
                dims_text(&dims),
                real.data.len(),
                type_name(real_ty),
                real.data.len() / size
            )));
        }
        let range = real.start..real.start + real.data.len();
        let data = if class == MatClass::Uint8 {
            if real_ty == MI_UINT8 {
                match body {
                    Body::Borrowed(b) => MatData::U8(b[range].to_vec()),
                    Body::Owned(mut v) => {
                        v.truncate(range.end);
                        v.drain(..range.start);
                        MatData::U8(v)
                    }
                }
            } else {
                let mut out = Vec::with_capacity(count);
                for (i, v) in self.values(real_ty, &b[range]).enumerate() {
                    if !(0.0..=255.0).contains(&v) || v.fract() != 0.0 {
                        return Err(self.err(format!(
                            "variable {name}{}: uint8 array holds {v} at index {i}",
                            at(next)
                        )));
                    }
                    out.push(v as u8);
                }
                MatData::U8(out)
            }
        } else {
            MatData::F64(self.values(real_ty, &b[range]).collect())
        };
        Ok(MatArray {
            name,
            dims,
            class,
            data,
        })
    }

    /// The values of numeric data of type `ty` (whose length is a multiple of its size).
    fn values<'a>(&self, ty: u32, data: &'a [u8]) -> impl Iterator<Item = f64> + 'a {
        let size = numeric_size(ty).unwrap_or(1);
        let little = self.endian == Endian::Little;
        data.chunks_exact(size).map(move |c| {
            let mut raw = [0u8; 8];
            raw[..size].copy_from_slice(c);
            if !little {
                raw[..size].reverse();
            }
            match ty {
                MI_INT8 => f64::from(raw[0] as i8),
                MI_UINT8 => f64::from(raw[0]),
                MI_INT16 => f64::from(i16::from_le_bytes([raw[0], raw[1]])),
                MI_UINT16 => f64::from(u16::from_le_bytes([raw[0], raw[1]])),
                MI_INT32 => f64::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
                MI_UINT32 => f64::from(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
                MI_SINGLE => f64::from(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
                MI_INT64 => i64::from_le_bytes(raw) as f64,
                MI_UINT64 => u64::from_le_bytes(raw) as f64,
                _ => f64::from_le_bytes(raw),
            }
        })
    }
}

/// Writes `vars` to `path` as a Level 5 MAT-file (through [`write_atomic`]), each variable
/// zlib-compressed if `compress` (as MATLAB's default `-v7` and `savemat(...,
/// do_compression=True)` do).
pub fn write_mat(path: &Path, vars: &[MatArray], compress: bool) -> Result<()> {
    write_atomic(path, &encode_mat(vars, compress)?)
}

/// The bytes of a Level 5 MAT-file holding `vars`, laid out as `scipy.io.savemat` lays them
/// out. Only `uint8` ([`MatData::U8`]) and `double` ([`MatData::F64`]) arrays can be written.
pub fn encode_mat(vars: &[MatArray], compress: bool) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    let mut text = HEADER_TEXT.as_bytes().to_vec();
    text.resize(116, b' ');
    out.extend_from_slice(&text);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&0x0100u16.to_le_bytes());
    out.extend_from_slice(b"IM");
    for var in vars {
        let matrix = encode_matrix(var)?;
        if compress {
            let mut enc =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            let packed = enc
                .write_all(&matrix)
                .and_then(|()| enc.finish())
                .map_err(|e| invalid(var, format!("cannot compress: {e}")))?;
            let len = u32::try_from(packed.len())
                .map_err(|_| invalid(var, "too large for a MAT-file".into()))?;
            out.extend_from_slice(&MI_COMPRESSED.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&packed);
        } else {
            out.extend_from_slice(&matrix);
        }
    }
    Ok(out)
}

fn invalid(var: &MatArray, problem: String) -> DataError {
    DataError::InvalidArgument {
        name: format!("MAT variable {}", var.name),
        value: format!("{} {}", var.dims_text(), var.class),
        problem,
    }
}

/// Appends a data element as scipy writes it: small format up to 4 bytes, padded to 8.
fn put_element(out: &mut Vec<u8>, ty: u32, data: &[u8]) {
    if data.len() <= 4 {
        out.extend_from_slice(&(ty | (data.len() as u32) << 16).to_le_bytes());
        out.extend_from_slice(data);
        out.resize(out.len() + 4 - data.len(), 0);
    } else {
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(8), 0);
    }
}

fn encode_matrix(var: &MatArray) -> Result<Vec<u8>> {
    if var.name.is_empty() || !var.name.is_ascii() || var.name.contains('\0') {
        return Err(invalid(
            var,
            "the name must be non-empty ASCII without NUL characters".into(),
        ));
    }
    let (class, real_ty, count, real): (u8, u32, usize, std::borrow::Cow<'_, [u8]>) =
        match &var.data {
            MatData::U8(v) => (9, MI_UINT8, v.len(), v.as_slice().into()),
            MatData::F64(v) => (
                6,
                MI_DOUBLE,
                v.len(),
                v.iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect::<Vec<u8>>()
                    .into(),
            ),
            MatData::NotRead(_) => {
                return Err(invalid(
                    var,
                    "only uint8 and double arrays can be written".into(),
                ))
            }
        };
    check_count(&var.name, &var.dims, count)?;
    let mut dims = Vec::with_capacity(4 * var.dims.len());
    for &d in &var.dims {
        let d = i32::try_from(d).map_err(|_| {
            invalid(
                var,
                format!("dimension {d} exceeds MATLAB's limit of 2^31 - 1"),
            )
        })?;
        dims.extend_from_slice(&d.to_le_bytes());
    }
    let mut m = Vec::with_capacity(real.len() + 64);
    m.extend_from_slice(&MI_MATRIX.to_le_bytes());
    m.extend_from_slice(&[0; 4]); // size, filled in below
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&u32::from(class).to_le_bytes());
    put_element(&mut m, MI_UINT32, &flags);
    put_element(&mut m, MI_INT32, &dims);
    put_element(&mut m, MI_INT8, var.name.as_bytes());
    if u32::try_from(real.len()).is_err() {
        return Err(invalid(
            var,
            "more than 4 GiB of values do not fit a MAT-file element".into(),
        ));
    }
    put_element(&mut m, real_ty, &real);
    let size =
        u32::try_from(m.len() - 8).map_err(|_| invalid(var, "too large for a MAT-file".into()))?;
    m[4..8].copy_from_slice(&size.to_le_bytes());
    Ok(m)
}
