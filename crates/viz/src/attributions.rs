//! Attribution maps compared: images in rows, methods in columns, each map over its image;
//! and the deletion and insertion curves of every method against a random order.

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::ColourScale;
use crate::data::{check_image_channels, check_len, check_non_empty, shape_error, Maps};
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

const TARGET: usize = 84;
const GAP: i32 = 10;

/// One method's maps for [`draw_attributions`].
#[derive(Debug, Clone)]
pub struct AttributionColumn {
    /// The column heading (`Grad-CAM`).
    pub title: String,
    /// One map per image, `[N, H, W]` at the images' resolution; signed values are drawn
    /// warm where positive and blue where negative.
    pub maps: Tensor,
}

struct Attributions {
    title: String,
    subtitle: String,
    images: Maps,
    /// Per column, per image: the map divided by its largest magnitude.
    maps: Vec<Vec<Vec<f32>>>,
    headings: Vec<String>,
    captions: Vec<Vec<String>>,
    scale: u32,
    label_w: i32,
    col_w: i32,
    width: u32,
    height: u32,
}

/// Draws the images in rows and, next to each, one column per method with the method's
/// map over the dimmed image.
///
/// `images` is `[N, C, H, W]` in `[0, 1]` (C = 1 or 3); every column's maps are
/// `[N, H, W]`. Each map is scaled to its own largest magnitude, so the figure shows where
/// each method puts the evidence, not how much; positive values are red to yellow,
/// negative ones blue. `captions` (one per image, lines separated by ` / `, e.g.
/// `true 6 / pred 0`) label the rows.
pub fn draw_attributions(
    images: &Tensor,
    columns: &[AttributionColumn],
    captions: &[String],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = Attributions::new(images, columns, captions, title)?;
    render(&figure, path)
}

impl Attributions {
    fn new(
        images: &Tensor,
        columns: &[AttributionColumn],
        captions: &[String],
        title: &str,
    ) -> Result<Self, VizError> {
        let images = Maps::from_tensor(images, "image tensor")?;
        check_image_channels(&images, "image tensor")?;
        check_non_empty("columns", columns.len())?;
        check_len("captions", captions.len(), images.n, "the image tensor (N)")?;
        let mut maps = Vec::with_capacity(columns.len());
        for column in columns {
            let what = format!("map tensor of {}", column.title);
            let dims = column.maps.dims().to_vec();
            if dims != [images.n, images.h, images.w] {
                return Err(shape_error(
                    &what,
                    &dims,
                    &format!(
                        "[{}, {}, {}] to match the image tensor",
                        images.n, images.h, images.w
                    ),
                ));
            }
            let m = Maps::from_tensor(
                &column
                    .maps
                    .unsqueeze(1)
                    .map_err(|source| VizError::Tensor {
                        what: what.clone(),
                        source,
                    })?,
                &what,
            )?;
            maps.push(
                (0..m.n)
                    .map(|i| {
                        let item = m.item(i);
                        let max = item.iter().fold(0f32, |a, v| a.max(v.abs()));
                        item.iter()
                            .map(|v| if max > 0.0 { v / max } else { 0.0 })
                            .collect()
                    })
                    .collect(),
            );
        }
        let scale = image_scale(images.h.max(images.w), TARGET);
        let tile_w = (images.w as u32 * scale) as i32;
        let tile_h = (images.h as u32 * scale) as i32;
        let captions: Vec<Vec<String>> = captions
            .iter()
            .map(|c| c.split(" / ").map(|l| l.trim().to_string()).collect())
            .collect();
        let label_w = captions
            .iter()
            .flatten()
            .map(|l| text_width(l, LABEL, true))
            .max()
            .unwrap_or(0)
            .min(140)
            + 14;
        let headings: Vec<String> = std::iter::once("input".to_string())
            .chain(columns.iter().map(|c| c.title.clone()))
            .collect();
        let widest = headings
            .iter()
            .map(|h| text_width(h, LABEL, true))
            .max()
            .unwrap_or(0);
        let col_w = tile_w.max(widest.min(150)) + GAP;
        let n = images.n as i32;
        let subtitle = format!(
            "{n} test images · each map scaled to its own largest magnitude · warm: for the \
             class, blue: against it"
        );
        let width = (MARGIN + label_w + headings.len() as i32 * col_w + MARGIN)
            .max(title_width(title, &subtitle));
        let height = TITLE_BLOCK + 28 + n * (tile_h + GAP) + MARGIN;
        Ok(Attributions {
            title: title.to_string(),
            subtitle,
            images,
            maps,
            headings,
            captions,
            scale,
            label_w,
            col_w,
            width: width as u32,
            height: height as u32,
        })
    }
}

/// The colour of one pixel: the image (grey or RGB, in `[0, 1]`) dimmed to 55 %, blended
/// with a red-to-yellow colour for positive `t` and a blue one for negative `t`, by
/// `sqrt(|t|)` (`t` is the value over the map's largest magnitude). The saliency figure
/// uses it too, with `t` in `[0, 1]`.
pub(crate) fn overlay(image: [f32; 3], t: f32) -> [u8; 3] {
    let a = t.abs().min(1.0);
    let alpha = a.sqrt();
    let hot = if t >= 0.0 {
        [255.0, 80.0 + 175.0 * a, 40.0 * (1.0 - a)]
    } else {
        let [r, g, b] = ColourScale::DIVERGING_LOW;
        [f32::from(r), f32::from(g), f32::from(b)]
    };
    let mut out = [0u8; 3];
    for ch in 0..3 {
        let base = image[ch].clamp(0.0, 1.0) * 0.55 * 255.0;
        out[ch] = (base * (1.0 - alpha) + hot[ch] * alpha)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    out
}

impl Figure for Attributions {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let m = &self.images;
        let px = self.scale;
        let tile_w = (m.w as u32 * px) as i32;
        let tile_h = (m.h as u32 * px) as i32;
        let left = MARGIN + self.label_w;
        let top = TITLE_BLOCK + 28;
        for (c, heading) in self.headings.iter().enumerate() {
            let x = left + c as i32 * self.col_w + tile_w / 2;
            let shown = fit_text(heading, self.col_w - 4, LABEL, true);
            text(
                root,
                &shown,
                (x, top - 8),
                Ink::bold(LABEL),
                Anchor::BottomCenter,
            )?;
        }
        let plane = m.h * m.w;
        for i in 0..m.n {
            let y = top + i as i32 * (tile_h + GAP);
            let lines = &self.captions[i];
            for (l, caption) in lines.iter().enumerate() {
                let ly = y + tile_h / 2 + (2 * l as i32 - lines.len() as i32 + 1) * 8;
                let ink = if l == 0 {
                    Ink::bold(LABEL)
                } else {
                    Ink::body(LABEL)
                };
                let shown = fit_text(caption, self.label_w - 14, LABEL, l == 0);
                text(root, &shown, (left - 10, ly), ink, Anchor::Right)?;
            }
            image(root, (left, y), m, i, px)?;
            frame(root, (left, y), (tile_w, tile_h), RULE)?;
            let item = m.item(i);
            for (c, maps) in self.maps.iter().enumerate() {
                let x = left + (c as i32 + 1) * self.col_w;
                let map = &maps[i];
                cells(root, (x, y), (m.w, m.h), (px, px), |cx, cy| {
                    let p = cy * m.w + cx;
                    let colour = if m.c == 3 {
                        [item[p], item[plane + p], item[2 * plane + p]]
                    } else {
                        [item[p]; 3]
                    };
                    overlay(colour, map[p])
                })?;
                frame(root, (x, y), (tile_w, tile_h), RULE)?;
            }
        }
        Ok(())
    }
}

/// One ordering's curves for [`draw_faithfulness`].
#[derive(Debug, Clone, PartialEq)]
pub struct FaithfulnessSeries {
    /// The legend's name (`Grad-CAM`, `random`).
    pub name: String,
    /// The mean target probability with the first `k / steps` of the pixels removed.
    pub deletion: Vec<f64>,
    /// The mean target probability with the first `k / steps` put back into an emptied
    /// image.
    pub insertion: Vec<f64>,
    /// Area under the deletion curve (shown in the legend).
    pub deletion_auc: f64,
    /// Area under the insertion curve.
    pub insertion_auc: f64,
}

const PANEL_W: i32 = 520;
const PANEL_H: i32 = 420;
const PANEL_GAP: i32 = 24;

/// Distinct colours for up to ten series; the random baseline is drawn grey and dashed.
const SERIES: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 115, 0),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(31, 60, 120),
];

struct FaithfulnessFigure {
    title: String,
    subtitle: String,
    series: Vec<FaithfulnessSeries>,
    random: FaithfulnessSeries,
    width: u32,
    height: u32,
}

/// Draws the deletion curves (left; lower is more faithful) and the insertion curves
/// (right; higher is more faithful) of every method, with `random` as a grey dashed
/// baseline, and each series' area under the curve in the legend.
pub fn draw_faithfulness(
    series: &[FaithfulnessSeries],
    random: &FaithfulnessSeries,
    images: usize,
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    check_non_empty("series", series.len())?;
    if series.len() > SERIES.len() {
        return Err(VizError::InvalidInput(format!(
            "{} series: at most {} can be told apart",
            series.len(),
            SERIES.len()
        )));
    }
    let points = random.deletion.len();
    for s in series.iter().chain(std::iter::once(random)) {
        if s.deletion.len() != points || s.insertion.len() != points || points < 2 {
            return Err(VizError::InvalidInput(format!(
                "series {}: {} deletion and {} insertion points, expected {} each (at least 2)",
                s.name,
                s.deletion.len(),
                s.insertion.len(),
                points.max(2)
            )));
        }
        if let Some(v) = s
            .deletion
            .iter()
            .chain(&s.insertion)
            .find(|v| !v.is_finite())
        {
            return Err(VizError::InvalidInput(format!(
                "series {}: non-finite value {v}",
                s.name
            )));
        }
    }
    let subtitle = format!(
        "mean target probability over {images} test images as pixels are removed (left) or \
         put back (right) in each method's order; area under the curve in brackets"
    );
    let width = (2 * PANEL_W + PANEL_GAP + 2 * MARGIN).max(title_width(title, &subtitle));
    let figure = FaithfulnessFigure {
        title: title.to_string(),
        subtitle,
        series: series.to_vec(),
        random: random.clone(),
        width: width as u32,
        height: (TITLE_BLOCK + 6 + PANEL_H + MARGIN) as u32,
    };
    render(&figure, path)
}

impl Figure for FaithfulnessFigure {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let left_x = (self.width as i32 - (2 * PANEL_W + PANEL_GAP)) / 2;
        let body = root.clone().shrink(
            (left_x, TITLE_BLOCK + 6),
            (2 * PANEL_W + PANEL_GAP, PANEL_H),
        );
        let (del_area, rest) = body.split_horizontally(PANEL_W);
        let ins_area = rest.shrink((PANEL_GAP, 0), (PANEL_W, PANEL_H));
        for (deletion, area) in [(true, del_area), (false, ins_area)] {
            let caption = if deletion {
                "Deletion (lower is more faithful)"
            } else {
                "Insertion (higher is more faithful)"
            };
            let mut chart = ChartBuilder::on(&area)
                .caption(caption, font(HEADING, true).color(&INK))
                .margin(8)
                .x_label_area_size(44)
                .y_label_area_size(56)
                .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
            chart
                .configure_mesh()
                .x_desc(if deletion {
                    "fraction of pixels removed"
                } else {
                    "fraction of pixels put back"
                })
                .y_desc("target probability")
                .x_label_formatter(&|v| fmt_num(*v))
                .y_label_formatter(&|v| fmt_num(*v))
                .label_style(font(SMALL, false).color(&INK))
                .axis_desc_style(font(LABEL, false).color(&INK))
                .bold_line_style(RGBColor(230, 232, 235))
                .light_line_style(RGBColor(246, 247, 248))
                .axis_style(RULE)
                .draw()?;
            let curve = |s: &FaithfulnessSeries| -> Vec<(f64, f64)> {
                let v = if deletion { &s.deletion } else { &s.insertion };
                let steps = (v.len() - 1) as f64;
                v.iter()
                    .enumerate()
                    .map(|(k, &p)| (k as f64 / steps, p))
                    .collect()
            };
            let grey = RGBColor(120, 120, 120);
            chart.draw_series(DashedLineSeries::new(
                curve(&self.random),
                6,
                4,
                grey.stroke_width(2),
            ))?;
            for (s, colour) in self.series.iter().zip(SERIES) {
                chart.draw_series(LineSeries::new(curve(s), colour.stroke_width(2)))?;
            }
            // Legend.
            let (xs, ys) = chart.plotting_area().get_pixel_range();
            let entries: Vec<(String, RGBColor)> = self
                .series
                .iter()
                .zip(SERIES)
                .chain(std::iter::once((&self.random, grey)))
                .map(|(s, c)| {
                    let auc = if deletion {
                        s.deletion_auc
                    } else {
                        s.insertion_auc
                    };
                    (format!("{} ({auc:.3})", s.name), c)
                })
                .collect();
            let text_w = entries
                .iter()
                .map(|(n, _)| text_width(n, SMALL, false))
                .max()
                .unwrap_or(0);
            let (w, h) = (8 + 24 + 6 + text_w + 8, 8 + entries.len() as i32 * 16);
            let x = xs.end - 8 - w;
            let y = if deletion {
                ys.start + 8
            } else {
                ys.end - 8 - h
            };
            rect(root, (x, y), (x + w, y + h), WHITE, true)?;
            rect(root, (x, y), (x + w, y + h), RULE, false)?;
            for (i, (name, colour)) in entries.iter().enumerate() {
                let ly = y + 4 + 8 + i as i32 * 16;
                line(root, vec![(x + 8, ly), (x + 32, ly)], *colour, 2)?;
                text(root, name, (x + 38, ly), Ink::body(SMALL), Anchor::Left)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_is_warm_for_and_blue_against() {
        assert_eq!(overlay([1.0, 0.0, 0.0], 0.0), [140, 0, 0]);
        assert_eq!(overlay([0.0, 0.0, 1.0], 1.0), [255, 255, 0]);
        assert_eq!(overlay([0.5; 3], -1.0), ColourScale::DIVERGING_LOW);
    }
}
