//! Gradient saliency: which input pixels the prediction is most sensitive to.

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::{ColourScale, Palette};
use crate::data::{check_image_channels, check_len, shape_error, Maps};
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

const TARGET: usize = 84;
const GAP: i32 = 12;
const ROW_NAMES: [&str; 3] = ["input", "saliency", "overlay"];

struct Saliency {
    title: String,
    subtitle: String,
    images: Maps,
    saliency: Maps,
    /// Largest saliency of each image (its own scale).
    maxima: Vec<f32>,
    captions: Vec<Vec<String>>,
    scale: u32,
    label_w: i32,
    col_w: i32,
    caption_h: i32,
    width: u32,
    height: u32,
}

/// Draws each image above its gradient-saliency map and an overlay of the two.
///
/// `images` is `[N, C, H, W]` in `[0, 1]` (C = 1 or 3); `saliency` is
/// `[N, 1, H, W]` of gradient magnitudes (negative values are taken by
/// magnitude). Each map is scaled to its own maximum, so the figure shows
/// *where* each prediction looks, not how strongly across images.
pub fn draw_saliency(
    images: &Tensor,
    saliency: &Tensor,
    captions: &[String],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = Saliency::new(images, saliency, captions, title)?;
    render(&figure, path)
}

impl Saliency {
    fn new(
        images: &Tensor,
        saliency: &Tensor,
        captions: &[String],
        title: &str,
    ) -> Result<Self, VizError> {
        let images = Maps::from_tensor(images, "image tensor")?;
        check_image_channels(&images, "image tensor")?;
        let mut saliency = Maps::from_tensor(saliency, "saliency tensor")?;
        if saliency.n != images.n
            || saliency.c != 1
            || saliency.h != images.h
            || saliency.w != images.w
        {
            return Err(shape_error(
                "saliency tensor",
                &[saliency.n, saliency.c, saliency.h, saliency.w],
                &format!(
                    "[{}, 1, {}, {}] to match the image tensor",
                    images.n, images.h, images.w
                ),
            ));
        }
        check_len("captions", captions.len(), images.n, "the image tensor (N)")?;
        saliency.data.iter_mut().for_each(|v| *v = v.abs());
        let maxima: Vec<f32> = (0..saliency.n)
            .map(|i| saliency.item(i).iter().fold(0.0f32, |m, v| m.max(*v)))
            .collect();
        let scale = (TARGET / images.h.max(images.w)).max(1) as u32;
        let tile_w = (images.w as u32 * scale) as i32;
        let tile_h = (images.h as u32 * scale) as i32;
        let captions: Vec<Vec<String>> = captions
            .iter()
            .map(|c| c.split(" / ").map(|l| l.trim().to_string()).collect())
            .collect();
        let caption_h = captions.iter().map(Vec::len).max().unwrap_or(1) as i32 * 16 + 16;
        let widest_caption = captions
            .iter()
            .flatten()
            .map(|l| text_width(l, LABEL, true))
            .max()
            .unwrap_or(0);
        let col_w = tile_w.max(widest_caption.min(130)) + GAP;
        let label_w = ROW_NAMES
            .iter()
            .map(|n| text_width(n, LABEL, true))
            .max()
            .unwrap_or(0)
            + 14;
        let n = images.n as i32;
        let subtitle = format!(
            "{n} images · saliency = |∂ score / ∂ pixel|, each map scaled to its own maximum"
        );
        let width = (MARGIN + label_w + n * col_w + 70 + MARGIN).max(title_width(title, &subtitle));
        let height = TITLE_BLOCK + caption_h + 3 * (tile_h + GAP) + MARGIN;
        Ok(Saliency {
            title: title.to_string(),
            subtitle,
            images,
            saliency,
            maxima,
            captions,
            scale,
            label_w,
            col_w,
            caption_h,
            width: width as u32,
            height: height as u32,
        })
    }
}

fn heat(t: f32) -> [u8; 3] {
    ColourScale::sequential(0.0, 1.0, Palette::Viridis).rgb(t)
}

impl Figure for Saliency {
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
        let top = TITLE_BLOCK + self.caption_h;
        for (r, name) in ROW_NAMES.iter().enumerate() {
            let y = top + r as i32 * (tile_h + GAP) + tile_h / 2;
            text(root, name, (left - 10, y), Ink::bold(LABEL), Anchor::Right)?;
        }
        let plane = m.h * m.w;
        for i in 0..m.n {
            let x = left + i as i32 * self.col_w + (self.col_w - GAP - tile_w) / 2;
            for (l, caption) in self.captions[i].iter().enumerate() {
                let shown = fit_text(caption, self.col_w - 2, LABEL, l == 0);
                let ink = if l == 0 {
                    Ink::bold(LABEL)
                } else {
                    Ink::body(LABEL)
                };
                text(
                    root,
                    &shown,
                    (x + tile_w / 2, TITLE_BLOCK + 10 + l as i32 * 16),
                    ink,
                    Anchor::TopCenter,
                )?;
            }
            image(root, (x, top), m, i, px)?;
            frame(root, (x, top), (tile_w, tile_h), RULE)?;
            let s = self.saliency.item(i);
            let max = self.maxima[i];
            let norm = |p: usize| if max > 0.0 { s[p] / max } else { 0.0 };
            let y = top + tile_h + GAP;
            cells(root, (x, y), (m.w, m.h), (px, px), |cx, cy| {
                heat(norm(cy * m.w + cx))
            })?;
            frame(root, (x, y), (tile_w, tile_h), RULE)?;
            let item = m.item(i);
            let y = top + 2 * (tile_h + GAP);
            cells(root, (x, y), (m.w, m.h), (px, px), |cx, cy| {
                let p = cy * m.w + cx;
                let grey = if m.c == 3 {
                    (item[p] + item[plane + p] + item[2 * plane + p]) / 3.0
                } else {
                    item[p]
                }
                .clamp(0.0, 1.0);
                let t = norm(p);
                let alpha = t.sqrt();
                let base = grey * 0.55 * 255.0;
                let hot = [255.0, 80.0 + 175.0 * t, 40.0 * (1.0 - t)];
                hot.map(|h| (base * (1.0 - alpha) + h * alpha).round().clamp(0.0, 255.0) as u8)
            })?;
            frame(root, (x, y), (tile_w, tile_h), RULE)?;
        }
        let bar_x = left + m.n as i32 * self.col_w + 6;
        let bar = ColourScale::sequential(0.0, 1.0, Palette::Viridis);
        colour_bar(
            root,
            (bar_x, top + tile_h + GAP),
            tile_h,
            12,
            Orientation::Vertical,
            &bar,
        )?;
        Ok(())
    }
}
