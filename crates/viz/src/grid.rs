//! Figures 2 and 7b: grids of input images with captions (training samples, misclassified images).

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::data::{check_columns, check_image_channels, check_len, Maps};
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// A test image the network got wrong, for [`draw_misclassified`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Misclassified {
    /// Index of the true class in `class_names`.
    pub true_class: usize,
    /// Index of the predicted class in `class_names`.
    pub predicted: usize,
    /// Softmax probability of the predicted class, in `[0, 1]`.
    pub confidence: f64,
}

/// Images are enlarged by a whole factor to about this many pixels per side.
const TARGET: usize = 84;
const GAP: i32 = 14;
const LINE: i32 = 16;

struct ImageGrid {
    title: String,
    subtitle: String,
    maps: Maps,
    captions: Vec<Vec<(String, Ink)>>,
    columns: usize,
    scale: u32,
    cell_w: i32,
    cell_h: i32,
    width: u32,
    height: u32,
}

impl ImageGrid {
    fn new(
        title: &str,
        subtitle: String,
        maps: Maps,
        captions: Vec<Vec<(String, Ink)>>,
        columns: usize,
    ) -> Self {
        let side = maps.h.max(maps.w);
        let scale = image_scale(side, TARGET);
        let image_w = (maps.w as u32 * scale) as i32;
        let image_h = (maps.h as u32 * scale) as i32;
        let lines = captions.iter().map(Vec::len).max().unwrap_or(0) as i32;
        let widest = captions
            .iter()
            .flatten()
            .map(|(t, ink)| text_width(t, ink.size, ink.bold))
            .max()
            .unwrap_or(0);
        let cell_w = image_w.max(widest.min(image_w + 40));
        let cell_h = image_h + 6 + lines * LINE;
        let columns = columns.min(maps.n).max(1);
        let rows = maps.n.div_ceil(columns) as i32;
        let grid_w = columns as i32 * cell_w + (columns as i32 - 1) * GAP;
        let width = (grid_w + 2 * MARGIN).max(title_width(title, &subtitle));
        let height = TITLE_BLOCK + 8 + rows * cell_h + (rows - 1) * GAP + MARGIN;
        ImageGrid {
            title: title.to_string(),
            subtitle,
            maps,
            captions,
            columns,
            scale,
            cell_w,
            cell_h,
            width: width as u32,
            height: height as u32,
        }
    }
}

impl Figure for ImageGrid {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let grid_w = self.columns as i32 * self.cell_w + (self.columns as i32 - 1) * GAP;
        let left = (self.width as i32 - grid_w) / 2;
        let image_w = (self.maps.w as u32 * self.scale) as i32;
        let image_h = (self.maps.h as u32 * self.scale) as i32;
        for i in 0..self.maps.n {
            let row = (i / self.columns) as i32;
            let col = (i % self.columns) as i32;
            let x = left + col * (self.cell_w + GAP);
            let y = TITLE_BLOCK + 8 + row * (self.cell_h + GAP);
            let ix = x + (self.cell_w - image_w) / 2;
            image(root, (ix, y), &self.maps, i, self.scale)?;
            frame(root, (ix, y), (image_w, image_h), RULE)?;
            let cx = x + self.cell_w / 2;
            for (line_no, (caption, ink)) in self.captions[i].iter().enumerate() {
                let shown = fit_text(caption, self.cell_w + GAP - 2, ink.size, ink.bold);
                let ty = y + image_h + 5 + line_no as i32 * LINE;
                text(root, &shown, (cx, ty), *ink, Anchor::TopCenter)?;
            }
        }
        Ok(())
    }
}

/// Draws a grid of images with one caption each (e.g. the class name), `columns` per row.
///
/// `images` is `[N, C, H, W]` with values in `[0, 1]` (clamped), `C` = 1 (grey)
/// or 3 (RGB); `captions` has one entry per image.
pub fn draw_samples(
    images: &Tensor,
    captions: &[String],
    columns: usize,
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    check_columns(columns)?;
    let maps = Maps::from_tensor(images, "sample image tensor")?;
    check_image_channels(&maps, "sample image tensor")?;
    check_len(
        "captions",
        captions.len(),
        maps.n,
        "the sample image tensor (N)",
    )?;
    let subtitle = format!("{} images · {}×{} pixels", maps.n, maps.h, maps.w);
    let captions = captions
        .iter()
        .map(|c| vec![(c.clone(), Ink::body(LABEL))])
        .collect();
    render(
        &ImageGrid::new(title, subtitle, maps, captions, columns),
        path,
    )
}

/// Draws a grid of misclassified images, each captioned with its true class,
/// the predicted class (in red) and the network's confidence in that prediction.
///
/// `images` is `[N, C, H, W]` in `[0, 1]`, one per entry of `items`; class
/// indices refer to `class_names`.
pub fn draw_misclassified(
    images: &Tensor,
    items: &[Misclassified],
    class_names: &[String],
    columns: usize,
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    check_columns(columns)?;
    crate::data::check_non_empty("misclassified items", items.len())?;
    crate::data::check_non_empty("class_names", class_names.len())?;
    let maps = Maps::from_tensor(images, "misclassified image tensor")?;
    check_image_channels(&maps, "misclassified image tensor")?;
    check_len(
        "items",
        items.len(),
        maps.n,
        "the misclassified image tensor (N)",
    )?;
    let name = |index: usize, field: &str, i: usize| {
        class_names.get(index).cloned().ok_or_else(|| {
            VizError::InvalidInput(format!(
                "misclassified item {i} has {field} {index}, but there are only {} class names",
                class_names.len()
            ))
        })
    };
    let mut captions = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let truth = name(item.true_class, "true_class", i)?;
        let predicted = name(item.predicted, "predicted", i)?;
        if !(0.0..=1.0).contains(&item.confidence) {
            return Err(VizError::InvalidInput(format!(
                "misclassified item {i} has confidence {}, expected a probability in [0, 1]",
                item.confidence
            )));
        }
        captions.push(vec![
            (format!("true: {truth}"), Ink::body(LABEL)),
            (format!("pred: {predicted}"), Ink::new(LABEL, true, BAD)),
            (
                format!("{} confident", fmt_percent(item.confidence)),
                Ink::muted(SMALL),
            ),
        ]);
    }
    let subtitle = format!(
        "{} images the network got wrong, with its prediction and confidence",
        maps.n
    );
    render(
        &ImageGrid::new(title, subtitle, maps, captions, columns),
        path,
    )
}
