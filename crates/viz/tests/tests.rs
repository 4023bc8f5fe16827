//! Integration tests of convlens-viz: one binary, one module per topic.

mod fixtures;

mod colour;
mod determinism;
mod errors;
mod figures;
mod many_classes;
mod output;
mod rgb;
