//! Figure 7a: the confusion matrix, counts in cells and colour normalised per true class.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::{is_dark, ColourScale, Palette};
use crate::data::{check_len, check_non_empty};
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

const BAR_THICKNESS: i32 = 14;
const BAR_LABEL: &str = "share of row";

struct Confusion {
    title: String,
    subtitle: String,
    counts: Vec<Vec<u64>>,
    class_names: Vec<String>,
    row_totals: Vec<u64>,
    scale: ColourScale,
    cell: i32,
    left: i32,
    top: i32,
    width: u32,
    height: u32,
}

/// Draws a confusion matrix: `counts[t][p]` is the number of images of true
/// class `t` predicted as `p`. Cells print their count and their share of the
/// true class; the colour is that share (each row normalised), so rare and
/// common classes read alike. A last column gives each class's accuracy
/// (recall), and the subtitle the overall accuracy.
pub fn draw_confusion(
    counts: &[Vec<u64>],
    class_names: &[String],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = Confusion::new(counts, class_names, title)?;
    render(&figure, path)
}

impl Confusion {
    fn new(counts: &[Vec<u64>], class_names: &[String], title: &str) -> Result<Self, VizError> {
        check_non_empty("confusion counts", counts.len())?;
        check_len(
            "class_names",
            class_names.len(),
            counts.len(),
            "the confusion counts (rows)",
        )?;
        for (t, row) in counts.iter().enumerate() {
            if row.len() != counts.len() {
                return Err(VizError::InvalidInput(format!(
                    "confusion counts row {t} ({}) has {} entries, expected {} (one per class)",
                    class_names[t],
                    row.len(),
                    counts.len()
                )));
            }
        }
        let row_totals: Vec<u64> = counts.iter().map(|r| r.iter().sum()).collect();
        let total: u64 = row_totals.iter().sum();
        let correct: u64 = (0..counts.len()).map(|i| counts[i][i]).sum();
        let accuracy = if total > 0 {
            fmt_percent(correct as f64 / total as f64)
        } else {
            "n/a".to_string()
        };
        let subtitle = format!(
            "{} images · accuracy {accuracy} · colour: share of each true class (row) · last column: per-class accuracy",
            group_thousands(total)
        );
        let widest_name = class_names
            .iter()
            .map(|n| text_width(n, SMALL, false))
            .max()
            .unwrap_or(0);
        let cell = (widest_name + 10).clamp(58, 96);
        let widest_count = counts
            .iter()
            .flatten()
            .map(|c| text_width(&group_thousands(*c), LABEL, true))
            .max()
            .unwrap_or(0);
        let cell = cell.max(widest_count + 8);
        let row_label_w = class_names
            .iter()
            .map(|n| text_width(n, LABEL, false))
            .max()
            .unwrap_or(0);
        let left = MARGIN + 28 + row_label_w + 10;
        let top = TITLE_BLOCK + 54;
        let k = counts.len() as i32;
        let scale = ColourScale::sequential(0.0, 1.0, Palette::Blues);
        let bar_w =
            vertical_bar_width(&scale, BAR_THICKNESS).max(text_width(BAR_LABEL, SMALL, false));
        let width =
            (left + (k + 1) * cell + 32 + bar_w + MARGIN).max(title_width(title, &subtitle));
        let height = top + k * cell + 16 + MARGIN;
        Ok(Confusion {
            title: title.to_string(),
            subtitle,
            counts: counts.to_vec(),
            class_names: class_names.to_vec(),
            row_totals,
            scale,
            cell,
            left,
            top,
            width: width as u32,
            height: height as u32,
        })
    }
}

impl Figure for Confusion {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let k = self.counts.len() as i32;
        let cell = self.cell;
        let (left, top) = (self.left, self.top);
        text(
            root,
            "predicted class",
            (left + k * cell / 2, top - 40),
            Ink::bold(LABEL),
            Anchor::TopCenter,
        )?;
        vertical_text(
            root,
            "true class",
            (MARGIN + 8, top + k * cell / 2),
            Ink::bold(LABEL),
        )?;
        for (i, name) in self.class_names.iter().enumerate() {
            let i = i as i32;
            let shown = fit_text(name, cell - 4, SMALL, false);
            text(
                root,
                &shown,
                (left + i * cell + cell / 2, top - 6),
                Ink::body(SMALL),
                Anchor::BottomCenter,
            )?;
            text(
                root,
                name,
                (left - 10, top + i * cell + cell / 2),
                Ink::body(LABEL),
                Anchor::Right,
            )?;
        }
        text(
            root,
            "accuracy",
            (left + k * cell + cell / 2, top - 6),
            Ink::bold(SMALL),
            Anchor::BottomCenter,
        )?;
        for (t, row) in self.counts.iter().enumerate() {
            let y = top + t as i32 * cell;
            let row_total = self.row_totals[t];
            for (p, &count) in row.iter().enumerate() {
                let x = left + p as i32 * cell;
                let share = if row_total > 0 {
                    count as f64 / row_total as f64
                } else {
                    0.0
                };
                let fill = self.scale.rgb(share as f32);
                rect(root, (x, y), (x + cell, y + cell), rgb(fill), true)?;
                let ink_colour = if is_dark(fill) { WHITE } else { INK };
                let faint = count == 0;
                let count_ink = if faint {
                    Ink::new(LABEL, false, RGBColor(173, 181, 189))
                } else {
                    Ink::new(LABEL, t == p, ink_colour)
                };
                text(
                    root,
                    &group_thousands(count),
                    (x + cell / 2, y + cell / 2 - 7),
                    count_ink,
                    Anchor::Center,
                )?;
                if !faint {
                    text(
                        root,
                        &fmt_percent(share),
                        (x + cell / 2, y + cell / 2 + 10),
                        Ink::new(10.0, false, ink_colour),
                        Anchor::Center,
                    )?;
                }
            }
            // Per-class accuracy.
            let x = left + k * cell;
            let recall = if row_total > 0 {
                fmt_percent(row[t] as f64 / row_total as f64)
            } else {
                "n/a".to_string()
            };
            rect(root, (x + 4, y), (x + cell, y + cell), PANEL, true)?;
            text(
                root,
                &recall,
                (x + 4 + (cell - 4) / 2, y + cell / 2),
                Ink::bold(SMALL),
                Anchor::Center,
            )?;
        }
        // Grid lines between cells.
        for i in 0..=k {
            let off = i * cell;
            line(
                root,
                vec![(left, top + off), (left + k * cell, top + off)],
                WHITE,
                1,
            )?;
            line(
                root,
                vec![(left + off, top), (left + off, top + k * cell)],
                WHITE,
                1,
            )?;
        }
        frame(root, (left, top), (k * cell, k * cell), RULE)?;
        let bar_x = left + (k + 1) * cell + 32;
        text(
            root,
            BAR_LABEL,
            (bar_x, top - 28),
            Ink::muted(SMALL),
            Anchor::TopLeft,
        )?;
        colour_bar(
            root,
            (bar_x, top),
            k * cell,
            BAR_THICKNESS,
            Orientation::Vertical,
            &self.scale,
        )?;
        Ok(())
    }
}
