//! The one integration-test binary of convlens-explain, a module per topic.

mod course;
mod fixtures;
mod hand;
mod numeric;
mod sanity;
