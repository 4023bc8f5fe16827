//! Resize and grayscale against torchvision's numbers (fixtures/transform_reference.txt,
//! written by fixtures/make_transform_reference.py).

use convlens_data::transform::{resize, to_grayscale, MAX_SIZE};
use convlens_data::{DataError, Split};

const REFERENCE: &str = include_str!("fixtures/transform_reference.txt");

/// `(channels, rows, cols, size)` of the reference resizes: STL-10 to CIFAR size, MNIST to
/// half, an upscale, a non-square input, and a strong reduction (up to 23 taps per output).
const CASES: [(usize, usize, usize, usize); 5] = [
    (3, 96, 96, 32),
    (1, 28, 28, 14),
    (3, 16, 16, 28),
    (3, 20, 30, 17),
    (1, 100, 70, 9),
];

/// The image the reference script resizes: (7x² + 13y + 61c + 3xy) mod 256.
fn pattern(c: usize, h: usize, w: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(c * h * w);
    for k in 0..c {
        for y in 0..h {
            for x in 0..w {
                v.push(((7 * x * x + 13 * y + 61 * k + 3 * x * y) % 256) as u8);
            }
        }
    }
    v
}

/// The reference output of resizing `pattern(c, h, w)` to `n×n`, from `source`.
fn reference(c: usize, h: usize, w: usize, n: usize, source: &str) -> Vec<u8> {
    let head = format!("resize {c} {h} {w} {n} {source} ");
    let line = REFERENCE
        .lines()
        .find_map(|l| l.strip_prefix(&head))
        .unwrap_or_else(|| panic!("no reference line {head:?}"));
    let values: Vec<u8> = line.split(' ').map(|v| v.parse().unwrap()).collect();
    assert_eq!(values.len(), c * n * n);
    values
}

/// `pattern` resized by `resize`, with two images (the pattern and its inverse) and their
/// labels to check that images stay apart and labels stay.
fn resized(c: usize, h: usize, w: usize, n: usize) -> (Vec<u8>, Vec<u8>) {
    let a = pattern(c, h, w);
    let b: Vec<u8> = a.iter().map(|&p| 255 - p).collect();
    let split = Split::new([a, b].concat(), vec![7, 2], [c, h, w]).unwrap();
    let out = resize(&split, n).unwrap();
    assert_eq!(out.image_shape(), [c, n, n]);
    assert_eq!(out.labels(), &[7, 2]);
    (out.image(0).to_vec(), out.image(1).to_vec())
}

fn differences(a: &[u8], b: &[u8]) -> (usize, u8) {
    let count = a.iter().zip(b).filter(|(x, y)| x != y).count();
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0);
    (count, max)
}

#[test]
fn resize_matches_torchvision_exactly() {
    for (c, h, w, n) in CASES {
        let (ours, _) = resized(c, h, w, n);
        let torchvision = reference(c, h, w, n, "torchvision");
        assert_eq!(
            differences(&ours, &torchvision),
            (0, 0),
            "{c}×{h}×{w} → {n}: differs from torchvision"
        );
    }
}

#[test]
fn resize_is_within_one_of_pil_which_differs_from_torchvision() {
    for (c, h, w, n) in CASES {
        let (ours, _) = resized(c, h, w, n);
        let (count, max) = differences(&ours, &reference(c, h, w, n, "pil"));
        assert!(max <= 1, "{c}×{h}×{w} → {n}: {max} from PIL");
        // PIL's integer kernel rounds differently on a share of the pixels (6 to 79 % here):
        // the comparison is meaningful only if it is not zero.
        assert!(count > 0, "{c}×{h}×{w} → {n}: PIL and torchvision agree?");
    }
}

#[test]
fn resize_keeps_images_apart_and_inverts_with_them() {
    // Resampling commutes with 255 - p up to rounding: the second image is resized on its
    // own pixels, not its neighbour's.
    let (a, b) = resized(3, 96, 96, 32);
    for (x, y) in a.iter().zip(&b) {
        assert!((i16::from(*x) + i16::from(*y) - 255).abs() <= 1);
    }
}

#[test]
fn resize_of_a_constant_image_and_to_the_same_size() {
    let split = Split::new(vec![200; 2 * 30 * 30], vec![0, 1], [2, 15, 30]).unwrap();
    let out = resize(&split, 8).unwrap();
    assert!(out.image(0).iter().all(|&p| p == 200) && out.image(1).iter().all(|&p| p == 200));
    let same = Split::new(pattern(1, 9, 9), vec![3], [1, 9, 9]).unwrap();
    assert_eq!(resize(&same, 9).unwrap(), same);
}

#[test]
fn resize_refuses_zero_and_absurd_sizes_naming_the_value() {
    let split = Split::new(vec![0; 4], vec![0], [1, 2, 2]).unwrap();
    for size in [0, MAX_SIZE + 1, usize::MAX] {
        match resize(&split, size) {
            Err(e @ DataError::InvalidArgument { .. }) => {
                let m = e.to_string();
                assert!(m.contains(&format!("resize = {size}")), "{m}");
                assert!(m.contains("between 1 and 4096"), "{m}");
            }
            other => panic!("size {size}: {other:?}"),
        }
    }
    // A valid size whose output would be too large.
    let many = Split::new(vec![0; 300], vec![0; 300], [1, 1, 1]).unwrap();
    let m = resize(&many, 4096).unwrap_err().to_string();
    assert!(
        m.contains("resize = 4096") && m.contains("more than the limit"),
        "{m}"
    );
}

#[test]
fn grayscale_matches_torchvision_exactly() {
    let mut rgb = [Vec::new(), Vec::new(), Vec::new()];
    let mut expected = Vec::new();
    for line in REFERENCE.lines().filter_map(|l| l.strip_prefix("gray ")) {
        let v: Vec<u8> = line.split(' ').map(|v| v.parse().unwrap()).collect();
        for k in 0..3 {
            rgb[k].push(v[k]);
        }
        expected.push(v[3]);
    }
    assert_eq!(expected.len(), 64);
    // White becomes 254 in torchvision (0.2989 + 0.587 + 0.114 = 0.9999, truncated).
    assert_eq!(&expected[..3], &[0, 254, 76]);
    let n = expected.len();
    let split = Split::new(rgb.concat(), vec![4], [3, 1, n]).unwrap();
    let gray = to_grayscale(&split).unwrap();
    assert_eq!(gray.image_shape(), [1, 1, n]);
    assert_eq!(gray.labels(), &[4]);
    assert_eq!(gray.image(0), &expected[..]);
}

#[test]
fn grayscale_keeps_one_channel_and_refuses_other_counts() {
    let one = Split::new(pattern(1, 5, 4), vec![1], [1, 5, 4]).unwrap();
    assert_eq!(to_grayscale(&one).unwrap(), one);
    let two = Split::new(vec![0; 8], vec![0], [2, 2, 2]).unwrap();
    let m = to_grayscale(&two).unwrap_err().to_string();
    assert!(
        m.contains("images of 2 channels") && m.contains("1 or 3"),
        "{m}"
    );
}
