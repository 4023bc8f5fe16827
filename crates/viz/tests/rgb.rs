//! Colour (3-channel) inputs of 32×32 and 96×96 pixels: pure-colour regions
//! land in their colour at the place the layout puts them.

use candle_core::{Device, Tensor};
use convlens_viz::*;

use crate::fixtures::*;

const TITLE_BLOCK: u32 = 62;
const SIDES: [usize; 2] = [32, 96];

/// Whole-pixel enlargement towards `target` pixels, as the figures do it.
fn scale(side: usize, target: usize) -> u32 {
    ((target as f64 / side as f64).round() as u32).max(1)
}

/// Asserts that the four quadrants of an image drawn with its top-left corner
/// at `(x, y)` and `half` pixels per quadrant side have their pure colours.
fn assert_quadrants(png: &Png, (x, y): (u32, u32), half: u32, what: &str) {
    let [red, green, blue, magenta] = QUADRANT_COLOURS;
    for (colour, (qx, qy)) in [
        (red, (x, y)),
        (green, (x + half, y)),
        (blue, (x, y + half)),
        (magenta, (x + half, y + half)),
    ] {
        for (dx, dy) in [
            (0, 0),
            (half - 1, 0),
            (0, half - 1),
            (half - 1, half - 1),
            (half / 2, half / 2),
        ] {
            assert_eq!(
                png.at(qx + dx, qy + dy),
                colour,
                "{what}: pixel ({}, {}) of the quadrant at ({qx}, {qy})",
                qx + dx,
                qy + dy
            );
        }
    }
}

#[test]
fn samples_draw_rgb_quadrants_in_place_at_32_and_96_pixels() {
    let dir = tempdir();
    for side in SIDES {
        let images = quadrants(2, side);
        let path = dir.path().join(format!("samples{side}.png"));
        draw_samples(
            &images,
            &["a".to_string(), "b".to_string()],
            2,
            "RGB",
            &path,
        )
        .unwrap();
        let png = read_png(&path);
        let px = scale(side, 84);
        let image_w = side as u32 * px;
        // 32×32 images are enlarged 3×, 96×96 ones drawn as they are: both 96 pixels.
        assert_eq!(image_w, 96);
        let grid_w = 2 * image_w + 14;
        let left = (png.width - grid_w) / 2;
        let half = image_w / 2;
        for col in 0..2 {
            let x = left + col * (image_w + 14);
            assert_quadrants(&png, (x, TITLE_BLOCK + 8), half, &format!("samples {side}"));
        }
        // Exactly the two images' red quadrants are pure red.
        assert_eq!(png.count([255, 0, 0]), 2 * (half * half) as usize, "{side}");
    }
}

#[test]
fn feature_maps_show_the_rgb_input_row_first_and_scale_with_the_input_size() {
    let dir = tempdir();
    for side in SIDES {
        let n = 2;
        let input = quadrants(n, side);
        // The course network's conv stage for this input size: conv1 pads by 3.
        let c1 = side + 4;
        let p1 = c1 / 2;
        let c2 = p1 - 4;
        let p2 = c2 / 2;
        let c3 = p2 - 5;
        let layers = vec![
            ("conv1".to_string(), wave(&[n, 3, c1, c1], 1.5, 0.0)),
            ("maxp1".to_string(), wave(&[n, 3, p1, p1], 1.0, 1.0)),
            ("conv2".to_string(), wave(&[n, 16, c2, c2], 1.5, 0.0)),
            ("maxp2".to_string(), wave(&[n, 16, p2, p2], 1.0, 1.0)),
            ("conv3".to_string(), wave(&[n, 110, c3, c3], 1.5, 0.0)),
        ];
        let captions = vec!["one".to_string(), "two".to_string()];
        let png_path = dir.path().join(format!("maps{side}.png"));
        let svg_path = dir.path().join(format!("maps{side}.svg"));
        for path in [&png_path, &svg_path] {
            draw_feature_maps_with_input(&input, &layers, &captions, "Maps", path).unwrap();
        }
        let png = read_png(&png_path);
        let svg = read_svg(&svg_path);
        // The input tiles are about 60 pixels: 32×32 twice, 96×96 once.
        let px = scale(side, 60);
        let tile = side as u32 * px;
        assert_eq!(tile, if side == 32 { 64 } else { 96 });
        let half = tile / 2;
        let corners = png.squares([255, 0, 0], half);
        assert_eq!(corners.len(), n, "{side}: red quadrants at {corners:?}");
        // Both images in the same row, the first one left, one column apart.
        assert_eq!(corners[0].1, corners[1].1);
        assert!(corners[0].0 < corners[1].0);
        for &corner in &corners {
            assert_quadrants(&png, corner, half, &format!("feature maps {side}"));
        }
        // The input row comes before every layer.
        assert!(svg.contains(&xml(&format!("input · RGB · {side}×{side}"))));
        let input_at = svg.find(&xml("input · RGB")).unwrap();
        assert!(input_at < svg.find("\nconv1 ch 0").unwrap());
        // conv3's 110 channels of more than 1×1 show 16 rows, not 110.
        let conv3_rows = svg.matches("\nconv3 ch ").count();
        if c3 > 1 {
            assert_eq!(conv3_rows, MAX_CHANNEL_ROWS, "{side}");
            assert!(svg.contains(&xml("the 16 of 110 channels")));
        }
        // Nothing absurd: the figure stays well inside the size limit.
        assert!(
            png.height < 8000 && png.width < 2000,
            "{side}: {}x{}",
            png.width,
            png.height
        );
    }
}

#[test]
fn feature_maps_with_a_grey_input_row_draw_it_in_grey() {
    let dir = tempdir();
    let input = Tensor::ones((1, 1, 28, 28), candle_core::DType::F32, &Device::Cpu).unwrap();
    let input = (input * 0.5).unwrap();
    let layers = vec![("relu1".to_string(), wave(&[1, 3, 32, 32], 1.0, 1.0))];
    let path = dir.path().join("grey.png");
    draw_feature_maps_with_input(&input, &layers, &["x".to_string()], "grey", &path).unwrap();
    let png = read_png(&path);
    // 28×28 enlarged twice.
    assert_eq!(png.squares([128, 128, 128], 56).len(), 1);
    // Without the input row the figure is the one draw_feature_maps draws.
    let plain = dir.path().join("plain.png");
    draw_feature_maps(&layers, &["x".to_string()], "grey", &plain).unwrap();
    assert_eq!(read_png(&plain).count([128, 128, 128]), 0);
}

#[test]
fn feature_maps_with_input_reject_mismatched_images() {
    let dir = tempdir();
    let path = dir.path().join("x.png");
    let layers = vec![("conv1".to_string(), wave(&[2, 3, 36, 36], 1.0, 0.0))];
    let err = draw_feature_maps_with_input(&quadrants(3, 32), &layers, &strings(3), "t", &path)
        .unwrap_err();
    assert!(
        err.to_string().contains("input image tensor has 3"),
        "{err}"
    );
    let two = wave(&[2, 2, 32, 32], 0.5, 0.5);
    let err = draw_feature_maps_with_input(&two, &layers, &strings(2), "t", &path).unwrap_err();
    assert!(err.to_string().contains("input image tensor"), "{err}");
    assert!(entries(dir.path()).is_empty());
}

fn strings(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// conv1 weights for RGB input: filter 0 sees red (R weights +1, G and B −1),
/// filter 1 green, filter 2 blue, filter 3 is all zeros.
fn rgb_filters() -> Tensor {
    let k = 3;
    let mut v = Vec::new();
    for filter in 0..4 {
        for ch in 0..3 {
            let w = if filter == 3 {
                0.0
            } else if ch == filter {
                1.0
            } else {
                -1.0
            };
            v.extend(std::iter::repeat_n(w, k * k));
        }
    }
    Tensor::from_vec(v, (4, 3, k, k), &Device::Cpu).unwrap()
}

#[test]
fn rgb_filters_have_r_g_b_rows_and_a_composite_in_the_filter_colour() {
    let dir = tempdir();
    let weight = rgb_filters();
    let png_path = dir.path().join("conv1.png");
    let svg_path = dir.path().join("conv1.svg");
    draw_input_filters("conv1", &weight, 16, &png_path).unwrap();
    draw_input_filters("conv1", &weight, 16, &svg_path).unwrap();
    let png = read_png(&png_path);
    let svg = read_svg(&svg_path);
    for label in ["R", "G", "B", "RGB", "f0", "f3"] {
        assert!(
            svg.contains(&format!(">\n{label}\n</text>")),
            "missing {label}"
        );
    }
    assert!(!svg.contains(">\nin 0\n</text>"));
    // 4 filters × 3 channels ≤ 16 kernels: 3×3 kernels at 32 pixels per weight.
    let kernel = 3 * 32;
    let composites: Vec<(u32, u32)> = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]]
        .iter()
        .map(|&c| {
            let found = png.squares(c, kernel);
            assert_eq!(found.len(), 1, "composite {c:?} at {found:?}");
            assert_eq!(png.count(c), (kernel * kernel) as usize, "{c:?}");
            found[0]
        })
        .collect();
    // One row, in filter order, below the three weight rows.
    assert!(composites.iter().all(|c| c.1 == composites[0].1));
    assert!(composites.windows(2).all(|w| w[1].0 == w[0].0 + kernel + 8));
    assert!(composites[0].1 > TITLE_BLOCK + 34 + 3 * kernel);
    // The weight rows keep the diverging scale: +1 red end, −1 blue end.
    assert!(png.count(ColourScale::DIVERGING_HIGH) > 3 * (kernel * kernel) as usize / 2);
    assert!(png.count(ColourScale::DIVERGING_LOW) > 6 * (kernel * kernel) as usize / 2);
}

#[test]
fn input_filters_of_a_grey_layer_are_the_plain_filter_figure() {
    let dir = tempdir();
    let weight = wave(&[3, 1, 3, 3], 0.5, 0.0);
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    draw_filters("conv1", &weight, 16, &a).unwrap();
    draw_input_filters("conv1", &weight, 16, &b).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let err = draw_input_filters("conv1", &wave(&[3, 2, 3, 3], 0.5, 0.0), 16, &a).unwrap_err();
    assert!(matches!(err, VizError::Shape { .. }), "{err}");
    assert!(
        err.to_string().contains("weight tensor for layer conv1"),
        "{err}"
    );
}

#[test]
fn saliency_overlays_the_colour_image_at_32_and_96_pixels() {
    let dir = tempdir();
    for side in SIDES {
        let n = 2;
        let images = quadrants(n, side);
        // A per-channel gradient that is zero except one pixel of the magenta
        // quadrant, where only the blue channel's gradient is non-zero (negative).
        let hot = (side * 3 / 4, side * 3 / 4);
        let mut g = vec![0f32; n * 3 * side * side];
        for i in 0..n {
            g[((i * 3 + 2) * side + hot.1) * side + hot.0] = -0.25;
            g[((i * 3) * side + hot.1) * side + hot.0] = 0.1;
        }
        let gradient = Tensor::from_vec(g, (n, 3, side, side), &Device::Cpu).unwrap();
        let path = dir.path().join(format!("saliency{side}.png"));
        let captions = strings(n);
        draw_saliency(&images, &gradient, &captions, "S", &path).unwrap();
        let png = read_png(&path);
        let px = scale(side, 84);
        let tile = side as u32 * px;
        let half = tile / 2;
        // Input row: the image in its colours.
        let inputs = png.squares([255, 0, 0], half);
        assert_eq!(inputs.len(), n, "{side}: {inputs:?}");
        for &corner in &inputs {
            assert_quadrants(&png, corner, half, &format!("saliency input {side}"));
        }
        // Overlay row: the same quadrants dimmed to 55 %, in colour, two rows below.
        let overlay_red = png.squares([140, 0, 0], half);
        assert_eq!(overlay_red.len(), n, "{side}: {overlay_red:?}");
        let row_step = tile + 12;
        for (input, overlay) in inputs.iter().zip(&overlay_red) {
            assert_eq!(*overlay, (input.0, input.1 + 2 * row_step));
            assert_eq!(png.at(overlay.0 + half, overlay.1), [0, 140, 0]);
            assert_eq!(png.at(overlay.0, overlay.1 + half), [0, 0, 140]);
            // The salient pixel is the hot colour, its neighbours dimmed magenta.
            let (hx, hy) = (overlay.0 + hot.0 as u32 * px, overlay.1 + hot.1 as u32 * px);
            assert_eq!(png.at(hx, hy), [255, 255, 0]);
            assert_eq!(png.at(hx + px, hy), [140, 0, 140]);
            // The saliency map between them: the hot pixel at the top of viridis.
            let top = ColourScale::sequential(0.0, 1.0, Palette::Viridis).rgb(1.0);
            assert_eq!(png.at(hx, hy - row_step), top);
        }
        // Passing the reduced map max|g| over channels draws the same figure.
        let reduced = gradient.abs().unwrap().max_keepdim(1).unwrap();
        let again = dir.path().join(format!("reduced{side}.png"));
        draw_saliency(&images, &reduced, &captions, "S", &again).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&again).unwrap()
        );
    }
}

#[test]
fn saliency_of_rgb_images_names_both_accepted_shapes() {
    let dir = tempdir();
    let path = dir.path().join("s.png");
    let wrong = wave(&[2, 2, 32, 32], 1.0, 0.0);
    let err = draw_saliency(&quadrants(2, 32), &wrong, &strings(2), "t", &path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("saliency tensor") && message.contains("[2, 1, 32, 32] or [2, 3, 32, 32]"),
        "{message}"
    );
    assert!(entries(dir.path()).is_empty());
}
