//! Figure 7a: the confusion matrix, counts in cells and colour normalised per true class.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colour::{is_dark, ColourScale, Palette};
use crate::data::{check_len, check_non_empty};
use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// Above this many classes [`draw_confusion`] draws the matrix in colour only
/// (no numbers, thinned tick labels) and lists the most confused pairs below it.
pub const CONFUSION_NUMBERS_UP_TO: usize = 20;
/// How many pairs the table of most confused pairs lists.
pub const CONFUSED_PAIRS_SHOWN: usize = 15;

const BAR_THICKNESS: i32 = 14;
const BAR_LABEL: &str = "share of row";
/// Class names in row labels and in the pair table are shortened to this width.
const NAME_MAX: i32 = 180;
/// The colour-only matrix is about this many pixels wide.
const COMPACT_TARGET: i32 = 720;
const PAIR_LINE: i32 = 19;
const RECALL_STRIP: i32 = 14;

/// One off-diagonal cell of a confusion matrix: images of `true_class`
/// predicted as `predicted`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfusedPair {
    /// Index of the true class (the row).
    pub true_class: usize,
    /// Index of the predicted class (the column).
    pub predicted: usize,
    /// Number of images.
    pub count: u64,
    /// `count` as a fraction of all images of the true class (the row sum), in `[0, 1]`.
    pub share: f64,
}

/// The `limit` most confused pairs of `counts` (`counts[t][p]` images of true
/// class `t` predicted as `p`): off-diagonal cells with a non-zero count, the
/// largest count first; ties go to the larger share of the true class, then
/// to the lower true class, then to the lower predicted class.
///
/// Any input is accepted: rows may differ in length (each row's share is of
/// its own sum), and an empty matrix has no pairs.
///
/// ```
/// use convlens_viz::most_confused_pairs;
/// let counts = vec![vec![50, 3, 0], vec![8, 40, 2], vec![0, 3, 10]];
/// let pairs = most_confused_pairs(&counts, 2);
/// assert_eq!((pairs[0].true_class, pairs[0].predicted, pairs[0].count), (1, 0, 8));
/// // 3 of 13 images of class 2 outrank 3 of 53 images of class 0.
/// assert_eq!((pairs[1].true_class, pairs[1].predicted), (2, 1));
/// ```
pub fn most_confused_pairs(counts: &[Vec<u64>], limit: usize) -> Vec<ConfusedPair> {
    let mut pairs: Vec<ConfusedPair> = Vec::new();
    for (t, row) in counts.iter().enumerate() {
        let total = row.iter().fold(0u64, |s, &c| s.saturating_add(c));
        for (p, &count) in row.iter().enumerate() {
            if p != t && count > 0 {
                pairs.push(ConfusedPair {
                    true_class: t,
                    predicted: p,
                    count,
                    share: count as f64 / total as f64,
                });
            }
        }
    }
    pairs.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.share.total_cmp(&a.share))
            .then(a.true_class.cmp(&b.true_class))
            .then(a.predicted.cmp(&b.predicted))
    });
    pairs.truncate(limit);
    pairs
}

/// Layout of the colour-only matrix for many classes.
struct Compact {
    /// Tick labels every `step` classes.
    step: usize,
    pairs: Vec<ConfusedPair>,
    /// Top of the pair table.
    table_top: i32,
    /// Left edges of the table's columns: rank, true, predicted, count, share.
    table_cols: [i32; 5],
}

struct Confusion {
    title: String,
    subtitle: String,
    counts: Vec<Vec<u64>>,
    class_names: Vec<String>,
    row_totals: Vec<u64>,
    scale: ColourScale,
    compact: Option<Compact>,
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
/// (recall), and the subtitle the overall accuracy. Long class names are
/// shortened with an ellipsis.
///
/// With more than [`CONFUSION_NUMBERS_UP_TO`] classes the cells are too small
/// for numbers: the matrix is drawn in colour only, with every few classes'
/// index (and, on rows, name) as tick labels and the per-class accuracy as a
/// colour strip, and below it a table of the [`CONFUSED_PAIRS_SHOWN`] most
/// confused pairs ([`most_confused_pairs`]): true → predicted class, count and
/// share of the true class.
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
        // Saturating sums: absurd counts draw a figure rather than overflow.
        let sum = |values: &mut dyn Iterator<Item = u64>| values.fold(0u64, u64::saturating_add);
        let row_totals: Vec<u64> = counts.iter().map(|r| sum(&mut r.iter().copied())).collect();
        let total = sum(&mut row_totals.iter().copied());
        let correct = sum(&mut (0..counts.len()).map(|i| counts[i][i]));
        let accuracy = if total > 0 {
            fmt_percent(correct as f64 / total as f64)
        } else {
            "n/a".to_string()
        };
        let subtitle = format!(
            "{} images · accuracy {accuracy} · colour: share of each true class (row) · last column: per-class accuracy",
            group_thousands(total)
        );
        let k = counts.len() as i32;
        let scale = ColourScale::sequential(0.0, 1.0, Palette::Blues);
        let bar_w =
            vertical_bar_width(&scale, BAR_THICKNESS).max(text_width(BAR_LABEL, SMALL, false));
        let row_label_w = class_names
            .iter()
            .map(|n| text_width(n, LABEL, false))
            .max()
            .unwrap_or(0)
            .min(NAME_MAX);
        let (cell, left, top, compact, width, height);
        if counts.len() <= CONFUSION_NUMBERS_UP_TO {
            let widest_name = class_names
                .iter()
                .map(|n| text_width(n, SMALL, false))
                .max()
                .unwrap_or(0);
            let widest_count = counts
                .iter()
                .flatten()
                .map(|c| text_width(&group_thousands(*c), LABEL, true))
                .max()
                .unwrap_or(0);
            cell = (widest_name + 10).clamp(58, 96).max(widest_count + 8);
            left = MARGIN + 28 + row_label_w + 10;
            top = TITLE_BLOCK + 54;
            compact = None;
            width = left + (k + 1) * cell + 32 + bar_w + MARGIN;
            height = top + k * cell + 16 + MARGIN;
        } else {
            cell = (COMPACT_TARGET / k).clamp(3, 16);
            // Tick labels at least 16 pixels apart, at round class indices.
            let step = [1usize, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
                .into_iter()
                .find(|s| *s as i32 * cell >= 16)
                .unwrap_or(counts.len());
            let widest_tick = text_width(&counts.len().to_string(), SMALL, false);
            left = MARGIN + 28 + row_label_w + 10 + widest_tick + 8;
            top = TITLE_BLOCK + 54;
            let pairs = most_confused_pairs(counts, CONFUSED_PAIRS_SHOWN);
            let table_top = top + k * cell + 36;
            let name_w = |index: usize| text_width(&class_label(class_names, index), LABEL, false);
            let true_w = pairs
                .iter()
                .map(|p| name_w(p.true_class))
                .chain([text_width("true class", LABEL, true)])
                .max()
                .unwrap_or(0)
                .min(NAME_MAX);
            let pred_w = pairs
                .iter()
                .map(|p| name_w(p.predicted))
                .chain([text_width("predicted as", LABEL, true)])
                .max()
                .unwrap_or(0)
                .min(NAME_MAX);
            let rank_w = text_width("#", LABEL, true).max(text_width("15", LABEL, false)) + 14;
            let count_w = pairs
                .iter()
                .map(|p| text_width(&group_thousands(p.count), LABEL, false))
                .chain([text_width("images", LABEL, true)])
                .max()
                .unwrap_or(0)
                + 20;
            let x0 = MARGIN;
            let x1 = x0 + rank_w;
            let x2 = x1 + true_w + 28;
            let x3 = x2 + pred_w + 20;
            let x4 = x3 + count_w;
            let table_w = x4 + text_width("share of true class", LABEL, true) - x0;
            let rows = pairs.len().max(1) as i32;
            height = table_top + 48 + (rows + 1) * PAIR_LINE + MARGIN;
            width = (left + k * cell + 8 + RECALL_STRIP + 32 + bar_w + MARGIN)
                .max(table_w + 2 * MARGIN);
            compact = Some(Compact {
                step,
                pairs,
                table_top,
                table_cols: [x0, x1, x2, x3, x4],
            });
        }
        let width = width.max(title_width(title, &subtitle));
        Ok(Confusion {
            title: title.to_string(),
            subtitle,
            counts: counts.to_vec(),
            class_names: class_names.to_vec(),
            row_totals,
            scale,
            compact,
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
        match &self.compact {
            None => self.draw_numbers(root),
            Some(compact) => self.draw_compact(root, compact),
        }
    }
}

/// `"name (index)"`, or the index alone when the name is missing or empty.
fn class_label(class_names: &[String], index: usize) -> String {
    match class_names.get(index) {
        Some(name) if !name.is_empty() => format!("{name} ({index})"),
        _ => index.to_string(),
    }
}

impl Confusion {
    fn share(&self, t: usize, p: usize) -> f64 {
        let total = self.row_totals[t];
        if total > 0 {
            self.counts[t][p] as f64 / total as f64
        } else {
            0.0
        }
    }

    /// The axis titles around a `k`-class matrix at `(left, top)`.
    fn axis_titles<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let k = self.counts.len() as i32;
        let (left, top, cell) = (self.left, self.top, self.cell);
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
        )
    }

    /// The colour-only matrix with thinned ticks, a recall strip and the pair table.
    fn draw_compact<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        compact: &Compact,
    ) -> DrawResult<DB> {
        let n = self.counts.len();
        let k = n as i32;
        let (left, top, cell) = (self.left, self.top, self.cell);
        self.axis_titles(root)?;
        cells(
            root,
            (left, top),
            (n, n),
            (cell as u32, cell as u32),
            |p, t| self.scale.rgb(self.share(t, p) as f32),
        )?;
        frame(root, (left, top), (k * cell, k * cell), RULE)?;
        let ticks = (0..n).step_by(compact.step.max(1));
        for i in ticks {
            let offset = i as i32 * cell + cell / 2;
            line(
                root,
                vec![(left + offset, top - 4), (left + offset, top - 1)],
                MUTED,
                1,
            )?;
            text(
                root,
                &i.to_string(),
                (left + offset, top - 6),
                Ink::muted(SMALL),
                Anchor::BottomCenter,
            )?;
            line(
                root,
                vec![(left - 4, top + offset), (left - 1, top + offset)],
                MUTED,
                1,
            )?;
            let name = fit_text(&self.class_names[i], NAME_MAX, SMALL, false);
            text(
                root,
                &format!("{name}  {i}"),
                (left - 7, top + offset),
                Ink::body(SMALL),
                Anchor::Right,
            )?;
        }
        // Per-class accuracy as a colour strip.
        let strip_x = left + k * cell + 8;
        cells(
            root,
            (strip_x, top),
            (1, n),
            (RECALL_STRIP as u32, cell as u32),
            |_, t| self.scale.rgb(self.share(t, t) as f32),
        )?;
        frame(root, (strip_x, top), (RECALL_STRIP, k * cell), RULE)?;
        text(
            root,
            "accuracy",
            (strip_x + RECALL_STRIP / 2, top + k * cell + 5),
            Ink::bold(SMALL),
            Anchor::TopCenter,
        )?;
        let bar_x = strip_x + RECALL_STRIP + 32;
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
            (k * cell).max(120),
            BAR_THICKNESS,
            Orientation::Vertical,
            &self.scale,
        )?;

        // The table of the most confused pairs.
        let y0 = compact.table_top;
        rect(
            root,
            (MARGIN, y0 - 4),
            (self.width as i32 - MARGIN, y0 - 3),
            RULE,
            true,
        )?;
        text(
            root,
            &format!("The {} most confused pairs", compact.pairs.len().max(1)),
            (MARGIN, y0 + 6),
            Ink::bold(HEADING),
            Anchor::TopLeft,
        )?;
        let [x0, x1, x2, x3, x4] = compact.table_cols;
        let header_y = y0 + 34;
        for (x, heading) in [
            (x0, "#"),
            (x1, "true class"),
            (x2, "predicted as"),
            (x3, "images"),
            (x4, "share of true class"),
        ] {
            text(
                root,
                heading,
                (x, header_y),
                Ink::bold(LABEL),
                Anchor::TopLeft,
            )?;
        }
        if compact.pairs.is_empty() {
            text(
                root,
                "none: every image was classified correctly",
                (x1, header_y + PAIR_LINE),
                Ink::muted(LABEL),
                Anchor::TopLeft,
            )?;
        }
        for (rank, pair) in compact.pairs.iter().enumerate() {
            let y = header_y + (rank as i32 + 1) * PAIR_LINE;
            let truth = fit_text(
                &class_label(&self.class_names, pair.true_class),
                x2 - x1 - 28,
                LABEL,
                false,
            );
            let predicted = fit_text(
                &class_label(&self.class_names, pair.predicted),
                x3 - x2 - 20,
                LABEL,
                false,
            );
            text(
                root,
                &(rank + 1).to_string(),
                (x0, y),
                Ink::muted(LABEL),
                Anchor::TopLeft,
            )?;
            text(root, &truth, (x1, y), Ink::body(LABEL), Anchor::TopLeft)?;
            text(root, "→", (x2 - 20, y), Ink::muted(LABEL), Anchor::TopLeft)?;
            text(
                root,
                &predicted,
                (x2, y),
                Ink::new(LABEL, false, BAD),
                Anchor::TopLeft,
            )?;
            text(
                root,
                &group_thousands(pair.count),
                (x3, y),
                Ink::body(LABEL),
                Anchor::TopLeft,
            )?;
            text(
                root,
                &fmt_percent(pair.share),
                (x4, y),
                Ink::body(LABEL),
                Anchor::TopLeft,
            )?;
        }
        Ok(())
    }

    /// The matrix with a count and share in every cell.
    fn draw_numbers<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let k = self.counts.len() as i32;
        let cell = self.cell;
        let (left, top) = (self.left, self.top);
        self.axis_titles(root)?;
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
                &fit_text(name, NAME_MAX, LABEL, false),
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
