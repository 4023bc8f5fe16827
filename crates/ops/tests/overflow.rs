//! Sizes that do not fit in memory: every public op returns an error naming the op, the
//! argument and its value, in debug and release builds alike, and never computes.

use candle_core::{DType, Device, Tensor};
use convlens_ops::{conv2d, conv2d_relu, conv2d_relu_maxpool2d};

/// conv1 of the course network: 16 images of 1 × 28 × 28, 3 filters of 3 × 3, with bias.
fn conv1() -> (Tensor, Tensor, Tensor) {
    let dev = Device::Cpu;
    let x = Tensor::zeros((16, 1, 28, 28), DType::F32, &dev).unwrap();
    let w = Tensor::zeros((3, 1, 3, 3), DType::F32, &dev).unwrap();
    let b = Tensor::zeros(3, DType::F32, &dev).unwrap();
    (x, w, b)
}

/// Asserts that `result` is an error whose message names `op`, `padding` and `value`.
fn assert_names(result: candle_core::Result<Tensor>, op: &str, value: usize) {
    let msg = match result {
        Ok(t) => panic!(
            "{op} with padding {value} returned a tensor of shape {:?}",
            t.dims()
        ),
        Err(e) => e.to_string(),
    };
    assert!(
        msg.contains(op) && msg.contains("padding") && msg.contains(&value.to_string()),
        "{msg}"
    );
}

/// With `padding = 2^62` the output side is 2^63 + 26, and the product of two sides wraps to a
/// small number: before the sizes were checked, the kernels' own asserts wrapped the same way
/// and the direct kernels wrote far past the output in release builds.
#[test]
fn conv2d_with_padding_2_pow_62_is_an_error() {
    let (x, w, b) = conv1();
    let padding = 1 << 62;
    assert_names(conv2d(&x, &w, Some(&b), padding), "conv2d", padding);
    assert_names(conv2d(&x, &w, None, padding), "conv2d", padding);
    assert_names(conv2d_relu(&x, &w, Some(&b), padding), "conv2d", padding);
    assert_names(
        conv2d_relu_maxpool2d(&x, &w, Some(&b), padding),
        "conv2d_relu_maxpool2d",
        padding,
    );
}

/// Paddings whose double, or whose sum with the input side, overflows `usize`.
#[test]
fn conv2d_with_padding_near_usize_max_is_an_error() {
    let (x, w, b) = conv1();
    for padding in [
        usize::MAX,
        usize::MAX / 2,
        usize::MAX / 2 - 13,
        1 << 32,
        1 << 31,
    ] {
        assert_names(conv2d(&x, &w, Some(&b), padding), "conv2d", padding);
        assert_names(
            conv2d_relu_maxpool2d(&x, &w, Some(&b), padding),
            "conv2d_relu_maxpool2d",
            padding,
        );
    }
}

/// A zero tensor broadcast to `dims`: a view with no memory behind it, so its shape can be far
/// larger than any buffer.
fn view(dims: &[usize]) -> Tensor {
    Tensor::zeros(vec![1; dims.len()], DType::F32, &Device::Cpu)
        .and_then(|t| t.broadcast_as(dims))
        .unwrap()
}

/// Asserts that `result` is a `TooLarge` error of `op`.
fn assert_too_large(result: candle_core::Result<Tensor>, op: &str) {
    let msg = match result {
        Ok(t) => panic!("{op} returned a tensor of shape {:?}", t.dims()),
        Err(e) => e.to_string(),
    };
    assert!(msg.contains(op) && msg.contains("too large"), "{msg}");
}

/// Arguments whose element counts (or the outputs' and gradients' that follow from them) go
/// past `MAX_ELEMENTS` or overflow `usize`: every op says so instead of computing.
#[test]
fn every_op_rejects_sizes_beyond_max_elements() {
    use convlens_ops::{cross_entropy, linear, linear_relu, max_pool2d, relu};
    const HUGE: usize = 1 << 31;
    let square = view(&[1, 1, HUGE, HUGE]);
    let one = view(&[1, 1, 1, 1]);
    assert_too_large(conv2d(&square, &one, None, 0), "conv2d");
    assert_too_large(
        conv2d_relu_maxpool2d(&square, &one, None, 0),
        "conv2d_relu_maxpool2d",
    );
    // The kernel covers the whole input: its weight gradient is too large.
    assert_too_large(conv2d(&square, &square, None, 0), "conv2d");
    // Many channels in, many out: the weight is 2^62 elements.
    let wide = view(&[1, HUGE, 1, 1]);
    assert_too_large(conv2d(&wide, &view(&[HUGE, HUGE, 1, 1]), None, 0), "conv2d");
    assert_too_large(max_pool2d(&square), "max_pool2d");
    assert_too_large(relu(&square), "relu");
    // An output of 2^31 × 2^31 from two thin operands.
    let thin = view(&[HUGE, 1]);
    assert_too_large(linear(&thin, &thin, None), "linear");
    assert_too_large(linear_relu(&thin, &thin, None), "linear");
    assert_too_large(
        linear(&view(&[HUGE, HUGE]), &view(&[1, HUGE]), None),
        "linear",
    );
    let labels = Tensor::zeros(1, DType::U32, &Device::Cpu)
        .and_then(|t| t.broadcast_as(HUGE))
        .unwrap();
    assert_too_large(
        cross_entropy(&view(&[HUGE, HUGE]), &labels),
        "cross-entropy",
    );
}

/// An empty batch with a valid convolution gives an empty result, not an error: the checks
/// reject sizes, not emptiness. With a huge padding the per-image sizes still overflow.
#[test]
fn empty_batches_are_checked_per_image() {
    let x = Tensor::zeros((0, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
    let w = Tensor::zeros((3, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(conv2d(&x, &w, None, 3).unwrap().dims(), [0, 3, 32, 32]);
    assert_eq!(
        conv2d_relu_maxpool2d(&x, &w, None, 3).unwrap().dims(),
        [0, 3, 16, 16]
    );
    assert_names(conv2d(&x, &w, None, 1 << 62), "conv2d", 1 << 62);
}
