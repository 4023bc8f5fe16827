//! Figure 4: the kernels of one convolution layer on a diverging scale centred on zero.

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::{is_dark, ColourScale, Palette};
use crate::data::Maps;
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// How many filters [`draw_filters`] draws in full unless told otherwise.
pub const DEFAULT_MAX_FILTERS: usize = 16;

const KERNEL_GAP: i32 = 8;
const BAR_THICKNESS: i32 = 14;
/// Overview cell size (filter columns × input-channel rows).
const OVERVIEW_CELL: (u32, u32) = (8, 14);
/// Extra space above the RGB composite row.
const COMPOSITE_GAP: i32 = 10;
/// Row labels of a layer reading RGB images.
const RGB_ROWS: [&str; 3] = ["R", "G", "B"];
const COMPOSITE_ROW: &str = "RGB";

/// One filter of a layer reading RGB images as an RGB image: `filter` holds
/// the `3 × plane` weights (R plane, G plane, B plane), which are scaled
/// jointly to `[0, 1]` (the filter's smallest weight → 0, largest → 1), so the
/// three channels keep their relative strength. A constant filter is mid grey.
pub(crate) fn rgb_composite(filter: &[f32], plane: usize) -> Vec<[u8; 3]> {
    let (lo, hi) = crate::colour::finite_range(filter);
    let byte = |v: f32| -> u8 {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    (0..plane)
        .map(|p| {
            let at = |ch: usize| filter.get(ch * plane + p).copied().unwrap_or(lo);
            [byte(at(0)), byte(at(1)), byte(at(2))]
        })
        .collect()
}

struct Filters {
    title: String,
    subtitle: String,
    weights: Maps,
    /// Output filters drawn in full, in drawing order.
    shown: Vec<usize>,
    /// Per-(filter, input channel) L2 norms, `[O][C]`, when not all filters are shown.
    overview: Option<Vec<Vec<f32>>>,
    scale: ColourScale,
    norm_scale: ColourScale,
    /// The input channels are R, G, B: rows named so, plus a composite row.
    rgb: bool,
    px: u32,
    print_values: bool,
    label_w: i32,
    grid_top: i32,
    overview_top: i32,
    width: u32,
    height: u32,
}

/// Draws the kernels of a convolution layer with weight `[O, C, K, K]`: one
/// column per output filter, one row per input channel, all on a single
/// blue-white-red scale centred on zero (shared by the whole layer) with a
/// colour bar. Small kernels carry their values.
///
/// When the layer has more than `max_filters` filters, the `max_filters`
/// strongest (largest L2 norm) are drawn in full, and an overview heat map
/// shows the L2 norm of every (filter, input channel) kernel, with the drawn
/// filters marked.
pub fn draw_filters(
    layer_name: &str,
    weight: &Tensor,
    max_filters: usize,
    path: &Path,
) -> Result<(), VizError> {
    let figure = Filters::new(layer_name, weight, max_filters, false)?;
    render(&figure, path)
}

/// Draws the kernels of a layer that reads the input images, with weight
/// `[O, C, K, K]` where `C` is 1 (grey) or 3 (RGB).
///
/// For grey images this is [`draw_filters`]. For RGB images the rows are the
/// R, G and B weights of each filter on the shared blue-white-red scale, and a
/// last row shows each filter as an RGB image, its three channels' weights
/// scaled jointly to `[0, 1]` per filter (smallest weight black, largest full
/// colour), the usual way of showing first-layer filters: a filter that
/// responds to red appears red. Any other `C` is a [`VizError::Shape`].
pub fn draw_input_filters(
    layer_name: &str,
    weight: &Tensor,
    max_filters: usize,
    path: &Path,
) -> Result<(), VizError> {
    let figure = Filters::new(layer_name, weight, max_filters, true)?;
    render(&figure, path)
}

impl Filters {
    fn new(
        layer_name: &str,
        weight: &Tensor,
        max_filters: usize,
        input_layer: bool,
    ) -> Result<Self, VizError> {
        if max_filters == 0 {
            return Err(VizError::InvalidInput(format!(
                "max_filters is 0 for layer {layer_name}, at least one filter must be drawn"
            )));
        }
        let what = format!("weight tensor for layer {layer_name}");
        let weights = Maps::from_tensor(weight, &what).map_err(|e| match e {
            VizError::Shape { what, shape, .. } => VizError::Shape {
                what,
                shape,
                expected: "4-D [out_channels, in_channels, K, K]".to_string(),
            },
            other => other,
        })?;
        let (o, c, kh, kw) = (weights.n, weights.c, weights.h, weights.w);
        if input_layer && c != 1 && c != 3 {
            return Err(crate::data::shape_error(
                &what,
                &[o, c, kh, kw],
                "[out_channels, C, K, K] with C = 1 (grey) or C = 3 (RGB) input channels",
            ));
        }
        let rgb = input_layer && c == 3;
        let norms: Vec<Vec<f32>> = (0..o)
            .map(|f| {
                (0..c)
                    .map(|ch| {
                        weights
                            .plane(f, ch)
                            .iter()
                            .map(|v| v * v)
                            .sum::<f32>()
                            .sqrt()
                    })
                    .collect()
            })
            .collect();
        let (shown, overview) = if o <= max_filters {
            ((0..o).collect::<Vec<_>>(), None)
        } else {
            let total: Vec<f32> = norms
                .iter()
                .map(|row| row.iter().map(|n| n * n).sum::<f32>().sqrt())
                .collect();
            let mut order: Vec<usize> = (0..o).collect();
            order.sort_by(|&a, &b| total[b].total_cmp(&total[a]).then(a.cmp(&b)));
            order.truncate(max_filters);
            (order, Some(norms))
        };
        let max_abs = weights.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = ColourScale::diverging(max_abs);
        let max_norm = overview
            .as_ref()
            .map(|n| n.iter().flatten().fold(0.0f32, |m, v| m.max(*v)))
            .unwrap_or(0.0);
        let norm_scale = ColourScale::sequential(0.0, max_norm, Palette::Viridis);

        let few = shown.len() * c <= 16;
        let target = if few { 96 } else { 48 };
        let px = (target / kh.max(kw)).clamp(3, 32) as u32;
        let print_values = px >= 28;
        let kernel_w = (kw as u32 * px) as i32;
        let kernel_h = (kh as u32 * px) as i32;

        let label_w = text_width(&format!("in {}", c.saturating_sub(1)), LABEL, false)
            .max(text_width("input channel", SMALL, false))
            .max(if rgb {
                text_width(COMPOSITE_ROW, LABEL, true)
            } else {
                0
            })
            + 12;
        let cols = shown.len() as i32;
        let grid_w = cols * kernel_w + (cols - 1) * KERNEL_GAP;
        let mut grid_h = c as i32 * kernel_h + (c as i32 - 1) * KERNEL_GAP;
        if rgb {
            grid_h += KERNEL_GAP + COMPOSITE_GAP + kernel_h;
        }
        let bar_w = vertical_bar_width(&scale, BAR_THICKNESS) + 24;
        let grid_top = TITLE_BLOCK + 34;
        let mut width = MARGIN + label_w + grid_w + bar_w + MARGIN;
        let mut height = grid_top + grid_h.max(120) + MARGIN;
        let mut overview_top = 0;
        if overview.is_some() {
            overview_top = height + 8;
            let ov_w = o as i32 * OVERVIEW_CELL.0 as i32;
            let ov_h = c as i32 * OVERVIEW_CELL.1 as i32;
            width = width.max(
                MARGIN
                    + label_w
                    + ov_w
                    + vertical_bar_width(&norm_scale, BAR_THICKNESS)
                    + 24
                    + MARGIN,
            );
            height = overview_top + 48 + ov_h.max(100) + 52 + MARGIN;
        }
        let kind = if overview.is_some() {
            format!(
                "the {} strongest of {o} filters by L2 norm, in order",
                shown.len()
            )
        } else {
            format!("all {o} filters")
        };
        let title = format!("{layer_name} filters ({o}×{c} kernels of {kh}×{kw})");
        let subtitle = if rgb {
            format!(
                "{kind} · columns: output filter, rows: R, G, B weights (one scale for the layer, blue < 0 < red) and the filter as an RGB image (its weights scaled to [0, 1])"
            )
        } else {
            format!(
                "{kind} · columns: output filter, rows: input channel · one scale for the layer, blue < 0 < red"
            )
        };
        width = width.max(title_width(&title, &subtitle));
        Ok(Filters {
            title,
            subtitle,
            weights,
            shown,
            overview,
            scale,
            norm_scale,
            rgb,
            px,
            print_values,
            label_w,
            grid_top,
            overview_top,
            width: width as u32,
            height: height as u32,
        })
    }
}

impl Filters {
    /// Top of the RGB composite row.
    fn composite_top(&self, kernel_h: i32) -> i32 {
        self.grid_top + self.weights.c as i32 * (kernel_h + KERNEL_GAP) + COMPOSITE_GAP
    }
}

impl Figure for Filters {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let w = &self.weights;
        let kernel_w = (w.w as u32 * self.px) as i32;
        let kernel_h = (w.h as u32 * self.px) as i32;
        let left = MARGIN + self.label_w;
        let top = self.grid_top;
        for (col, &filter) in self.shown.iter().enumerate() {
            let x = left + col as i32 * (kernel_w + KERNEL_GAP);
            text(
                root,
                &format!("f{filter}"),
                (x + kernel_w / 2, top - 6),
                Ink::body(if kernel_w < 30 { SMALL } else { LABEL }),
                Anchor::BottomCenter,
            )?;
            for ch in 0..w.c {
                let y = top + ch as i32 * (kernel_h + KERNEL_GAP);
                let plane = w.plane(filter, ch);
                cells(root, (x, y), (w.w, w.h), (self.px, self.px), |kx, ky| {
                    self.scale.rgb(plane[ky * w.w + kx])
                })?;
                frame(root, (x, y), (kernel_w, kernel_h), RULE)?;
                if self.print_values {
                    for ky in 0..w.h {
                        for kx in 0..w.w {
                            let v = plane[ky * w.w + kx];
                            let colour = if is_dark(self.scale.rgb(v)) {
                                WHITE
                            } else {
                                INK
                            };
                            let cx = x + (kx as u32 * self.px + self.px / 2) as i32;
                            let cy = y + (ky as u32 * self.px + self.px / 2) as i32;
                            text(
                                root,
                                &format!("{v:.2}"),
                                (cx, cy),
                                Ink::new(9.0, false, colour),
                                Anchor::Center,
                            )?;
                        }
                    }
                }
            }
            if self.rgb {
                let y = self.composite_top(kernel_h);
                let colours = rgb_composite(w.item(filter), w.h * w.w);
                cells(root, (x, y), (w.w, w.h), (self.px, self.px), |kx, ky| {
                    colours[ky * w.w + kx]
                })?;
                frame(root, (x, y), (kernel_w, kernel_h), RULE)?;
            }
        }
        for ch in 0..w.c {
            let y = top + ch as i32 * (kernel_h + KERNEL_GAP) + kernel_h / 2;
            let label = match RGB_ROWS.get(ch) {
                Some(name) if self.rgb => name.to_string(),
                _ => format!("in {ch}"),
            };
            text(
                root,
                &label,
                (left - 10, y),
                Ink::body(LABEL),
                Anchor::Right,
            )?;
        }
        if self.rgb {
            text(
                root,
                COMPOSITE_ROW,
                (left - 10, self.composite_top(kernel_h) + kernel_h / 2),
                Ink::bold(LABEL),
                Anchor::Right,
            )?;
        }
        let cols = self.shown.len() as i32;
        let grid_w = cols * kernel_w + (cols - 1) * KERNEL_GAP;
        let grid_h = w.c as i32 * kernel_h + (w.c as i32 - 1) * KERNEL_GAP;
        let bar_len = grid_h.max(120);
        let bar_x = left + grid_w + 24;
        text(
            root,
            "weight",
            (bar_x, top - 28),
            Ink::muted(SMALL),
            Anchor::TopLeft,
        )?;
        colour_bar(
            root,
            (bar_x, top),
            bar_len,
            BAR_THICKNESS,
            Orientation::Vertical,
            &self.scale,
        )?;

        if let Some(norms) = &self.overview {
            let y0 = self.overview_top;
            rect(
                root,
                (MARGIN, y0 - 4),
                (self.width as i32 - MARGIN, y0 - 3),
                RULE,
                true,
            )?;
            text(
                root,
                &format!("Overview: L2 norm of every {}×{} kernel", w.h, w.w),
                (MARGIN, y0 + 8),
                Ink::bold(HEADING),
                Anchor::TopLeft,
            )?;
            text(
                root,
                "columns: all output filters, rows: input channels · ▲ marks the filters drawn above",
                (MARGIN, y0 + 28),
                Ink::muted(SMALL),
                Anchor::TopLeft,
            )?;
            let oy = y0 + 48;
            let (cw, chh) = OVERVIEW_CELL;
            cells(root, (left, oy), (w.n, w.c), (cw, chh), |f, ch| {
                self.norm_scale.rgb(norms[f][ch])
            })?;
            let ov_w = w.n as i32 * cw as i32;
            let ov_h = w.c as i32 * chh as i32;
            frame(root, (left, oy), (ov_w, ov_h), RULE)?;
            for ch in 0..w.c {
                if ch % 5 == 0 || ch + 1 == w.c {
                    let y = oy + ch as i32 * chh as i32 + chh as i32 / 2;
                    text(
                        root,
                        &format!("in {ch}"),
                        (left - 8, y),
                        Ink::body(SMALL),
                        Anchor::Right,
                    )?;
                }
            }
            for &f in &self.shown {
                let x = left + f as i32 * cw as i32 + cw as i32 / 2;
                root.draw(&Polygon::new(
                    vec![
                        (x, oy + ov_h + 3),
                        (x - 4, oy + ov_h + 10),
                        (x + 4, oy + ov_h + 10),
                    ],
                    INK.filled(),
                ))?;
            }
            for f in (0..w.n).step_by(10) {
                let x = left + f as i32 * cw as i32 + cw as i32 / 2;
                text(
                    root,
                    &f.to_string(),
                    (x, oy + ov_h + 14),
                    Ink::muted(SMALL),
                    Anchor::TopCenter,
                )?;
            }
            text(
                root,
                "output filter",
                (left + ov_w / 2, oy + ov_h + 32),
                Ink::body(LABEL),
                Anchor::TopCenter,
            )?;
            colour_bar(
                root,
                (left + ov_w + 24, oy),
                ov_h.max(100),
                BAR_THICKNESS,
                Orientation::Vertical,
                &self.norm_scale,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_composite_scales_all_three_channels_of_a_filter_jointly() {
        // Two pixels: R weights 1.0 and 0.0, G weights -1.0 and 0.0, B -1.0 and 0.5.
        let filter = [1.0, 0.0, -1.0, 0.0, -1.0, 0.5];
        assert_eq!(
            rgb_composite(&filter, 2),
            vec![[255, 0, 0], [128, 128, 191]]
        );
        // Scaling the whole filter does not change the picture.
        let doubled: Vec<f32> = filter.iter().map(|v| v * 2.0).collect();
        assert_eq!(rgb_composite(&doubled, 2), rgb_composite(&filter, 2));
        // A constant filter is mid grey; a short slice does not panic.
        assert_eq!(rgb_composite(&[0.3; 3], 1), vec![[128, 128, 128]]);
        assert_eq!(rgb_composite(&[1.0, 2.0], 1), vec![[0, 255, 0]]);
    }
}
