//! The network learning, as an animation: one frame per snapshot of the weights (the first
//! two layers' filters, the feature maps of a few fixed images, the curves drawn up to that
//! point, the predictions), on scales fixed over all frames, written as an animated PNG
//! that stores only what changed from one frame to the next.

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::{ColourScale, Palette};
use crate::data::{check_finite, check_len, check_non_empty, Maps};
use crate::paint::*;
use crate::render::{render_rgb, write_atomically, DrawResult, Figure};
use crate::VizError;

/// What the network computed for one of the fixed images at one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct FramePrediction {
    /// The predicted class's name.
    pub class: String,
    /// Its softmax probability, in `[0, 1]`.
    pub probability: f64,
    /// Whether it is the true class.
    pub correct: bool,
}

/// One frame: the weights and activations at one snapshot.
#[derive(Debug, Clone)]
pub struct EvolutionFrame {
    /// Where training is, in words (`epoch 1, step 938 of 3,750`).
    pub label: String,
    /// Training done, in epochs (0 before the first step, 1.5 halfway through the second).
    pub progress: f64,
    /// The first convolution's weight, `[O, C, K, K]`.
    pub conv1: Tensor,
    /// The second convolution's weight, `[O, C, K, K]`.
    pub conv2: Tensor,
    /// The fixed images' feature maps after the first ReLU, `[N, C, H, W]`.
    pub relu1: Tensor,
    /// The fixed images' feature maps after the second ReLU, `[N, C, H, W]`.
    pub relu2: Tensor,
    /// One prediction per fixed image.
    pub predictions: Vec<FramePrediction>,
}

/// A point of a curve, at a fractional epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// Training done, in epochs.
    pub epoch: f64,
    /// Loss (positive: the loss axis is logarithmic).
    pub loss: f64,
    /// Accuracy, a fraction in `[0, 1]`.
    pub accuracy: f64,
}

/// The whole run's curves; each frame draws the points up to its own progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvolutionCurves {
    /// Training loss and accuracy (running means within an epoch), in epoch order.
    pub train: Vec<CurvePoint>,
    /// Validation loss and accuracy after each epoch.
    pub validation: Vec<CurvePoint>,
}

/// The colour scales shared by every frame: the largest magnitude over all snapshots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvolutionScales {
    /// conv1's weights, blue-white-red from −max to +max.
    pub conv1: ColourScale,
    /// conv2's weights.
    pub conv2: ColourScale,
    /// relu1's activations, viridis from 0 to the largest value.
    pub relu1: ColourScale,
    /// relu2's activations.
    pub relu2: ColourScale,
}

/// A rectangle of a frame, in pixels: left, top, width, height.
pub type Region = [u32; 4];

/// Where the panels of a frame are, for readers of the animation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvolutionLayout {
    /// Width and height of every frame.
    pub size: (u32, u32),
    /// The conv1 kernels.
    pub conv1: Region,
    /// The conv2 kernels.
    pub conv2: Region,
    /// The colour bars of the four scales (conv1, conv2, relu1, relu2), with their labels.
    pub colour_bars: [Region; 4],
    /// The feature maps of the fixed images.
    pub feature_maps: Region,
    /// The loss and accuracy panels.
    pub curves: Region,
}

/// 8-bit RGB pixels, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 3` bytes.
    pub pixels: Vec<u8>,
}

/// The frames of an animation, fully drawn, with the layout and scales they share.
#[derive(Debug, Clone)]
pub struct Evolution {
    /// One image per snapshot.
    pub frames: Vec<RgbImage>,
    /// The panels' places.
    pub layout: EvolutionLayout,
    /// The shared scales.
    pub scales: EvolutionScales,
}

/// Side, in pixels, a conv1 kernel is enlarged towards.
const FILTER1_SIDE: usize = 44;
/// Side a conv2 kernel is enlarged towards.
const FILTER2_SIDE: usize = 26;
/// Room between colour bars, for their end labels.
const BAR_GAP: i32 = 60;
const KERNEL_GAP: i32 = 4;
const MAP_GAP: i32 = 3;
const BAR_LENGTH: i32 = 160;
const BAR_THICKNESS: i32 = 10;
/// Height of a colour bar with its tick labels.
const BAR_BLOCK: i32 = BAR_THICKNESS + 22;
const HEADING_H: i32 = 22;
const SECTION_GAP: i32 = 36;
const CURVES_H: i32 = 190;
const PREDICTION_W: i32 = 170;
const RELU2_ROWS: usize = 2;

/// Draws one frame per snapshot on shared scales. `images` are the fixed images
/// (`[N, C, H, W]`, values in `[0, 1]`) and `truth` their true class names; every frame
/// holds the same layers' tensors of the same shapes. The epoch axis spans `epochs`.
pub fn draw_evolution_frames(
    frames: &[EvolutionFrame],
    images: &Tensor,
    truth: &[String],
    curves: &EvolutionCurves,
    epochs: f64,
    title: &str,
) -> Result<Evolution, VizError> {
    check_non_empty("frames", frames.len())?;
    let images = Maps::from_tensor(images, "fixed images")?;
    crate::data::check_image_channels(&images, "fixed images")?;
    check_len("truth", truth.len(), images.n, "fixed images")?;
    let mut data = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let read = |t: &Tensor, name: &str| Maps::from_tensor(t, &format!("frame {i}'s {name}"));
        let d = FrameData {
            conv1: read(&f.conv1, "conv1 weight")?,
            conv2: read(&f.conv2, "conv2 weight")?,
            relu1: read(&f.relu1, "relu1 maps")?,
            relu2: read(&f.relu2, "relu2 maps")?,
        };
        check_len(
            &format!("frame {i}'s predictions"),
            f.predictions.len(),
            images.n,
            "fixed images",
        )?;
        for (name, maps) in [("relu1", &d.relu1), ("relu2", &d.relu2)] {
            if maps.n != images.n {
                return Err(VizError::InvalidInput(format!(
                    "frame {i}'s {name} maps hold {} images, expected {} (the fixed images)",
                    maps.n, images.n
                )));
            }
        }
        if let Some(first) = data.first() {
            if !d.same_shapes(first) {
                return Err(VizError::InvalidInput(format!(
                    "frame {i}'s tensors differ in shape from frame 0's"
                )));
            }
        }
        if !f.progress.is_finite() || f.progress < 0.0 {
            return Err(VizError::InvalidInput(format!(
                "frame {i}'s progress is {}, expected a finite number of epochs ≥ 0",
                f.progress
            )));
        }
        data.push(d);
    }
    for (name, points) in [("train", &curves.train), ("validation", &curves.validation)] {
        for (i, p) in points.iter().enumerate() {
            if !(p.loss.is_finite() && p.loss > 0.0 && (0.0..=1.0).contains(&p.accuracy)) {
                return Err(VizError::InvalidInput(format!(
                    "{name} curve point {i} has loss {} and accuracy {}: expected a positive \
                     loss and an accuracy in [0, 1]",
                    p.loss, p.accuracy
                )));
            }
        }
        let values: Vec<f32> = points.iter().map(|p| p.epoch as f32).collect();
        check_finite(&values, &format!("{name} curve epochs"))?;
    }
    let largest = |pick: fn(&FrameData) -> &Maps| {
        data.iter()
            .flat_map(|d| pick(d).data.iter())
            .fold(0.0f32, |m, v| m.max(v.abs()))
    };
    let scales = EvolutionScales {
        conv1: ColourScale::diverging(largest(|d| &d.conv1)),
        conv2: ColourScale::diverging(largest(|d| &d.conv2)),
        relu1: ColourScale::sequential(0.0, largest(|d| &d.relu1), Palette::Viridis),
        relu2: ColourScale::sequential(0.0, largest(|d| &d.relu2), Palette::Viridis),
    };
    let layout = Layout::new(&data[0], &images);
    let axes = Axes::new(curves, epochs);
    let mut out = Vec::with_capacity(frames.len());
    for (i, (f, d)) in frames.iter().zip(&data).enumerate() {
        let figure = Frame {
            title,
            frame: f,
            data: d,
            images: &images,
            truth,
            curves,
            axes: &axes,
            scales: &scales,
            layout: &layout,
        };
        let pixels =
            render_rgb(&figure).map_err(|message| VizError::Frame { index: i, message })?;
        out.push(RgbImage {
            width: layout.width as u32,
            height: layout.height as u32,
            pixels,
        });
    }
    Ok(Evolution {
        frames: out,
        layout: layout.public(),
        scales,
    })
}

/// The smallest rectangle holding every pixel where `a` and `b` differ; `None` when
/// they are equal.
pub fn changed_region(a: &RgbImage, b: &RgbImage) -> Option<Region> {
    let (w, h) = (a.width as usize, a.height as usize);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..h {
        let row = y * w * 3..(y + 1) * w * 3;
        let (ra, rb) = (&a.pixels[row.clone()], &b.pixels[row]);
        if ra == rb {
            continue;
        }
        let first = (0..w).find(|&x| ra[x * 3..x * 3 + 3] != rb[x * 3..x * 3 + 3]);
        let last = (0..w)
            .rev()
            .find(|&x| ra[x * 3..x * 3 + 3] != rb[x * 3..x * 3 + 3]);
        if let (Some(f), Some(l)) = (first, last) {
            x0 = x0.min(f);
            x1 = x1.max(l);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    (x0 != usize::MAX).then(|| {
        [
            x0 as u32,
            y0 as u32,
            (x1 - x0 + 1) as u32,
            (y1 - y0 + 1) as u32,
        ]
    })
}

/// Writes `frames` (all of one size) as an animated PNG shown at `fps` frames per second,
/// looping forever, the last frame held three times as long. The first frame is stored
/// whole, each later one as the rectangle where it differs from the one before (replacing
/// those pixels, `BlendOp::Source`, and left in place, `DisposeOp::None`), so that a
/// decoder composes exactly the full frames. The file is written atomically.
pub fn write_apng(frames: &[RgbImage], fps: u16, path: &Path) -> Result<(), VizError> {
    check_non_empty("frames", frames.len())?;
    if fps == 0 {
        return Err(VizError::InvalidInput(
            "fps is 0, at least one frame per second".into(),
        ));
    }
    let (width, height) = (frames[0].width, frames[0].height);
    for (i, f) in frames.iter().enumerate() {
        if (f.width, f.height) != (width, height)
            || f.pixels.len() != width as usize * height as usize * 3
        {
            return Err(VizError::InvalidInput(format!(
                "frame {i} is {}x{} with {} bytes, expected {width}x{height} RGB like frame 0",
                f.width,
                f.height,
                f.pixels.len()
            )));
        }
    }
    let encode_error = |e: png::EncodingError| VizError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        encoder
            .set_animated(frames.len() as u32, 0)
            .map_err(encode_error)?;
        let mut writer = encoder.write_header().map_err(encode_error)?;
        for (i, f) in frames.iter().enumerate() {
            let delay = if i + 1 == frames.len() && frames.len() > 1 {
                3
            } else {
                1
            };
            writer.set_frame_delay(delay, fps).map_err(encode_error)?;
            writer
                .set_blend_op(png::BlendOp::Source)
                .map_err(encode_error)?;
            writer
                .set_dispose_op(png::DisposeOp::None)
                .map_err(encode_error)?;
            // An unchanged frame still needs a frame: one pixel, rewritten as it was.
            let [x, y, w, h] = if i == 0 {
                [0, 0, width, height]
            } else {
                changed_region(&frames[i - 1], f).unwrap_or([0, 0, 1, 1])
            };
            writer.reset_frame_position().map_err(encode_error)?;
            writer.set_frame_dimension(w, h).map_err(encode_error)?;
            writer.set_frame_position(x, y).map_err(encode_error)?;
            let mut region = Vec::with_capacity(w as usize * h as usize * 3);
            for row in y..y + h {
                let start = (row as usize * width as usize + x as usize) * 3;
                region.extend_from_slice(&f.pixels[start..start + w as usize * 3]);
            }
            writer.write_image_data(&region).map_err(encode_error)?;
        }
        writer.finish().map_err(encode_error)?;
    }
    write_atomically(path, &bytes)
}

struct FrameData {
    conv1: Maps,
    conv2: Maps,
    relu1: Maps,
    relu2: Maps,
}

impl FrameData {
    fn same_shapes(&self, o: &FrameData) -> bool {
        let dims = |m: &Maps| (m.n, m.c, m.h, m.w);
        [
            (&self.conv1, &o.conv1),
            (&self.conv2, &o.conv2),
            (&self.relu1, &o.relu1),
            (&self.relu2, &o.relu2),
        ]
        .iter()
        .all(|(a, b)| dims(a) == dims(b))
    }
}

/// Pixel places of everything, computed once from the shapes.
struct Layout {
    width: i32,
    height: i32,
    conv1: (i32, i32, i32, i32),
    conv2: (i32, i32, i32, i32),
    conv1_px: u32,
    conv2_px: u32,
    bars: [(i32, i32); 4],
    maps_top: i32,
    input_px: u32,
    relu1_px: u32,
    relu2_px: u32,
    row_h: i32,
    relu1_x: i32,
    relu2_x: i32,
    relu2_cols: usize,
    prediction_x: i32,
    maps_bottom: i32,
    curves_top: i32,
}

fn kernels_size(m: &Maps, px: u32) -> (i32, i32) {
    let cell = m.w as i32 * px as i32 + KERNEL_GAP;
    let row = m.h as i32 * px as i32 + KERNEL_GAP;
    (
        m.n as i32 * cell - KERNEL_GAP,
        m.c as i32 * row - KERNEL_GAP,
    )
}

impl Layout {
    fn new(d: &FrameData, images: &Maps) -> Layout {
        let top = TITLE_BLOCK + 8;
        let conv1_px = image_scale(d.conv1.w, FILTER1_SIDE);
        let conv2_px = image_scale(d.conv2.w, FILTER2_SIDE);
        let (w1, h1) = kernels_size(&d.conv1, conv1_px);
        let (w2, h2) = kernels_size(&d.conv2, conv2_px);
        let conv1 = (MARGIN, top + HEADING_H, w1, h1);
        let conv2_x = MARGIN + w1.max(BAR_LENGTH) + SECTION_GAP.max(BAR_GAP);
        let conv2 = (conv2_x, top + HEADING_H, w2, h2);
        let filters_bottom = top + HEADING_H + h1.max(h2) + 8;
        let input_px = image_scale(images.h, 56);
        let relu1_px = image_scale(d.relu1.h, 44);
        let relu2_px = image_scale(d.relu2.h, 26);
        let relu2_cols = d.relu2.c.div_ceil(RELU2_ROWS);
        let input_side = images.h as i32 * input_px as i32;
        let relu1_side = d.relu1.h as i32 * relu1_px as i32;
        let relu2_side = d.relu2.h as i32 * relu2_px as i32;
        let row_h = input_side
            .max(relu1_side)
            .max(RELU2_ROWS as i32 * (relu2_side + MAP_GAP) - MAP_GAP)
            + 10;
        let maps_top = filters_bottom + BAR_BLOCK + SECTION_GAP - 10 + HEADING_H;
        let relu1_x = MARGIN + images.w as i32 * input_px as i32 + SECTION_GAP / 2;
        let relu2_x = relu1_x
            + d.relu1.c as i32 * (d.relu1.w as i32 * relu1_px as i32 + MAP_GAP)
            + SECTION_GAP / 2;
        let prediction_x =
            relu2_x + relu2_cols as i32 * (d.relu2.w as i32 * relu2_px as i32 + MAP_GAP) + 12;
        let maps_bottom = maps_top + images.n as i32 * row_h;
        let bars_y = maps_bottom + 4;
        let relu2_bar_x = relu2_x.max(relu1_x + BAR_LENGTH + BAR_GAP);
        let curves_top = bars_y + BAR_BLOCK + SECTION_GAP / 2;
        let width = (prediction_x + PREDICTION_W)
            .max(conv2_x + w2.max(BAR_LENGTH))
            .max(relu2_bar_x + BAR_LENGTH)
            + MARGIN;
        Layout {
            width,
            height: curves_top + HEADING_H + CURVES_H + MARGIN + 20,
            conv1,
            conv2,
            conv1_px,
            conv2_px,
            bars: [
                (MARGIN, filters_bottom),
                (conv2_x, filters_bottom),
                (relu1_x, bars_y),
                (relu2_bar_x, bars_y),
            ],
            maps_top,
            input_px,
            relu1_px,
            relu2_px,
            row_h,
            relu1_x,
            relu2_x,
            relu2_cols,
            prediction_x,
            maps_bottom,
            curves_top,
        }
    }

    fn public(&self) -> EvolutionLayout {
        let r = |(x, y, w, h): (i32, i32, i32, i32)| [x as u32, y as u32, w as u32, h as u32];
        let bar = |(x, y): (i32, i32)| r((x, y, BAR_LENGTH, BAR_THICKNESS + 1));
        EvolutionLayout {
            size: (self.width as u32, self.height as u32),
            conv1: r(self.conv1),
            conv2: r(self.conv2),
            colour_bars: self.bars.map(bar),
            feature_maps: r((
                MARGIN,
                self.maps_top,
                self.prediction_x - MARGIN,
                self.maps_bottom - self.maps_top,
            )),
            curves: r((
                MARGIN,
                self.curves_top,
                self.width - 2 * MARGIN,
                HEADING_H + CURVES_H,
            )),
        }
    }
}

/// The fixed axes of the curves: epochs, the loss range (log) and the accuracy range.
struct Axes {
    epochs: f64,
    loss: (f64, f64),
    accuracy_min: f64,
}

impl Axes {
    fn new(curves: &EvolutionCurves, epochs: f64) -> Axes {
        let all = curves.train.iter().chain(&curves.validation);
        let (lo, hi) = all.clone().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.loss), hi.max(p.loss))
        });
        let loss = if lo <= hi {
            let lo = 10f64.powf(lo.log10().floor());
            let hi = 10f64.powf(hi.log10().ceil());
            (lo, if hi > lo { hi } else { lo * 10.0 })
        } else {
            (0.01, 10.0)
        };
        let accuracy_min = all
            .map(|p| p.accuracy)
            .fold(1.0f64, f64::min)
            .mul_add(10.0, 0.0)
            .floor()
            .clamp(0.0, 9.0)
            / 10.0;
        Axes {
            epochs: epochs.max(1.0),
            loss,
            accuracy_min,
        }
    }
}

struct Frame<'a> {
    title: &'a str,
    frame: &'a EvolutionFrame,
    data: &'a FrameData,
    images: &'a Maps,
    truth: &'a [String],
    curves: &'a EvolutionCurves,
    axes: &'a Axes,
    scales: &'a EvolutionScales,
    layout: &'a Layout,
}

const GOOD: RGBColor = RGBColor(46, 125, 50);

impl Figure for Frame<'_> {
    fn size(&self) -> (u32, u32) {
        (self.layout.width as u32, self.layout.height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let l = self.layout;
        let d = self.data;
        title_block(
            root,
            &format!("{}: the network learning", self.title),
            &self.frame.label,
        )?;
        // Filters.
        for ((x, y, _, _), maps, px, scale, name) in [
            (
                l.conv1,
                &d.conv1,
                l.conv1_px,
                &self.scales.conv1,
                "conv1 filters",
            ),
            (
                l.conv2,
                &d.conv2,
                l.conv2_px,
                &self.scales.conv2,
                "conv2 filters",
            ),
        ] {
            text(
                root,
                name,
                (x, y - HEADING_H),
                Ink::bold(HEADING),
                Anchor::TopLeft,
            )?;
            let cell = maps.w as i32 * px as i32 + KERNEL_GAP;
            let row = maps.h as i32 * px as i32 + KERNEL_GAP;
            for o in 0..maps.n {
                for c in 0..maps.c {
                    let plane = maps.plane(o, c);
                    cells(
                        root,
                        (x + o as i32 * cell, y + c as i32 * row),
                        (maps.w, maps.h),
                        (px, px),
                        |i, j| scale.rgb(plane[j * maps.w + i]),
                    )?;
                }
            }
        }
        // Feature maps.
        let headings = [
            (MARGIN, "input"),
            (l.relu1_x, "relu1"),
            (l.relu2_x, "relu2"),
            (l.prediction_x, "prediction"),
        ];
        for (x, name) in headings {
            text(
                root,
                name,
                (x, l.maps_top - HEADING_H),
                Ink::bold(HEADING),
                Anchor::TopLeft,
            )?;
        }
        for i in 0..self.images.n {
            let y = l.maps_top + i as i32 * l.row_h;
            image(root, (MARGIN, y), self.images, i, l.input_px)?;
            let side1 = d.relu1.w as i32 * l.relu1_px as i32;
            for c in 0..d.relu1.c {
                let plane = d.relu1.plane(i, c);
                cells(
                    root,
                    (l.relu1_x + c as i32 * (side1 + MAP_GAP), y),
                    (d.relu1.w, d.relu1.h),
                    (l.relu1_px, l.relu1_px),
                    |a, b| self.scales.relu1.rgb(plane[b * d.relu1.w + a]),
                )?;
            }
            let side2 = d.relu2.w as i32 * l.relu2_px as i32;
            for c in 0..d.relu2.c {
                let plane = d.relu2.plane(i, c);
                let (col, row) = (c % l.relu2_cols, c / l.relu2_cols);
                cells(
                    root,
                    (
                        l.relu2_x + col as i32 * (side2 + MAP_GAP),
                        y + row as i32 * (side2 + MAP_GAP),
                    ),
                    (d.relu2.w, d.relu2.h),
                    (l.relu2_px, l.relu2_px),
                    |a, b| self.scales.relu2.rgb(plane[b * d.relu2.w + a]),
                )?;
            }
            let p = &self.frame.predictions[i];
            text(
                root,
                &fit_text(
                    &format!("true {}", self.truth[i]),
                    PREDICTION_W,
                    LABEL,
                    false,
                ),
                (l.prediction_x, y + 4),
                Ink::muted(LABEL),
                Anchor::TopLeft,
            )?;
            let colour = if p.correct { GOOD } else { BAD };
            text(
                root,
                &fit_text(
                    &format!("{} {}", p.class, fmt_percent(p.probability)),
                    PREDICTION_W,
                    LABEL,
                    true,
                ),
                (l.prediction_x, y + 24),
                Ink::new(LABEL, true, colour),
                Anchor::TopLeft,
            )?;
        }
        // Colour bars, fixed over the frames.
        for ((x, y), scale) in l.bars.iter().zip([
            &self.scales.conv1,
            &self.scales.conv2,
            &self.scales.relu1,
            &self.scales.relu2,
        ]) {
            colour_bar(
                root,
                (*x, *y),
                BAR_LENGTH,
                BAR_THICKNESS,
                Orientation::Horizontal,
                scale,
            )?;
        }
        self.draw_curves(root)
    }
}

impl Frame<'_> {
    fn draw_curves<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let l = self.layout;
        let a = self.axes;
        let panel_w = (l.width - 2 * MARGIN - SECTION_GAP) / 2;
        let top = l.curves_top + HEADING_H;
        let progress = self.frame.progress;
        let shown = |points: &[CurvePoint]| -> Vec<CurvePoint> {
            points
                .iter()
                .copied()
                .filter(|p| p.epoch <= progress + 1e-9)
                .collect()
        };
        let (train, validation) = (shown(&self.curves.train), shown(&self.curves.validation));
        let (loss_lo, loss_hi) = (a.loss.0.log10(), a.loss.1.log10());
        let loss_y = |v: f64| (v.log10() - loss_lo) / (loss_hi - loss_lo);
        let accuracy_y = |v: f64| (v - a.accuracy_min) / (1.0 - a.accuracy_min);
        let loss_ticks: Vec<(f64, String)> = (loss_lo.round() as i32..=loss_hi.round() as i32)
            .map(|e| (10f64.powi(e), fmt_num(10f64.powi(e))))
            .collect();
        let accuracy_ticks: Vec<(f64, String)> = (0..=((1.0 - a.accuracy_min) * 10.0).round()
            as i32)
            .map(|k| {
                let v = a.accuracy_min + k as f64 / 10.0;
                (v, fmt_percent(v))
            })
            .step_by(if a.accuracy_min < 0.5 { 2 } else { 1 })
            .collect();
        for (k, (name, value, ticks)) in [
            (
                "loss (log scale)",
                &loss_y as &dyn Fn(f64) -> f64,
                &loss_ticks,
            ),
            (
                "accuracy",
                &accuracy_y as &dyn Fn(f64) -> f64,
                &accuracy_ticks,
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let x0 = MARGIN + k as i32 * (panel_w + SECTION_GAP) + 44;
            let x1 = MARGIN + k as i32 * (panel_w + SECTION_GAP) + panel_w;
            let (y0, y1) = (top, top + CURVES_H - 20);
            text(
                root,
                name,
                (x0, l.curves_top),
                Ink::bold(HEADING),
                Anchor::TopLeft,
            )?;
            rect(root, (x0, y0), (x1, y1), PANEL, true)?;
            frame(root, (x0, y0), (x1 - x0, y1 - y0), RULE)?;
            let px = |e: f64| x0 + ((e / a.epochs) * (x1 - x0) as f64).round() as i32;
            let py = |v: f64| y1 - (value(v).clamp(0.0, 1.0) * (y1 - y0) as f64).round() as i32;
            for (v, label) in ticks.iter() {
                let y = py(*v);
                line(root, vec![(x0 - 3, y), (x0, y)], MUTED, 1)?;
                text(root, label, (x0 - 5, y), Ink::muted(SMALL), Anchor::Right)?;
            }
            let every = if a.epochs > 10.0 { 5 } else { 1 };
            for e in (0..=a.epochs.floor() as usize).step_by(every) {
                let x = px(e as f64);
                line(root, vec![(x, y1), (x, y1 + 3)], MUTED, 1)?;
                text(
                    root,
                    &e.to_string(),
                    (x, y1 + 5),
                    Ink::muted(SMALL),
                    Anchor::TopCenter,
                )?;
            }
            let now = px(progress.min(a.epochs));
            line(root, vec![(now, y0), (now, y1)], RULE, 1)?;
            for (points, colour) in [(&train, TRAIN), (&validation, VALIDATION)] {
                let metric = |p: &CurvePoint| if k == 0 { p.loss } else { p.accuracy };
                let path: Vec<(i32, i32)> = points
                    .iter()
                    .map(|p| (px(p.epoch), py(metric(p))))
                    .collect();
                if path.len() > 1 {
                    line(root, path.clone(), colour, 2)?;
                }
                if let Some(&(x, y)) = path.last() {
                    root.draw(&Circle::new((x, y), 3, colour.filled()))?;
                }
            }
            // Loss falls and accuracy rises: the legend goes where the curves are not.
            let legend_y = if k == 0 { y0 + 8 } else { y1 - 10 };
            for (j, (label, colour)) in [("train", TRAIN), ("validation", VALIDATION)]
                .into_iter()
                .enumerate()
            {
                let lx = x1 - 150 + j as i32 * 60;
                line(root, vec![(lx, legend_y), (lx + 14, legend_y)], colour, 2)?;
                text(
                    root,
                    label,
                    (lx + 18, legend_y),
                    Ink::muted(SMALL),
                    Anchor::Left,
                )?;
            }
        }
        text(
            root,
            "epoch",
            (l.width / 2, top + CURVES_H + 2),
            Ink::muted(SMALL),
            Anchor::TopCenter,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, fill: u8) -> RgbImage {
        RgbImage {
            width,
            height,
            pixels: vec![fill; (width * height * 3) as usize],
        }
    }

    /// Frames written as changed rectangles decode, composed as the format says, to the
    /// very frames given, an unchanged frame included.
    #[test]
    fn an_apng_decodes_to_the_full_frames() {
        let mut frames = vec![image(40, 30, 200)];
        let mut next = frames[0].clone();
        for (i, v) in next.pixels[3 * 40 * 5..3 * 40 * 9].iter_mut().enumerate() {
            *v = (i % 251) as u8;
        }
        frames.push(next.clone());
        frames.push(next.clone());
        next.pixels[3 * (40 * 29 + 39)] = 0;
        frames.push(next);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        write_apng(&frames, 7, &path).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().animation_control().unwrap().num_frames, 4);
        let mut canvas = vec![0u8; 40 * 30 * 3];
        let mut buf = vec![0u8; reader.output_buffer_size()];
        for (i, expected) in frames.iter().enumerate() {
            reader.next_frame(&mut buf).unwrap();
            let fc = *reader.info().frame_control().unwrap();
            assert_eq!(fc.delay_den, 7);
            let w = fc.width as usize * 3;
            for row in 0..fc.height as usize {
                let at = ((fc.y_offset as usize + row) * 40 + fc.x_offset as usize) * 3;
                canvas[at..at + w].copy_from_slice(&buf[row * w..(row + 1) * w]);
            }
            assert!(
                canvas == expected.pixels,
                "frame {i} decodes to other pixels"
            );
            if i == 1 {
                assert_eq!((fc.y_offset, fc.height, fc.width), (5, 4, 40));
            }
        }
    }

    #[test]
    fn the_changed_region_is_the_bounding_box_of_the_differences() {
        let a = image(10, 8, 0);
        let mut b = a.clone();
        assert_eq!(changed_region(&a, &b), None);
        b.pixels[(2 * 10 + 3) * 3 + 1] = 9;
        b.pixels[(6 * 10 + 7) * 3] = 9;
        assert_eq!(changed_region(&a, &b), Some([3, 2, 5, 5]));
    }
}
