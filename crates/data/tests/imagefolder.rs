//! Image folders.
