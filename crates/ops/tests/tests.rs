//! Correctness tests of the ops against hand-computed cases, candle's own ops and finite
//! differences.

mod block;
mod conv;
mod fixtures;
mod linear;
mod loss;
mod overflow;
mod pool;
mod properties;
mod relu;
