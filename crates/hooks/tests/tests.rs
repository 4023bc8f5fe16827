//! Integration tests of the hook registry, the recorders and the gradient probe.

mod fixtures;
mod gradient;
mod recorder;
mod registry;
mod stats;
