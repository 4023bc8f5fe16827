//! A Python pickle reader that executes nothing, for the CIFAR pickles.
//!
//! Python's `pickle.load` runs whatever function a file names; this reader instead
//! *interprets* the few opcodes that dictionaries of lists, strings and numpy arrays use
//! (protocols 2 to 5, as Python 2's `cPickle` and Python 3 with numpy 1 or 2 write them),
//! and builds a [`Value`] tree. The only functions a file may name are numpy's array and
//! dtype reconstruction (`numpy.core.multiarray._reconstruct` / `scalar`, its numpy 2
//! spelling `numpy._core.multiarray`, `numpy.ndarray`, `numpy.dtype`,
//! `numpy[._]core.numeric._frombuffer` of protocol 5) and `_codecs.encode` (how Python 3
//! writes `bytes` under protocol 2); even those are never called: their arguments are
//! checked against the exact shapes numpy writes, and their result is built here. Any other
//! global (`os.system`, `builtins.eval`, …) and any other opcode is refused with an error
//! naming the file, the global or opcode, and the byte offset.
//!
//! Every length is checked against the bytes present before it is used, the number of
//! values is capped ([`MAX_VALUES`]), and nesting is capped ([`MAX_DEPTH`]), so no input
//! makes the reader panic, loop, or allocate much more than the file's size.
//!
//! Python 2 `str` objects (opcodes `SHORT_BINSTRING` / `BINSTRING`, as in the original CIFAR
//! files) become [`Value::Bytes`]; [`Value::as_text`] decodes them as Latin-1, as
//! torchvision's `pickle.load(f, encoding="latin1")` does.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use crate::error::{DataError, Result};

/// Deepest nesting of containers accepted (a cycle also ends here).
pub const MAX_DEPTH: usize = 64;

/// Most values (objects created plus references pushed) one pickle may hold. CIFAR-100's
/// training file, the largest CIFAR pickle, holds about 150 000.
pub const MAX_VALUES: usize = 1 << 22;

/// A numpy integer dtype (`|u1`, `<i8`, …), the only kind of array this reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    /// Signed (`i`) or unsigned (`u`).
    pub signed: bool,
    /// Bytes per element: 1, 2, 4 or 8.
    pub size: usize,
    /// Most significant byte first (`>`); little-endian (`<`) or single-byte (`|`) if false.
    pub big_endian: bool,
}

impl Dtype {
    /// numpy's name of the dtype, as `dtype.str` gives it (`|u1`, `<i8`, `>i4`).
    pub fn name(&self) -> String {
        let order = match (self.size, self.big_endian) {
            (1, _) => '|',
            (_, true) => '>',
            (_, false) => '<',
        };
        let kind = if self.signed { 'i' } else { 'u' };
        format!("{order}{kind}{}", self.size)
    }

    /// The element stored in `bytes` (exactly `size` bytes), if it fits in an `i64`.
    fn decode(&self, bytes: &[u8]) -> Option<i64> {
        let mut le = [0u8; 8];
        let n = bytes.len().min(8);
        le[..n].copy_from_slice(&bytes[..n]);
        if self.big_endian {
            le[..n].reverse();
        }
        let negative = self.signed && n > 0 && le[n - 1] & 0x80 != 0;
        if negative {
            for b in &mut le[n..] {
                *b = 0xff;
            }
        }
        let value = i64::from_le_bytes(le);
        // An unsigned 8-byte value with the top bit set does not fit.
        if !self.signed && n == 8 && value < 0 {
            return None;
        }
        Some(value)
    }
}

/// A numpy array of integers, with its bytes as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdArray<'a> {
    /// The element type.
    pub dtype: Dtype,
    /// The dimensions.
    pub shape: Vec<usize>,
    /// The elements' bytes, `product(shape) × dtype.size` of them (checked), in C order
    /// (last index fastest) or, if `fortran`, in Fortran order (first index fastest).
    pub data: Cow<'a, [u8]>,
    /// Whether `data` is in Fortran (column-major) order.
    pub fortran: bool,
}

impl NdArray<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size.max(1)
    }

    /// Whether the array holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Element `i` in storage order (C or Fortran, see [`NdArray::fortran`]); `None` if `i`
    /// is out of range or the value does not fit in an `i64` (a `u8` above `i64::MAX`).
    pub fn get(&self, i: usize) -> Option<i64> {
        let size = self.dtype.size;
        let start = i.checked_mul(size)?;
        let bytes = self.data.get(start..start.checked_add(size)?)?;
        self.dtype.decode(bytes)
    }
}

/// A value read from a pickle.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An integer (one that does not fit in an `i64` is refused).
    Int(i64),
    /// A float.
    Float(f64),
    /// A Python 3 `str` (Python 2 `unicode`).
    Str(Cow<'a, str>),
    /// A Python 3 `bytes` or `bytearray`, or a Python 2 `str`.
    Bytes(Cow<'a, [u8]>),
    /// A list.
    List(Vec<Value<'a>>),
    /// A tuple.
    Tuple(Vec<Value<'a>>),
    /// A dict as its items in insertion order; a repeated key is kept, and
    /// [`Value::get`] returns the last one, the one Python keeps.
    Dict(Vec<(Value<'a>, Value<'a>)>),
    /// A numpy array (of integers) or a numpy integer scalar's array form.
    NdArray(NdArray<'a>),
}

impl<'a> Value<'a> {
    /// The value of a dict's key `key`, given as a `str` or as (Python 2) `bytes`; `None`
    /// if `self` is not a dict or lacks the key.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        let Value::Dict(items) = self else {
            return None;
        };
        items.iter().rev().find_map(|(k, v)| {
            let matches = match k {
                Value::Str(s) => s == key,
                Value::Bytes(b) => b.as_ref() == key.as_bytes(),
                _ => false,
            };
            matches.then_some(v)
        })
    }

    /// The text of a `str`, or of a `bytes` decoded as Latin-1 (as torchvision's
    /// `encoding="latin1"` decodes Python 2 strings); `None` for any other value.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            Value::Bytes(b) => Some(match std::str::from_utf8(b) {
                Ok(s) if s.is_ascii() => Cow::Borrowed(s),
                _ => Cow::Owned(b.iter().map(|&c| char::from(c)).collect()),
            }),
            _ => None,
        }
    }

    /// What the value is, in Python's words (`dict`, `list`, `numpy array`, …), for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::NdArray(_) => "numpy array",
        }
    }
}

/// Parses a whole pickle held in `bytes`; `path` is the file, named in every error.
///
/// Reading stops at the `STOP` opcode, as Python's does; bytes after it are ignored.
pub fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<Value<'a>> {
    let mut machine = Machine {
        data: bytes,
        pos: 0,
        path,
        arena: vec![Obj::None, Obj::Bool(false), Obj::Bool(true)],
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        values: 0,
    };
    let root = machine.run()?;
    let mut budget = Budget {
        nodes: MAX_VALUES,
        copied_bytes: bytes.len().saturating_mul(2).saturating_add(1 << 20),
    };
    machine.to_value(root, 0, &mut budget)
}

const NONE: usize = 0;
const FALSE: usize = 1;
const TRUE: usize = 2;

type Handle = usize;

/// Bytes of a string or array: a slice of the file, or built here (`_codecs.encode`).
#[derive(Debug, Clone)]
enum Buf<'a> {
    Borrowed(&'a [u8]),
    Owned(Rc<[u8]>),
}

impl Buf<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Buf::Borrowed(b) => b,
            Buf::Owned(b) => b,
        }
    }
}

/// The functions a pickle may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Reconstruct,
    Scalar,
    Ndarray,
    Dtype,
    FromBuffer,
    Encode,
}

impl Global {
    fn resolve(module: &str, name: &str) -> Option<Global> {
        let multiarray = matches!(module, "numpy.core.multiarray" | "numpy._core.multiarray");
        let numeric = matches!(module, "numpy.core.numeric" | "numpy._core.numeric");
        match (name, module) {
            ("_reconstruct", _) if multiarray => Some(Global::Reconstruct),
            ("scalar", _) if multiarray => Some(Global::Scalar),
            ("_frombuffer", _) if numeric => Some(Global::FromBuffer),
            ("ndarray", "numpy") => Some(Global::Ndarray),
            ("dtype", "numpy") => Some(Global::Dtype),
            ("encode", "_codecs" | "codecs") => Some(Global::Encode),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Global::Reconstruct => "numpy.core.multiarray._reconstruct",
            Global::Scalar => "numpy.core.multiarray.scalar",
            Global::Ndarray => "numpy.ndarray",
            Global::Dtype => "numpy.dtype",
            Global::FromBuffer => "numpy.core.numeric._frombuffer",
            Global::Encode => "_codecs.encode",
        }
    }
}

/// An object of the pickle machine; containers refer to others by handle, so that the
/// memo shares objects as Python's does (a list filled after it was memoized, a dtype
/// given its byte order after it was memoized).
#[derive(Debug)]
enum Obj<'a> {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bytes(Buf<'a>),
    List(Vec<Handle>),
    Tuple(Vec<Handle>),
    Dict(Vec<(Handle, Handle)>),
    Global(Global),
    /// A `numpy.dtype` from `REDUCE`; `order` is set by `BUILD`.
    Dtype {
        signed: bool,
        size: usize,
        order: Option<u8>,
    },
    /// A `numpy.ndarray` from `_reconstruct` (`None` until `BUILD` gives its state) or
    /// `_frombuffer`.
    Array(Option<Box<ArrayObj<'a>>>),
}

#[derive(Debug)]
struct ArrayObj<'a> {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Buf<'a>,
    fortran: bool,
}

impl Obj<'_> {
    fn kind(&self) -> String {
        match self {
            Obj::None => "None".into(),
            Obj::Bool(_) => "bool".into(),
            Obj::Int(_) => "int".into(),
            Obj::Float(_) => "float".into(),
            Obj::Str(_) => "str".into(),
            Obj::Bytes(_) => "bytes".into(),
            Obj::List(_) => "list".into(),
            Obj::Tuple(_) => "tuple".into(),
            Obj::Dict(_) => "dict".into(),
            Obj::Global(g) => g.name().into(),
            Obj::Dtype { .. } => "numpy dtype".into(),
            Obj::Array(_) => "numpy array".into(),
        }
    }
}

struct Budget {
    nodes: usize,
    copied_bytes: usize,
}

struct Machine<'a, 'p> {
    data: &'a [u8],
    pos: usize,
    path: &'p Path,
    arena: Vec<Obj<'a>>,
    stack: Vec<Handle>,
    marks: Vec<usize>,
    memo: HashMap<u64, Handle>,
    values: usize,
}

fn opcode_name(op: u8) -> String {
    if op.is_ascii_graphic() {
        format!("0x{op:02x} ('{}')", char::from(op))
    } else {
        format!("0x{op:02x}")
    }
}

impl<'a> Machine<'a, '_> {
    fn error(&self, at: usize, problem: impl std::fmt::Display) -> DataError {
        DataError::Malformed {
            path: self.path.to_path_buf(),
            problem: format!("not a readable pickle: byte {at}: {problem}"),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let remaining = self.data.len() - self.pos;
        if n > remaining {
            return Err(self.error(
                self.pos,
                format!(
                    "{what} needs {n} bytes but only {remaining} remain; the file is truncated"
                ),
            ));
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn take_len(&mut self, len: u64, what: &str) -> Result<&'a [u8]> {
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        self.take(n, what)
    }

    fn take_line(&mut self, what: &str) -> Result<&'a str> {
        let start = self.pos;
        let rest = &self.data[self.pos..];
        let window = &rest[..rest.len().min(256)];
        let Some(end) = window.iter().position(|&b| b == b'\n') else {
            return Err(self.error(
                start,
                format!("{what} has no end of line within 256 bytes (or the file is truncated)"),
            ));
        };
        let line = &rest[..end];
        self.pos += end + 1;
        std::str::from_utf8(line).map_err(|_| self.error(start, format!("{what} is not text")))
    }

    fn count_value(&mut self, at: usize) -> Result<()> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.error(
                at,
                format!(
                    "more than {MAX_VALUES} values; no dataset pickle this tool reads has as many"
                ),
            ));
        }
        Ok(())
    }

    fn alloc(&mut self, at: usize, obj: Obj<'a>) -> Result<Handle> {
        self.count_value(at)?;
        self.arena.push(obj);
        Ok(self.arena.len() - 1)
    }

    fn push(&mut self, at: usize, h: Handle) -> Result<()> {
        self.count_value(at)?;
        self.stack.push(h);
        Ok(())
    }

    fn push_new(&mut self, at: usize, obj: Obj<'a>) -> Result<()> {
        let h = self.alloc(at, obj)?;
        self.stack.push(h);
        Ok(())
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, at: usize, op: &str) -> Result<Handle> {
        if self.stack.len() <= self.floor() {
            return Err(self.error(at, format!("{op} finds no value on the stack")));
        }
        Ok(self.stack.pop().unwrap_or(NONE))
    }

    fn top(&self, at: usize, op: &str) -> Result<Handle> {
        if self.stack.len() <= self.floor() {
            return Err(self.error(at, format!("{op} finds no value on the stack")));
        }
        Ok(self.stack.last().copied().unwrap_or(NONE))
    }

    fn pop_mark(&mut self, at: usize, op: &str) -> Result<Vec<Handle>> {
        let Some(mark) = self.marks.pop() else {
            return Err(self.error(at, format!("{op} without a MARK before it")));
        };
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn memo_put(&mut self, at: usize, key: u64, op: &str) -> Result<()> {
        let h = self.top(at, op)?;
        self.memo.insert(key, h);
        Ok(())
    }

    fn memo_get(&mut self, at: usize, key: u64) -> Result<()> {
        let Some(&h) = self.memo.get(&key) else {
            return Err(self.error(at, format!("memo entry {key} is read before it is written")));
        };
        self.push(at, h)
    }

    fn int(&mut self, at: usize, v: i64) -> Result<()> {
        self.push_new(at, Obj::Int(v))
    }

    fn utf8(&self, at: usize, bytes: &'a [u8]) -> Result<&'a str> {
        std::str::from_utf8(bytes).map_err(|_| self.error(at, "a string is not valid UTF-8"))
    }

    /// Runs the opcodes up to `STOP` and returns the value it pops.
    fn run(&mut self) -> Result<Handle> {
        loop {
            let at = self.pos;
            let Some(&op) = self.data.get(self.pos) else {
                return Err(self.error(at, "the file ends without a STOP opcode; it is truncated"));
            };
            self.pos += 1;
            match op {
                0x80 => {
                    // PROTO
                    let [v] = self.take_array::<1>("PROTO")?;
                    if !(2..=5).contains(&v) {
                        return Err(self.error(
                            at,
                            format!("pickle protocol {v} is not supported (2 to 5 are)"),
                        ));
                    }
                }
                0x95 => {
                    // FRAME: the opcodes inside are read as they come.
                    let n = u64::from_le_bytes(self.take_array::<8>("FRAME")?);
                    let remaining = (self.data.len() - self.pos) as u64;
                    if n > remaining {
                        return Err(self.error(
                            at,
                            format!("a frame of {n} bytes but only {remaining} remain; the file is truncated"),
                        ));
                    }
                }
                b'.' => {
                    // STOP
                    return self.pop(at, "STOP");
                }
                b'(' => {
                    if self.marks.len() >= MAX_DEPTH {
                        return Err(self.error(at, format!("more than {MAX_DEPTH} nested MARKs")));
                    }
                    self.marks.push(self.stack.len());
                }
                b'}' => self.push_new(at, Obj::Dict(Vec::new()))?,
                b']' => self.push_new(at, Obj::List(Vec::new()))?,
                b')' => self.push_new(at, Obj::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark(at, "TUPLE")?;
                    self.push_new(at, Obj::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = vec![NONE; n];
                    for slot in items.iter_mut().rev() {
                        *slot = self.pop(at, "TUPLE1/2/3")?;
                    }
                    self.push_new(at, Obj::Tuple(items))?;
                }
                b's' => {
                    let v = self.pop(at, "SETITEM")?;
                    let k = self.pop(at, "SETITEM")?;
                    let d = self.top(at, "SETITEM")?;
                    self.set_items(at, d, &[k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark(at, "SETITEMS")?;
                    let d = self.top(at, "SETITEMS")?;
                    self.set_items(at, d, &items)?;
                }
                b'a' => {
                    let v = self.pop(at, "APPEND")?;
                    let l = self.top(at, "APPEND")?;
                    self.append(at, l, &[v])?;
                }
                b'e' => {
                    let items = self.pop_mark(at, "APPENDS")?;
                    let l = self.top(at, "APPENDS")?;
                    self.append(at, l, &items)?;
                }
                b'q' => {
                    let [i] = self.take_array::<1>("BINPUT")?;
                    self.memo_put(at, u64::from(i), "BINPUT")?;
                }
                b'r' => {
                    let i = u32::from_le_bytes(self.take_array::<4>("LONG_BINPUT")?);
                    self.memo_put(at, u64::from(i), "LONG_BINPUT")?;
                }
                0x94 => {
                    let key = self.memo.len() as u64;
                    self.memo_put(at, key, "MEMOIZE")?;
                }
                b'h' => {
                    let [i] = self.take_array::<1>("BINGET")?;
                    self.memo_get(at, u64::from(i))?;
                }
                b'j' => {
                    let i = u32::from_le_bytes(self.take_array::<4>("LONG_BINGET")?);
                    self.memo_get(at, u64::from(i))?;
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.take_array::<4>("BININT")?);
                    self.int(at, i64::from(v))?;
                }
                b'K' => {
                    let [v] = self.take_array::<1>("BININT1")?;
                    self.int(at, i64::from(v))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.take_array::<2>("BININT2")?);
                    self.int(at, i64::from(v))?;
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes.
                    let [n] = self.take_array::<1>("LONG1")?;
                    let bytes = self.take(usize::from(n), "LONG1")?;
                    if bytes.len() > 8 {
                        return Err(self.error(
                            at,
                            format!("an integer of {n} bytes does not fit in 64 bits"),
                        ));
                    }
                    let mut le = [0u8; 8];
                    le[..bytes.len()].copy_from_slice(bytes);
                    if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                        for b in &mut le[bytes.len()..] {
                            *b = 0xff;
                        }
                    }
                    self.int(at, i64::from_le_bytes(le))?;
                }
                0x88 => self.push(at, TRUE)?,
                0x89 => self.push(at, FALSE)?,
                b'N' => self.push(at, NONE)?,
                b'G' => {
                    let v = f64::from_be_bytes(self.take_array::<8>("BINFLOAT")?);
                    self.push_new(at, Obj::Float(v))?;
                }
                b'U' => {
                    let [n] = self.take_array::<1>("SHORT_BINSTRING")?;
                    let b = self.take(usize::from(n), "SHORT_BINSTRING")?;
                    self.push_new(at, Obj::Bytes(Buf::Borrowed(b)))?;
                }
                b'T' => {
                    let n = i32::from_le_bytes(self.take_array::<4>("BINSTRING")?);
                    let Ok(n) = u64::try_from(n) else {
                        return Err(self.error(at, format!("BINSTRING of negative length {n}")));
                    };
                    let b = self.take_len(n, "BINSTRING")?;
                    self.push_new(at, Obj::Bytes(Buf::Borrowed(b)))?;
                }
                0x8c => {
                    let [n] = self.take_array::<1>("SHORT_BINUNICODE")?;
                    let b = self.take(usize::from(n), "SHORT_BINUNICODE")?;
                    let s = self.utf8(at, b)?;
                    self.push_new(at, Obj::Str(s))?;
                }
                b'X' => {
                    let n = u32::from_le_bytes(self.take_array::<4>("BINUNICODE")?);
                    let b = self.take_len(u64::from(n), "BINUNICODE")?;
                    let s = self.utf8(at, b)?;
                    self.push_new(at, Obj::Str(s))?;
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.take_array::<8>("BINUNICODE8")?);
                    let b = self.take_len(n, "BINUNICODE8")?;
                    let s = self.utf8(at, b)?;
                    self.push_new(at, Obj::Str(s))?;
                }
                b'C' => {
                    let [n] = self.take_array::<1>("SHORT_BINBYTES")?;
                    let b = self.take(usize::from(n), "SHORT_BINBYTES")?;
                    self.push_new(at, Obj::Bytes(Buf::Borrowed(b)))?;
                }
                b'B' => {
                    let n = u32::from_le_bytes(self.take_array::<4>("BINBYTES")?);
                    let b = self.take_len(u64::from(n), "BINBYTES")?;
                    self.push_new(at, Obj::Bytes(Buf::Borrowed(b)))?;
                }
                0x8e | 0x96 => {
                    let what = if op == 0x8e {
                        "BINBYTES8"
                    } else {
                        "BYTEARRAY8"
                    };
                    let n = u64::from_le_bytes(self.take_array::<8>(what)?);
                    let b = self.take_len(n, what)?;
                    self.push_new(at, Obj::Bytes(Buf::Borrowed(b)))?;
                }
                b'c' => {
                    let module = self.take_line("GLOBAL's module")?;
                    let name = self.take_line("GLOBAL's name")?;
                    let g = self.global(at, module, name)?;
                    self.push_new(at, Obj::Global(g))?;
                }
                0x93 => {
                    let name = self.pop(at, "STACK_GLOBAL")?;
                    let module = self.pop(at, "STACK_GLOBAL")?;
                    let (Obj::Str(module), Obj::Str(name)) =
                        (&self.arena[module], &self.arena[name])
                    else {
                        return Err(
                            self.error(at, "STACK_GLOBAL needs two strings (module and name)")
                        );
                    };
                    let (module, name) = (*module, *name);
                    let g = self.global(at, module, name)?;
                    self.push_new(at, Obj::Global(g))?;
                }
                b'R' => {
                    let args = self.pop(at, "REDUCE")?;
                    let callable = self.pop(at, "REDUCE")?;
                    let obj = self.reduce(at, callable, args)?;
                    self.push_new(at, obj)?;
                }
                b'b' => {
                    let state = self.pop(at, "BUILD")?;
                    let target = self.top(at, "BUILD")?;
                    self.build(at, target, state)?;
                }
                _ => {
                    return Err(self.error(
                        at,
                        format!(
                            "opcode {} is not supported; only the opcodes of dicts, lists, \
                             strings and numpy arrays are read",
                            opcode_name(op)
                        ),
                    ))
                }
            }
        }
    }

    fn global(&self, at: usize, module: &str, name: &str) -> Result<Global> {
        Global::resolve(module, name).ok_or_else(|| {
            self.error(
                at,
                format!(
                    "refusing global {module}.{name}: a dataset pickle may name only numpy's \
                     array reconstruction (numpy.core.multiarray._reconstruct, numpy.ndarray, \
                     numpy.dtype, …); a file naming anything else may be trying to run code"
                ),
            )
        })
    }

    fn set_items(&mut self, at: usize, d: Handle, items: &[Handle]) -> Result<()> {
        if !items.len().is_multiple_of(2) {
            return Err(self.error(at, "SETITEMS with an odd number of values"));
        }
        let kind = self.arena[d].kind();
        let Obj::Dict(entries) = &mut self.arena[d] else {
            return Err(self.error(at, format!("SETITEM(S) on a {kind}, not a dict")));
        };
        entries.extend(items.chunks_exact(2).map(|kv| (kv[0], kv[1])));
        Ok(())
    }

    fn append(&mut self, at: usize, l: Handle, items: &[Handle]) -> Result<()> {
        let kind = self.arena[l].kind();
        let Obj::List(list) = &mut self.arena[l] else {
            return Err(self.error(at, format!("APPEND(S) on a {kind}, not a list")));
        };
        list.extend_from_slice(items);
        Ok(())
    }

    fn tuple(&self, h: Handle) -> Option<&[Handle]> {
        match &self.arena[h] {
            Obj::Tuple(t) => Some(t),
            _ => None,
        }
    }

    fn text(&self, h: Handle) -> Option<&[u8]> {
        match &self.arena[h] {
            Obj::Str(s) => Some(s.as_bytes()),
            Obj::Bytes(b) => Some(b.as_slice()),
            _ => None,
        }
    }

    fn flag(&self, h: Handle) -> Option<bool> {
        match self.arena[h] {
            Obj::Bool(b) => Some(b),
            Obj::Int(0) => Some(false),
            Obj::Int(1) => Some(true),
            _ => None,
        }
    }

    fn shape(&self, h: Handle) -> Option<Vec<usize>> {
        let dims = self.tuple(h)?;
        dims.iter()
            .map(|&d| match self.arena[d] {
                Obj::Int(n) => usize::try_from(n).ok(),
                _ => None,
            })
            .collect()
    }

    fn dtype(&self, at: usize, h: Handle) -> Result<Dtype> {
        let Obj::Dtype {
            signed,
            size,
            order,
        } = self.arena[h]
        else {
            return Err(self.error(
                at,
                format!(
                    "a numpy dtype was expected, found a {}",
                    self.arena[h].kind()
                ),
            ));
        };
        let big_endian = match (size, order) {
            (1, _) => false,
            (_, Some(b'<')) => false,
            (_, Some(b'>')) => true,
            _ => {
                return Err(self.error(
                    at,
                    format!("a numpy dtype of {size} bytes has no byte order ('<' or '>')"),
                ))
            }
        };
        Ok(Dtype {
            signed,
            size,
            big_endian,
        })
    }

    fn buf(&self, h: Handle) -> Option<Buf<'a>> {
        match &self.arena[h] {
            Obj::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }

    /// Checks that `data` holds exactly the bytes `shape` and `dtype` need.
    fn array(
        &self,
        at: usize,
        dtype: Dtype,
        shape: Vec<usize>,
        data: Buf<'a>,
        fortran: bool,
    ) -> Result<ArrayObj<'a>> {
        let needed = shape
            .iter()
            .try_fold(dtype.size, |acc, &d| acc.checked_mul(d));
        if needed != Some(data.as_slice().len()) {
            return Err(self.error(
                at,
                format!(
                    "a numpy array of shape {shape:?} and dtype {} holds {} data bytes, which \
                     does not match its shape",
                    dtype.name(),
                    data.as_slice().len()
                ),
            ));
        }
        Ok(ArrayObj {
            dtype,
            shape,
            data,
            fortran,
        })
    }

    fn reduce(&mut self, at: usize, callable: Handle, args: Handle) -> Result<Obj<'a>> {
        let Obj::Global(g) = self.arena[callable] else {
            return Err(self.error(
                at,
                format!(
                    "REDUCE calls a {}, which is not callable here",
                    self.arena[callable].kind()
                ),
            ));
        };
        let unexpected = |m: &Self| {
            m.error(
                at,
                format!("REDUCE of {} with arguments numpy does not write", g.name()),
            )
        };
        let Some(a) = self.tuple(args).map(<[Handle]>::to_vec) else {
            return Err(unexpected(self));
        };
        match (g, a.as_slice()) {
            (Global::Encode, &[s, enc]) => {
                let (Obj::Str(s), Some(b"latin1" | b"latin-1")) = (&self.arena[s], self.text(enc))
                else {
                    return Err(unexpected(self));
                };
                let mut out = Vec::with_capacity(s.len());
                for c in s.chars() {
                    let Ok(b) = u8::try_from(u32::from(c)) else {
                        return Err(self.error(at, "_codecs.encode of a character beyond Latin-1"));
                    };
                    out.push(b);
                }
                Ok(Obj::Bytes(Buf::Owned(out.into())))
            }
            (Global::Dtype, &[name, align, copy]) => {
                let (Some(name), Some(_), Some(_)) =
                    (self.text(name), self.flag(align), self.flag(copy))
                else {
                    return Err(unexpected(self));
                };
                let (signed, size) = match name {
                    b"u1" => (false, 1),
                    b"u2" => (false, 2),
                    b"u4" => (false, 4),
                    b"u8" => (false, 8),
                    b"i1" => (true, 1),
                    b"i2" => (true, 2),
                    b"i4" => (true, 4),
                    b"i8" => (true, 8),
                    _ => {
                        return Err(self.error(
                            at,
                            format!(
                                "numpy dtype '{}' is not supported: only integer dtypes \
                                 (u1, i8, …) are read",
                                String::from_utf8_lossy(name)
                            ),
                        ))
                    }
                };
                Ok(Obj::Dtype {
                    signed,
                    size,
                    order: None,
                })
            }
            (Global::Reconstruct, &[cls, shape, code]) => {
                let ok = matches!(self.arena[cls], Obj::Global(Global::Ndarray))
                    && self.shape(shape).as_deref() == Some(&[0])
                    && self.text(code) == Some(b"b");
                if !ok {
                    return Err(unexpected(self));
                }
                Ok(Obj::Array(None))
            }
            (Global::FromBuffer, &[buf, dtype, shape, order]) => {
                let (Some(buf), Some(shape), Some(order)) =
                    (self.buf(buf), self.shape(shape), self.text(order))
                else {
                    return Err(unexpected(self));
                };
                let fortran = match order {
                    b"C" => false,
                    b"F" => true,
                    _ => return Err(unexpected(self)),
                };
                let dtype = self.dtype(at, dtype)?;
                let array = self.array(at, dtype, shape, buf, fortran)?;
                Ok(Obj::Array(Some(Box::new(array))))
            }
            (Global::Scalar, &[dtype, bytes]) => {
                let dtype = self.dtype(at, dtype)?;
                let Some(bytes) = self.buf(bytes) else {
                    return Err(unexpected(self));
                };
                let bytes = bytes.as_slice();
                if bytes.len() != dtype.size {
                    return Err(unexpected(self));
                }
                match dtype.decode(bytes) {
                    Some(v) => Ok(Obj::Int(v)),
                    None => Err(self.error(at, "a numpy scalar does not fit in 64 bits")),
                }
            }
            _ => Err(unexpected(self)),
        }
    }

    fn build(&mut self, at: usize, target: Handle, state: Handle) -> Result<()> {
        let unexpected = |m: &Self| {
            m.error(
                at,
                format!(
                    "BUILD of a {} with a state numpy does not write",
                    m.arena[target].kind()
                ),
            )
        };
        let Some(s) = self.tuple(state).map(<[Handle]>::to_vec) else {
            return Err(unexpected(self));
        };
        match self.arena[target] {
            Obj::Dtype { order: None, .. } => {
                // (version, byte order, …): by version, the subarray, names, fields and
                // metadata (None for a plain dtype; a structured one is refused) and the
                // element size, alignment and flags (ints).
                let ok = (5..=9).contains(&s.len())
                    && matches!(self.arena[s[0]], Obj::Int(0..=4))
                    && s[2..]
                        .iter()
                        .all(|&h| h == NONE || matches!(self.arena[h], Obj::Int(_)));
                let order = match self.text(s.get(1).copied().unwrap_or(NONE)) {
                    Some(&[c @ (b'<' | b'>' | b'|' | b'=')]) => c,
                    _ => return Err(unexpected(self)),
                };
                if !ok {
                    return Err(unexpected(self));
                }
                if let Obj::Dtype { order: o, .. } = &mut self.arena[target] {
                    *o = Some(order);
                }
                Ok(())
            }
            Obj::Array(None) => {
                // (version, shape, dtype, is_fortran, raw data)
                let &[version, shape, dtype, fortran, data] = s.as_slice() else {
                    return Err(unexpected(self));
                };
                let (Obj::Int(1), Some(shape), Some(fortran)) =
                    (&self.arena[version], self.shape(shape), self.flag(fortran))
                else {
                    return Err(unexpected(self));
                };
                let dtype = self.dtype(at, dtype)?;
                let Some(data) = self.buf(data) else {
                    return Err(self.error(
                        at,
                        format!(
                            "a numpy array's data is a {}, not bytes (arrays of Python objects \
                             are not read)",
                            self.arena[data].kind()
                        ),
                    ));
                };
                let array = self.array(at, dtype, shape, data, fortran)?;
                self.arena[target] = Obj::Array(Some(Box::new(array)));
                Ok(())
            }
            _ => Err(unexpected(self)),
        }
    }

    /// Builds the value tree of `h`, copying at most the budget.
    fn to_value(&self, h: Handle, depth: usize, budget: &mut Budget) -> Result<Value<'a>> {
        let end = self.data.len();
        if depth > MAX_DEPTH {
            return Err(self.error(
                end,
                format!("values nest deeper than {MAX_DEPTH} levels (or refer to themselves)"),
            ));
        }
        budget.nodes = budget.nodes.checked_sub(1).ok_or_else(|| {
            self.error(
                end,
                format!("the values refer to each other more than {MAX_VALUES} times"),
            )
        })?;
        let mut bytes = |b: &Buf<'a>| -> Result<Cow<'a, [u8]>> {
            Ok(match b {
                Buf::Borrowed(b) => Cow::Borrowed(*b),
                Buf::Owned(b) => {
                    budget.copied_bytes = budget.copied_bytes.checked_sub(b.len()).ok_or_else(
                        || self.error(end, "shared byte strings would need more memory than twice the file's size"),
                    )?;
                    Cow::Owned(b.to_vec())
                }
            })
        };
        Ok(match &self.arena[h] {
            Obj::None => Value::None,
            Obj::Bool(b) => Value::Bool(*b),
            Obj::Int(i) => Value::Int(*i),
            Obj::Float(f) => Value::Float(*f),
            Obj::Str(s) => Value::Str(Cow::Borrowed(*s)),
            Obj::Bytes(b) => Value::Bytes(bytes(b)?),
            Obj::Array(Some(a)) => Value::NdArray(NdArray {
                dtype: a.dtype,
                shape: a.shape.clone(),
                data: bytes(&a.data)?,
                fortran: a.fortran,
            }),
            Obj::List(items) => Value::List(
                items
                    .iter()
                    .map(|&i| self.to_value(i, depth + 1, budget))
                    .collect::<Result<_>>()?,
            ),
            Obj::Tuple(items) => Value::Tuple(
                items
                    .iter()
                    .map(|&i| self.to_value(i, depth + 1, budget))
                    .collect::<Result<_>>()?,
            ),
            Obj::Dict(items) => Value::Dict(
                items
                    .iter()
                    .map(|&(k, v)| {
                        Ok((
                            self.to_value(k, depth + 1, budget)?,
                            self.to_value(v, depth + 1, budget)?,
                        ))
                    })
                    .collect::<Result<_>>()?,
            ),
            other @ (Obj::Global(_) | Obj::Dtype { .. } | Obj::Array(None)) => {
                return Err(self.error(
                    end,
                    format!(
                        "a {} {} is not a value this reader returns",
                        other.kind(),
                        if matches!(other, Obj::Array(None)) {
                            "without its state"
                        } else {
                            "object"
                        }
                    ),
                ))
            }
        })
    }
}

/// Writes pickles the way Python 2's `cPickle` wrote the original CIFAR files (protocol 2,
/// strings as Python 2 `str`, arrays through `numpy.core.multiarray._reconstruct`).
#[derive(Debug)]
pub(crate) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// A pickle of protocol 2, empty.
    pub(crate) fn new() -> Self {
        Writer { out: vec![0x80, 2] }
    }

    pub(crate) fn empty_dict(&mut self) {
        self.out.push(b'}');
    }

    pub(crate) fn mark(&mut self) {
        self.out.push(b'(');
    }

    /// Pops the key–value pairs since the last mark into the dict below it.
    pub(crate) fn set_items(&mut self) {
        self.out.push(b'u');
    }

    /// A Python 2 `str` (bytes).
    pub(crate) fn py2_str(&mut self, s: &[u8]) -> Result<()> {
        if let Ok(n) = u8::try_from(s.len()) {
            self.out.extend_from_slice(&[b'U', n]);
        } else {
            let n = i32::try_from(s.len()).map_err(|_| DataError::InvalidArgument {
                name: "pickle string".into(),
                value: format!("{} bytes", s.len()),
                problem: "a Python 2 string holds at most 2 GiB".into(),
            })?;
            self.out.push(b'T');
            self.out.extend_from_slice(&n.to_le_bytes());
        }
        self.out.extend_from_slice(s);
        Ok(())
    }

    /// Text: a Python 2 `str` if it is Latin-1 (what `encoding="latin1"` reads back),
    /// otherwise a `unicode`.
    pub(crate) fn text(&mut self, s: &str) -> Result<()> {
        let latin1: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
        match latin1 {
            Some(b) => self.py2_str(&b),
            None => {
                let n = u32::try_from(s.len()).map_err(|_| DataError::InvalidArgument {
                    name: "pickle string".into(),
                    value: format!("{} bytes", s.len()),
                    problem: "too long".into(),
                })?;
                self.out.push(b'X');
                self.out.extend_from_slice(&n.to_le_bytes());
                self.out.extend_from_slice(s.as_bytes());
                Ok(())
            }
        }
    }

    pub(crate) fn int(&mut self, v: i64) {
        if let Ok(b) = u8::try_from(v) {
            self.out.extend_from_slice(&[b'K', b]);
        } else if let Ok(w) = u16::try_from(v) {
            self.out.push(b'M');
            self.out.extend_from_slice(&w.to_le_bytes());
        } else if let Ok(d) = i32::try_from(v) {
            self.out.push(b'J');
            self.out.extend_from_slice(&d.to_le_bytes());
        } else {
            self.out.extend_from_slice(&[0x8a, 8]);
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A list, its items appended 1000 at a time as `cPickle` does; `item` writes one.
    pub(crate) fn list<T>(
        &mut self,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T) -> Result<()>,
    ) -> Result<()> {
        self.out.push(b']');
        for chunk in items.chunks(1000) {
            self.mark();
            for x in chunk {
                item(self, x)?;
            }
            self.out.push(b'e');
        }
        Ok(())
    }

    /// A C-ordered `uint8` numpy array of `shape`, Python 2 style.
    pub(crate) fn u8_array(&mut self, shape: &[usize], data: &[u8]) -> Result<()> {
        self.out
            .extend_from_slice(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n");
        self.int(0);
        self.out.push(0x85);
        self.py2_str(b"b")?;
        self.out.extend_from_slice(&[0x87, b'R']);
        self.mark();
        self.int(1);
        self.mark();
        for &d in shape {
            self.int(i64::try_from(d).unwrap_or(i64::MAX));
        }
        self.out.push(b't');
        self.out.extend_from_slice(b"cnumpy\ndtype\n");
        self.py2_str(b"u1")?;
        self.int(0);
        self.int(1);
        self.out.extend_from_slice(&[0x87, b'R']);
        self.mark();
        self.int(3);
        self.py2_str(b"|")?;
        self.out.extend_from_slice(b"NNN");
        self.int(-1);
        self.int(-1);
        self.int(0);
        self.out.extend_from_slice(b"tb");
        self.out.push(0x89);
        self.py2_str(data)?;
        self.out.extend_from_slice(b"tb");
        Ok(())
    }

    /// Ends the pickle and returns its bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.push(b'.');
        self.out
    }
}
