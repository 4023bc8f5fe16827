//! The `trainer` command line as a library: the flags ([`cli`]), the commands that compose
//! the convlens crates ([`commands`], [`inspect`], [`explain`], [`report`], [`animate`]).
//! `main.rs` only parses and dispatches; `cargo xtask figures` calls the same functions
//! in-process.

pub mod animate;
pub mod cli;
pub mod commands;
pub mod explain;
mod flags;
pub mod inspect;
pub mod report;

/// The error and its causes on one line, in the command line's words (flags, not the
/// libraries' field names), leaving out a cause whose text the message before it already
/// includes (the library errors spell out their sources).
pub fn error_message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = flags::describe(cause).unwrap_or_else(|| cause.to_string());
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
