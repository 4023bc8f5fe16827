//! The `trainer` binary end to end, one module per topic, in one test binary (each test
//! binary links the whole stack, so one binary keeps the test build short).

mod animate;
mod cli;
mod colour;
mod crash;
mod explain;
mod hostile;
mod report;
mod support;
