//! Figure 5: what every layer makes of a few images — rows are layer × channel, columns are images.

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::{ColourScale, Palette};
use crate::data::{check_image_channels, check_len, check_non_empty, Maps};
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// Feature maps are enlarged to about this many pixels per side.
const TILE_TARGET: usize = 60;
const COL_GAP: i32 = 10;
const ROW_GAP: i32 = 6;
const HEADER_H: i32 = 46;
const CAPTION_LINE: i32 = 16;
const BAR_LEN: i32 = 180;
const EMPTY_SLOT: [u8; 3] = [236, 238, 240];
/// Layers with more channels than this show only this many (the most active).
pub const MAX_CHANNEL_ROWS: usize = 16;
/// Name of the row of input images.
const INPUT_NAME: &str = "input";

/// The channels of `maps` to draw: all of them when there are at most `limit`,
/// otherwise the `limit` with the largest mean magnitude over all images and
/// positions (ties to the lower channel), in channel order.
pub(crate) fn strongest_channels(maps: &Maps, limit: usize) -> Vec<usize> {
    if maps.c <= limit {
        return (0..maps.c).collect();
    }
    let strength: Vec<f32> = (0..maps.c)
        .map(|ch| {
            (0..maps.n)
                .map(|i| maps.plane(i, ch).iter().map(|v| v.abs()).sum::<f32>())
                .sum::<f32>()
        })
        .collect();
    let mut order: Vec<usize> = (0..maps.c).collect();
    order.sort_by(|&a, &b| strength[b].total_cmp(&strength[a]).then(a.cmp(&b)));
    order.truncate(limit);
    order.sort_unstable();
    order
}

/// How one layer's maps are laid out.
enum Layout {
    /// The input images (grey or RGB) in one row, enlarged `px` times.
    Image { px: u32 },
    /// One row per shown channel, each map enlarged `px` times.
    Spatial { px: u32 },
    /// All channels are 1×1: one tile per image holding every channel's value
    /// in a `cols` × `rows` grid of `cell`-pixel squares, row by row.
    Vector { cols: usize, rows: usize, cell: u32 },
}

struct Section {
    name: String,
    maps: Maps,
    scale: ColourScale,
    layout: Layout,
    description: String,
    /// Channels drawn, one row each (spatial layers).
    channels: Vec<usize>,
    tile: (i32, i32),
    top: i32,
}

impl Section {
    fn rows(&self) -> usize {
        match self.layout {
            Layout::Spatial { .. } => self.channels.len(),
            Layout::Image { .. } | Layout::Vector { .. } => 1,
        }
    }

    fn row_label(&self, row: usize) -> String {
        let m = &self.maps;
        match self.layout {
            Layout::Image { .. } if m.c == 3 => format!("{} · RGB · {}×{}", self.name, m.h, m.w),
            Layout::Image { .. } => format!("{} · {}×{}", self.name, m.h, m.w),
            Layout::Spatial { .. } => {
                format!("{} ch {} · {}×{}", self.name, self.channels[row], m.h, m.w)
            }
            Layout::Vector { .. } => format!("{} · {} ch · 1×1", self.name, m.c),
        }
    }

    fn height(&self) -> i32 {
        HEADER_H + CAPTION_LINE + self.rows() as i32 * (self.tile.1 + ROW_GAP)
    }
}

struct FeatureMaps {
    title: String,
    subtitle: String,
    captions: Vec<Vec<String>>,
    sections: Vec<Section>,
    images: usize,
    label_w: i32,
    col_w: i32,
    width: u32,
    height: u32,
}

/// Draws the activations of several layers for the same `N` images: columns
/// are images (captioned with `column_captions`, e.g. `"true 7 / pred 7"`;
/// a `" / "` breaks the caption into lines), rows are layer × channel, and
/// each row label gives the layer, channel and spatial size.
///
/// Every layer has one colour scale shared by all its channels and images
/// (blue-white-red around zero if any value is negative, otherwise viridis
/// from 0), shown as a colour bar in the layer's header. Layers whose maps are
/// 1×1 (e.g. 110 channels after a 6×6 convolution) are drawn as one tile per
/// image holding all channels in a near-square grid instead of one row per channel.
///
/// Maps are enlarged by a whole factor to about 60 pixels per side (a 28×28
/// or 32×32 map twice, a 96×96 one not at all). Layers with more than
/// [`MAX_CHANNEL_ROWS`] channels of more than 1×1 show the
/// [`MAX_CHANNEL_ROWS`] channels with the largest mean magnitude over the
/// images, in channel order, and say so in their header.
///
/// Each tensor is `[N, C, H, W]`; the first entry of each pair names the layer.
pub fn draw_feature_maps(
    layers: &[(String, Tensor)],
    column_captions: &[String],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = FeatureMaps::new(None, layers, column_captions, title)?;
    render(&figure, path)
}

/// [`draw_feature_maps`] with a first row showing the input images
/// themselves: `images` is `[N, C, H, W]` with values in `[0, 1]` (clamped),
/// `C` = 1 (grey) or 3 (drawn in colour), the same `N` images as the layers.
pub fn draw_feature_maps_with_input(
    images: &Tensor,
    layers: &[(String, Tensor)],
    column_captions: &[String],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = FeatureMaps::new(Some(images), layers, column_captions, title)?;
    render(&figure, path)
}

/// Whole-pixel enlargement of a `side`-pixel map towards [`TILE_TARGET`].
fn tile_px(side: usize) -> u32 {
    image_scale(side, TILE_TARGET)
}

impl FeatureMaps {
    fn new(
        input: Option<&Tensor>,
        layers: &[(String, Tensor)],
        column_captions: &[String],
        title: &str,
    ) -> Result<Self, VizError> {
        check_non_empty("layers", layers.len())?;
        let mut sections = Vec::with_capacity(layers.len() + 1);
        let mut images = None;
        let mut first_name = INPUT_NAME;
        if let Some(tensor) = input {
            let what = "input image tensor";
            let maps = Maps::from_tensor(tensor, what)?;
            check_image_channels(&maps, what)?;
            images = Some(maps.n);
            let px = tile_px(maps.h.max(maps.w));
            let tile = ((maps.w as u32 * px) as i32, (maps.h as u32 * px) as i32);
            let description = if maps.c == 3 {
                format!("the {}×{} RGB images the network reads", maps.h, maps.w)
            } else {
                format!("the {}×{} grey images the network reads", maps.h, maps.w)
            };
            sections.push(Section {
                name: INPUT_NAME.to_string(),
                maps,
                scale: ColourScale::sequential(0.0, 1.0, Palette::Grey),
                layout: Layout::Image { px },
                description,
                channels: Vec::new(),
                tile,
                top: 0,
            });
        }
        for (name, tensor) in layers {
            let maps = Maps::from_tensor(tensor, &format!("feature map tensor for layer {name}"))?;
            match images {
                None => {
                    images = Some(maps.n);
                    first_name = name.as_str();
                }
                Some(n) if n != maps.n => {
                    let first = if input.is_some() {
                        "the input image tensor".to_string()
                    } else {
                        format!("layer {first_name}")
                    };
                    return Err(VizError::InvalidInput(format!(
                        "feature map tensor for layer {name} has {} images, but {first} has {n}",
                        maps.n
                    )));
                }
                Some(_) => {}
            }
            let scale = ColourScale::for_values(&maps.data);
            let signed = matches!(scale, ColourScale::Diverging { .. });
            let scale_note = if signed {
                "blue < 0 < red"
            } else {
                "all values ≥ 0"
            };
            let mut channels = Vec::new();
            let (layout, tile, description) = if maps.h * maps.w == 1 {
                let cols = (maps.c as f64).sqrt().ceil() as usize;
                let rows = maps.c.div_ceil(cols);
                // Cell size is settled below, once the column width is known.
                let layout = Layout::Vector {
                    cols,
                    rows,
                    cell: 0,
                };
                let description = format!(
                    "{} channels of 1×1, each image's values as a {cols}×{rows} grid (channel 0 top left, row by row) · one scale for the layer, {scale_note}",
                    maps.c
                );
                (layout, (0, 0), description)
            } else {
                let px = tile_px(maps.h.max(maps.w));
                let tile = ((maps.w as u32 * px) as i32, (maps.h as u32 * px) as i32);
                channels = strongest_channels(&maps, MAX_CHANNEL_ROWS);
                let description = if maps.c == 1 {
                    format!("1 channel of {}×{} · {scale_note}", maps.h, maps.w)
                } else if channels.len() < maps.c {
                    format!(
                        "the {} of {} channels of {}×{} with the largest mean |value|, in channel order · one scale for all channels, {scale_note}",
                        channels.len(),
                        maps.c,
                        maps.h,
                        maps.w
                    )
                } else {
                    format!(
                        "{} channels of {}×{} · one scale for all channels, {scale_note}",
                        maps.c, maps.h, maps.w
                    )
                };
                (Layout::Spatial { px }, tile, description)
            };
            sections.push(Section {
                name: name.clone(),
                maps,
                scale,
                layout,
                description,
                channels,
                tile,
                top: 0,
            });
        }
        let images = images.unwrap_or(0);
        check_len(
            "column_captions",
            column_captions.len(),
            images,
            "the feature map tensors (N)",
        )?;
        let captions: Vec<Vec<String>> = column_captions
            .iter()
            .map(|c| c.split(" / ").map(|l| l.trim().to_string()).collect())
            .collect();
        let caption_lines = captions.iter().map(Vec::len).max().unwrap_or(1) as i32;
        // The first line of each caption is bold.
        let widest_caption = captions
            .iter()
            .flat_map(|lines| lines.iter().enumerate())
            .map(|(l, line)| text_width(line, LABEL, l == 0))
            .max()
            .unwrap_or(0);
        let widest_tile = sections.iter().map(|s| s.tile.0).max().unwrap_or(0);
        let col_w = widest_tile
            .max(widest_caption.min(140))
            .max(TILE_TARGET as i32)
            + COL_GAP;
        // 1×1 layers fill the column with their channel grid.
        for section in &mut sections {
            if let Layout::Vector { cols, rows, cell } = &mut section.layout {
                *cell = ((col_w - COL_GAP) as usize / *cols).clamp(3, 10) as u32;
                section.tile = ((*cols as u32 * *cell) as i32, (*rows as u32 * *cell) as i32);
            }
        }
        let label_w = sections
            .iter()
            .flat_map(|s| (0..s.rows()).map(move |r| text_width(&s.row_label(r), SMALL, false)))
            .max()
            .unwrap_or(0)
            + 14;
        let mut y = TITLE_BLOCK + 10 + caption_lines * CAPTION_LINE + 10;
        for section in &mut sections {
            section.top = y;
            y += section.height() + 10;
        }
        let layer_count = sections
            .iter()
            .filter(|s| !matches!(s.layout, Layout::Image { .. }))
            .count();
        let subtitle = format!(
            "{images} images (columns) through {layer_count} layers (rows: layer × channel)"
        );
        let grid_w = label_w + images as i32 * col_w;
        let header_w = sections
            .iter()
            .map(|s| {
                text_width(&s.name, HEADING, true).max(text_width(&s.description, SMALL, false))
                    + BAR_LEN
                    + 80
            })
            .max()
            .unwrap_or(0);
        let width = (grid_w.max(header_w) + 2 * MARGIN).max(title_width(title, &subtitle));
        Ok(FeatureMaps {
            title: title.to_string(),
            subtitle,
            captions,
            sections,
            images,
            label_w,
            col_w,
            width: width as u32,
            height: (y + MARGIN) as u32,
        })
    }

    fn column_x(&self, image: usize) -> i32 {
        MARGIN + self.label_w + image as i32 * self.col_w
    }
}

impl Figure for FeatureMaps {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let col_inner = self.col_w - COL_GAP;
        for (i, lines) in self.captions.iter().enumerate() {
            let cx = self.column_x(i) + col_inner / 2;
            for (l, caption) in lines.iter().enumerate() {
                let shown = fit_text(caption, self.col_w - 6, LABEL, l == 0);
                let ink = if l == 0 {
                    Ink::bold(LABEL)
                } else {
                    Ink::body(LABEL)
                };
                text(
                    root,
                    &shown,
                    (cx, TITLE_BLOCK + 10 + l as i32 * CAPTION_LINE),
                    ink,
                    Anchor::TopCenter,
                )?;
            }
        }
        for section in &self.sections {
            let y = section.top;
            rect(
                root,
                (MARGIN, y),
                (self.width as i32 - MARGIN, y + 1),
                RULE,
                true,
            )?;
            text(
                root,
                &section.name,
                (MARGIN, y + 8),
                Ink::bold(HEADING),
                Anchor::TopLeft,
            )?;
            text(
                root,
                &section.description,
                (MARGIN, y + 28),
                Ink::muted(SMALL),
                Anchor::TopLeft,
            )?;
            if !matches!(section.layout, Layout::Image { .. }) {
                let bar_x = self.width as i32 - MARGIN - BAR_LEN - 16;
                colour_bar(
                    root,
                    (bar_x, y + 10),
                    BAR_LEN,
                    10,
                    Orientation::Horizontal,
                    &section.scale,
                )?;
            }
            let caption_y = y + HEADER_H;
            // The first caption line again, so that columns stay identifiable far down.
            for (i, lines) in self.captions.iter().enumerate() {
                let first = lines.first().map(String::as_str).unwrap_or("");
                let shown = fit_text(first, self.col_w - 6, SMALL, false);
                let cx = self.column_x(i) + col_inner / 2;
                text(
                    root,
                    &shown,
                    (cx, caption_y),
                    Ink::muted(SMALL),
                    Anchor::TopCenter,
                )?;
            }
            let rows_top = caption_y + CAPTION_LINE;
            let m = &section.maps;
            let (tile_w, tile_h) = section.tile;
            for row in 0..section.rows() {
                let ty = rows_top + row as i32 * (tile_h + ROW_GAP);
                text(
                    root,
                    &section.row_label(row),
                    (MARGIN + self.label_w - 10, ty + tile_h / 2),
                    Ink::body(SMALL),
                    Anchor::Right,
                )?;
                for image in 0..self.images {
                    let tx = self.column_x(image) + (col_inner - tile_w) / 2;
                    match section.layout {
                        Layout::Image { px } => {
                            crate::paint::image(root, (tx, ty), m, image, px)?;
                        }
                        Layout::Spatial { px } => {
                            let plane = m.plane(image, section.channels[row]);
                            cells(root, (tx, ty), (m.w, m.h), (px, px), |x, y| {
                                section.scale.rgb(plane[y * m.w + x])
                            })?;
                        }
                        Layout::Vector { cols, rows, cell } => {
                            let values = m.item(image);
                            cells(
                                root,
                                (tx, ty),
                                (cols, rows),
                                (cell, cell),
                                |x, y| match values.get(y * cols + x) {
                                    Some(&v) => section.scale.rgb(v),
                                    None => EMPTY_SLOT,
                                },
                            )?;
                        }
                    }
                    frame(root, (tx, ty), (tile_w, tile_h), RULE)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(c: usize, strengths: &[f32]) -> Maps {
        // Two images of 1×2 maps; channel ch is ±strengths[ch] everywhere.
        let mut data = Vec::new();
        for _ in 0..2 {
            for s in strengths.iter().take(c) {
                data.extend([*s, -*s]);
            }
        }
        Maps {
            n: 2,
            c,
            h: 1,
            w: 2,
            data,
        }
    }

    #[test]
    fn few_channels_are_all_shown() {
        assert_eq!(
            strongest_channels(&maps(3, &[0.0, 5.0, 1.0]), 16),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn many_channels_show_the_strongest_by_magnitude_in_channel_order() {
        let m = maps(6, &[0.1, 3.0, 0.2, 3.0, 0.0, 2.0]);
        assert_eq!(strongest_channels(&m, 3), vec![1, 3, 5]);
        // Ties go to the lower channel.
        assert_eq!(strongest_channels(&m, 1), vec![1]);
        assert!(strongest_channels(&m, 0).is_empty());
    }
}
