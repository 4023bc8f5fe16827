//! Feeds arbitrary bytes to both IDX parsers: they must return an error or a value, never
//! panic, and never allocate beyond what the input can justify.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = convlens_data::idx::parse_images(data) {
        assert_eq!(images.pixels.len(), images.count * images.channels * images.rows * images.cols);
    }
    if let Ok(labels) = convlens_data::idx::parse_labels(data) {
        assert!(!labels.labels.is_empty());
    }
});
