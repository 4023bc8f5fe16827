//! Figure 6: the fully connected end of the network as heat strips, one block per image.

use std::path::Path;

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::{is_dark, ColourScale, Palette};
use crate::data::{check_len, check_non_empty, Matrix};
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// Strips are about this wide, whatever their number of features.
const STRIP_TARGET: usize = 660;
/// Cells at least this wide carry their value.
const VALUE_CELL: u32 = 34;
const STRIP_GAP: i32 = 6;
const BLOCK_PAD: i32 = 12;
const LEGEND_H: i32 = 62;
const LEGEND_BAR: i32 = 130;
/// Space right of a top-k probability strip for the note on the other classes.
const OTHERS_W: i32 = 150;

/// With more classes than this, [`draw_classifier`] shows only each image's
/// [`SOFTMAX_TOP_CLASSES`] most probable classes instead of every probability.
pub const SOFTMAX_ALL_CLASSES_UP_TO: usize = 12;
/// How many classes each image's probability strip shows when there are many.
pub const SOFTMAX_TOP_CLASSES: usize = 5;

/// The `k` largest values of `row` as `(index, value)`, largest first; equal
/// values keep their order (lower index first).
pub(crate) fn top_classes(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut entries: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
    entries.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    entries.truncate(k);
    entries
}

struct Strip {
    name: String,
    values: Matrix,
    scale: ColourScale,
    cell_w: u32,
    height: i32,
    print_values: bool,
    /// Probabilities: values as percentages, with class names and the top class outlined.
    softmax: bool,
    /// Only this many largest values per image, largest first (many classes).
    top: Option<usize>,
}

impl Strip {
    fn new(name: String, values: Matrix, scale: ColourScale, softmax: bool) -> Self {
        let top =
            (softmax && values.cols > SOFTMAX_ALL_CLASSES_UP_TO).then_some(SOFTMAX_TOP_CLASSES);
        let shown = top.unwrap_or(values.cols);
        let cell_w = ((STRIP_TARGET as f64 / shown as f64).round() as u32).max(2);
        let print_values = cell_w >= VALUE_CELL;
        let height = if softmax && print_values {
            38
        } else if print_values {
            26
        } else {
            22
        };
        Strip {
            name,
            values,
            scale,
            cell_w,
            height,
            print_values,
            softmax,
            top,
        }
    }

    /// Number of cells per image.
    fn shown(&self) -> usize {
        self.top.unwrap_or(self.values.cols)
    }

    fn width(&self) -> i32 {
        (self.shown() as u32 * self.cell_w) as i32
    }

    fn label(&self) -> String {
        match self.top {
            Some(k) => format!("{} · top {k} of {}", self.name, self.values.cols),
            None => format!("{} · {}", self.name, self.values.cols),
        }
    }

    /// The cells of image `row` as `(index, value)`: every value, or the top few.
    fn entries(&self, row: usize) -> Vec<(usize, f32)> {
        let values = self.values.row(row);
        match self.top {
            Some(k) => top_classes(values, k),
            None => values.iter().copied().enumerate().collect(),
        }
    }
}

struct Classifier {
    title: String,
    subtitle: String,
    strips: Vec<Strip>,
    captions: Vec<Vec<String>>,
    predictions: Vec<(String, f32)>,
    class_names: Vec<String>,
    caption_w: i32,
    label_w: i32,
    block_h: i32,
    width: u32,
    height: u32,
}

/// Draws the classifier end of the network for `N` images: one block per
/// image with its caption (e.g. `"true 7"`; `" / "` breaks lines) and the
/// predicted class, and one heat strip per layer — e.g. flatten (110), fc1
/// (60), relu4 (60), fc2 (10 logits) — plus the softmax probabilities.
///
/// Strips are about equally wide whatever their length, tall enough to see,
/// and share one colour scale per layer across images; strips of few values
/// (the logits, the probabilities) print their values, the probability strip
/// names each class and outlines the predicted one. With more than
/// [`SOFTMAX_ALL_CLASSES_UP_TO`] classes the probability strip shows only each image's
/// [`SOFTMAX_TOP_CLASSES`] most probable classes, most probable first, with their names
/// and the total probability of the others.
///
/// `layers` are `[N, F]` tensors, `probabilities` is `[N, classes]` with one
/// name per class in `class_names`, and `captions` has one entry per image.
pub fn draw_classifier(
    layers: &[(String, Tensor)],
    probabilities: &Tensor,
    captions: &[String],
    class_names: &[String],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = Classifier::new(layers, probabilities, captions, class_names, title)?;
    render(&figure, path)
}

impl Classifier {
    fn new(
        layers: &[(String, Tensor)],
        probabilities: &Tensor,
        captions: &[String],
        class_names: &[String],
        title: &str,
    ) -> Result<Self, VizError> {
        check_non_empty("class_names", class_names.len())?;
        let probs = Matrix::from_tensor(
            probabilities,
            "probability tensor",
            "2-D [N, classes] with no zero dimension",
        )?;
        check_len(
            "class_names",
            class_names.len(),
            probs.cols,
            "the probability tensor (classes)",
        )?;
        if let Some(i) = probs.data.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(VizError::InvalidInput(format!(
                "probability tensor has value {} at flat index {i}, expected probabilities in [0, 1]",
                probs.data[i]
            )));
        }
        check_len(
            "captions",
            captions.len(),
            probs.rows,
            "the probability tensor (N)",
        )?;
        let mut strips = Vec::with_capacity(layers.len() + 1);
        for (name, tensor) in layers {
            let values = Matrix::from_tensor(
                tensor,
                &format!("activation tensor for layer {name}"),
                "2-D [N, features] with no zero dimension",
            )?;
            if values.rows != probs.rows {
                return Err(VizError::InvalidInput(format!(
                    "activation tensor for layer {name} has {} images, but the probability tensor has {}",
                    values.rows, probs.rows
                )));
            }
            let scale = ColourScale::for_values(&values.data);
            strips.push(Strip::new(name.clone(), values, scale, false));
        }
        let predictions: Vec<(String, f32)> = (0..probs.rows)
            .map(|r| {
                let row = probs.row(r);
                let mut best = 0;
                for (i, p) in row.iter().enumerate() {
                    if *p > row[best] {
                        best = i;
                    }
                }
                (class_names[best].clone(), row[best])
            })
            .collect();
        strips.push(Strip::new(
            "softmax".to_string(),
            probs,
            ColourScale::sequential(0.0, 1.0, Palette::Blues),
            true,
        ));
        let captions: Vec<Vec<String>> = captions
            .iter()
            .map(|c| c.split(" / ").map(|l| l.trim().to_string()).collect())
            .collect();
        let caption_w = captions
            .iter()
            .flatten()
            .map(|l| text_width(l, LABEL, true))
            .chain(
                predictions
                    .iter()
                    .map(|(name, _)| text_width(&format!("pred: {name}"), LABEL, true)),
            )
            .max()
            .unwrap_or(0)
            .clamp(110, 220)
            + 16;
        let label_w = strips
            .iter()
            .map(|s| text_width(&s.label(), SMALL, false))
            .max()
            .unwrap_or(0)
            + 14;
        let strips_h: i32 = strips.iter().map(|s| s.height + STRIP_GAP).sum::<i32>() - STRIP_GAP;
        let text_h = (captions.iter().map(Vec::len).max().unwrap_or(1) as i32 + 2) * 17;
        let block_h = strips_h.max(text_h) + 2 * BLOCK_PAD;
        let strip_w = strips
            .iter()
            .map(|s| s.width() + if s.top.is_some() { OTHERS_W } else { 0 })
            .max()
            .unwrap_or(0);
        let n = captions.len() as i32;
        let legend_w: i32 = strips.len() as i32 * (LEGEND_BAR + 44);
        let subtitle = format!(
            "{} images · strips: {} · one colour scale per layer, shared by all images",
            n,
            strips
                .iter()
                .map(Strip::label)
                .collect::<Vec<_>>()
                .join(" → ")
        );
        let width = (MARGIN + caption_w + label_w + strip_w + MARGIN)
            .max(legend_w + 2 * MARGIN)
            .max(title_width(title, &subtitle));
        let height = TITLE_BLOCK + 10 + LEGEND_H + n * block_h + MARGIN;
        Ok(Classifier {
            title: title.to_string(),
            subtitle,
            strips,
            captions,
            predictions,
            class_names: class_names.to_vec(),
            caption_w,
            label_w,
            block_h,
            width: width as u32,
            height: height as u32,
        })
    }
}

impl Figure for Classifier {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        // Legend: one colour bar per strip.
        let mut x = MARGIN;
        for strip in &self.strips {
            text(
                root,
                &strip.name,
                (x, TITLE_BLOCK + 10),
                Ink::bold(SMALL),
                Anchor::TopLeft,
            )?;
            colour_bar(
                root,
                (x, TITLE_BLOCK + 26),
                LEGEND_BAR,
                10,
                Orientation::Horizontal,
                &strip.scale,
            )?;
            x += LEGEND_BAR + 44;
        }
        let strips_x = MARGIN + self.caption_w + self.label_w;
        for (image, lines) in self.captions.iter().enumerate() {
            let top = TITLE_BLOCK + 10 + LEGEND_H + image as i32 * self.block_h;
            rect(
                root,
                (MARGIN, top),
                (self.width as i32 - MARGIN, top + 1),
                RULE,
                true,
            )?;
            let mut ty = top + BLOCK_PAD;
            for (l, line) in lines.iter().enumerate() {
                let ink = if l == 0 {
                    Ink::bold(LABEL)
                } else {
                    Ink::body(LABEL)
                };
                let shown = fit_text(line, self.caption_w - 8, ink.size, ink.bold);
                text(root, &shown, (MARGIN, ty), ink, Anchor::TopLeft)?;
                ty += 17;
            }
            let (pred, p) = &self.predictions[image];
            let shown = fit_text(&format!("pred: {pred}"), self.caption_w - 8, LABEL, true);
            text(
                root,
                &shown,
                (MARGIN, ty),
                Ink::new(LABEL, true, TRAIN),
                Anchor::TopLeft,
            )?;
            text(
                root,
                &format!("p = {}", fmt_percent(*p as f64)),
                (MARGIN, ty + 17),
                Ink::muted(SMALL),
                Anchor::TopLeft,
            )?;

            let mut sy = top + BLOCK_PAD;
            for strip in &self.strips {
                text(
                    root,
                    &strip.label(),
                    (strips_x - 10, sy + strip.height / 2),
                    Ink::muted(SMALL),
                    Anchor::Right,
                )?;
                let entries = strip.entries(image);
                cells(
                    root,
                    (strips_x, sy),
                    (entries.len(), 1),
                    (strip.cell_w, strip.height as u32),
                    |c, _| strip.scale.rgb(entries[c].1),
                )?;
                frame(root, (strips_x, sy), (strip.width(), strip.height), RULE)?;
                if strip.print_values {
                    self.cell_values(root, strip, &entries, (strips_x, sy))?;
                }
                if strip.top.is_some() {
                    let all: f32 = strip.values.row(image).iter().sum();
                    let shown: f32 = entries.iter().map(|e| e.1).sum();
                    let others = strip.values.cols - entries.len();
                    text(
                        root,
                        &format!(
                            "+{others} others: {}",
                            fmt_percent(f64::from((all - shown).max(0.0)))
                        ),
                        (strips_x + strip.width() + 10, sy + strip.height / 2),
                        Ink::muted(SMALL),
                        Anchor::Left,
                    )?;
                }
                sy += strip.height + STRIP_GAP;
            }
        }
        Ok(())
    }
}

impl Classifier {
    fn cell_values<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        strip: &Strip,
        entries: &[(usize, f32)],
        (x0, y0): (i32, i32),
    ) -> DrawResult<DB> {
        let cw = strip.cell_w as i32;
        let mut best = 0;
        for (i, (_, v)) in entries.iter().enumerate() {
            if *v > entries[best].1 {
                best = i;
            }
        }
        for (i, &(class, v)) in entries.iter().enumerate() {
            let colour = if is_dark(strip.scale.rgb(v)) {
                WHITE
            } else {
                INK
            };
            let cx = x0 + i as i32 * cw + cw / 2;
            if strip.softmax {
                let name = self.class_names.get(class).map_or("", String::as_str);
                let name = fit_text(name, cw - 4, 10.0, false);
                text(
                    root,
                    &name,
                    (cx, y0 + 4),
                    Ink::new(10.0, false, colour),
                    Anchor::TopCenter,
                )?;
                let value = format!("{:.0}%", v * 100.0);
                text(
                    root,
                    &value,
                    (cx, y0 + 20),
                    Ink::new(SMALL, true, colour),
                    Anchor::TopCenter,
                )?;
            } else {
                let value = if v.abs() < 100.0 {
                    format!("{v:.2}")
                } else {
                    fmt_num(v as f64)
                };
                text(
                    root,
                    &value,
                    (cx, y0 + strip.height / 2),
                    Ink::new(SMALL, false, colour),
                    Anchor::Center,
                )?;
            }
        }
        if strip.softmax {
            let x = x0 + best as i32 * cw;
            for inset in 0..2 {
                rect(
                    root,
                    (x + inset, y0 + inset),
                    (x + cw - 1 - inset, y0 + strip.height - 1 - inset),
                    INK,
                    false,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_classes_are_the_largest_values_largest_first() {
        let row = [0.05, 0.4, 0.05, 0.3, 0.2];
        assert_eq!(top_classes(&row, 3), vec![(1, 0.4), (3, 0.3), (4, 0.2)]);
        // Ties keep the lower index first.
        assert_eq!(top_classes(&row, 5)[3..], [(0, 0.05), (2, 0.05)]);
        // Asking for more than there are gives them all; none gives none.
        assert_eq!(top_classes(&row, 10).len(), 5);
        assert!(top_classes(&row, 0).is_empty());
        assert!(top_classes(&[], 5).is_empty());
    }

    #[test]
    fn the_top_classes_start_above_the_limit() {
        let strip = |classes: usize| {
            let values = Matrix {
                rows: 1,
                cols: classes,
                data: vec![1.0 / classes as f32; classes],
            };
            Strip::new(
                "softmax".to_string(),
                values,
                ColourScale::sequential(0.0, 1.0, Palette::Blues),
                true,
            )
        };
        assert_eq!(strip(SOFTMAX_ALL_CLASSES_UP_TO).top, None);
        assert_eq!(
            strip(SOFTMAX_ALL_CLASSES_UP_TO).shown(),
            SOFTMAX_ALL_CLASSES_UP_TO
        );
        assert_eq!(
            strip(SOFTMAX_ALL_CLASSES_UP_TO + 1).top,
            Some(SOFTMAX_TOP_CLASSES)
        );
        assert_eq!(
            strip(SOFTMAX_ALL_CLASSES_UP_TO + 1).shown(),
            SOFTMAX_TOP_CLASSES
        );
    }

    #[test]
    fn a_hundred_class_strip_shows_the_top_five() {
        let mut data = vec![0.0f32; 100];
        for (class, p) in [
            (42, 0.5),
            (7, 0.2),
            (99, 0.1),
            (0, 0.08),
            (63, 0.07),
            (5, 0.05),
        ] {
            data[class] = p;
        }
        let values = Matrix {
            rows: 1,
            cols: 100,
            data,
        };
        let strip = Strip::new(
            "softmax".to_string(),
            values,
            ColourScale::sequential(0.0, 1.0, Palette::Blues),
            true,
        );
        assert_eq!(strip.top, Some(SOFTMAX_TOP_CLASSES));
        assert_eq!(strip.label(), "softmax · top 5 of 100");
        let classes: Vec<usize> = strip.entries(0).iter().map(|e| e.0).collect();
        assert_eq!(classes, vec![42, 7, 99, 0, 63]);
        assert!(strip.print_values, "five wide cells carry names and values");
    }
}
