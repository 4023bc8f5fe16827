//! Gradient saliency: which input pixels the prediction is most sensitive to.

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::attributions::overlay;
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
/// `images` is `[N, C, H, W]` in `[0, 1]` (C = 1 grey or 3 RGB). `saliency` is
/// either the gradient itself, `[N, C, H, W]` with the images' `C`, or a map
/// already reduced to one channel, `[N, 1, H, W]`. Values are taken by
/// magnitude, and a per-channel gradient is reduced to one value per pixel by
/// the largest magnitude over its channels (Simonyan et al., 2014), so passing
/// the gradient or `|gradient|.max(channels)` draws the same figure.
///
/// Each map is scaled to its own maximum, so the figure shows *where* each
/// prediction looks, not how strongly across images. The overlay draws the map
/// in warm colours over a dimmed copy of the image, in colour for RGB images.
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
        let saliency = Maps::from_tensor(saliency, "saliency tensor")?;
        if saliency.n != images.n
            || (saliency.c != 1 && saliency.c != images.c)
            || saliency.h != images.h
            || saliency.w != images.w
        {
            let expected = if images.c == 1 {
                format!(
                    "[{}, 1, {}, {}] to match the image tensor",
                    images.n, images.h, images.w
                )
            } else {
                format!(
                    "[{n}, 1, {h}, {w}] or [{n}, {c}, {h}, {w}] to match the image tensor",
                    n = images.n,
                    c = images.c,
                    h = images.h,
                    w = images.w
                )
            };
            return Err(shape_error(
                "saliency tensor",
                &[saliency.n, saliency.c, saliency.h, saliency.w],
                &expected,
            ));
        }
        check_len("captions", captions.len(), images.n, "the image tensor (N)")?;
        let saliency = max_abs_over_channels(&saliency);
        let maxima: Vec<f32> = (0..saliency.n)
            .map(|i| saliency.item(i).iter().fold(0.0f32, |m, v| m.max(*v)))
            .collect();
        let scale = image_scale(images.h.max(images.w), TARGET);
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

/// `[N, 1, H, W]`: each pixel's largest magnitude over the channels of `maps`.
fn max_abs_over_channels(maps: &Maps) -> Maps {
    let plane = maps.h * maps.w;
    let mut data = Vec::with_capacity(maps.n * plane);
    for i in 0..maps.n {
        let item = maps.item(i);
        data.extend(
            (0..plane).map(|p| (0..maps.c).fold(0.0f32, |m, ch| m.max(item[ch * plane + p].abs()))),
        );
    }
    Maps {
        n: maps.n,
        c: 1,
        h: maps.h,
        w: maps.w,
        data,
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
                let shown = fit_text(caption, self.col_w - 6, LABEL, l == 0);
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
                let colour = if m.c == 3 {
                    [item[p], item[plane + p], item[2 * plane + p]]
                } else {
                    [item[p]; 3]
                };
                overlay(colour, norm(p))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_gradients_reduce_to_the_largest_magnitude() {
        // One image, 3 channels of 2 pixels.
        let maps = Maps {
            n: 1,
            c: 3,
            h: 1,
            w: 2,
            data: vec![0.1, -0.2, -0.7, 0.05, 0.3, 0.0],
        };
        let reduced = max_abs_over_channels(&maps);
        assert_eq!((reduced.n, reduced.c, reduced.h, reduced.w), (1, 1, 1, 2));
        assert_eq!(reduced.data, vec![0.7, 0.2]);
        // A single channel is taken by magnitude.
        let grey = Maps {
            n: 2,
            c: 1,
            h: 1,
            w: 1,
            data: vec![-3.0, 2.0],
        };
        assert_eq!(max_abs_over_channels(&grey).data, vec![3.0, 2.0]);
    }

    #[test]
    fn overlay_keeps_the_image_colour_where_nothing_is_salient() {
        assert_eq!(overlay([1.0, 0.0, 0.0], 0.0), [140, 0, 0]);
        assert_eq!(overlay([0.0, 0.0, 1.0], 0.0), [0, 0, 140]);
        // Grey images look as they always did: the same dimmed grey in all channels.
        assert_eq!(overlay([0.5; 3], 0.0), [70, 70, 70]);
        // Fully salient pixels are the hot colour whatever the image.
        assert_eq!(overlay([0.0, 0.0, 1.0], 1.0), [255, 255, 0]);
    }
}
