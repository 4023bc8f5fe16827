//! Figure 3: loss and accuracy per epoch, training against validation.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// The metrics of one epoch, for [`draw_curves`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochPoint {
    /// Epoch number (usually counted from 1).
    pub epoch: usize,
    /// Mean training loss (must be positive: the loss axis is logarithmic).
    pub train_loss: f64,
    /// Mean validation loss (positive).
    pub val_loss: f64,
    /// Training accuracy as a fraction in `[0, 1]`.
    pub train_accuracy: f64,
    /// Validation accuracy as a fraction in `[0, 1]`.
    pub val_accuracy: f64,
}

const PANEL_W: i32 = 560;
const PANEL_H: i32 = 400;
const PANEL_GAP: i32 = 24;

struct Curves {
    title: String,
    subtitle: String,
    history: Vec<EpochPoint>,
    best: usize,
    width: u32,
    height: u32,
}

/// Draws two panels side by side: loss per epoch on a logarithmic axis, and
/// accuracy per epoch in percent, each with training and validation curves and
/// a legend. The subtitle states the final values and the best validation
/// accuracy, which is also marked on the accuracy panel.
pub fn draw_curves(history: &[EpochPoint], title: &str, path: &Path) -> Result<(), VizError> {
    let figure = Curves::new(history, title)?;
    render(&figure, path)
}

impl Curves {
    fn new(history: &[EpochPoint], title: &str) -> Result<Self, VizError> {
        crate::data::check_non_empty("history", history.len())?;
        for (i, p) in history.iter().enumerate() {
            if i > 0 && p.epoch <= history[i - 1].epoch {
                return Err(VizError::InvalidInput(format!(
                    "history epochs must increase, but entry {i} has epoch {} after epoch {}",
                    p.epoch,
                    history[i - 1].epoch
                )));
            }
            for (name, loss) in [("train_loss", p.train_loss), ("val_loss", p.val_loss)] {
                if !(loss.is_finite() && loss > 0.0) {
                    return Err(VizError::InvalidInput(format!(
                        "{name} at epoch {} is {loss}, the logarithmic loss axis needs a positive finite value",
                        p.epoch
                    )));
                }
            }
            for (name, acc) in [
                ("train_accuracy", p.train_accuracy),
                ("val_accuracy", p.val_accuracy),
            ] {
                if !(0.0..=1.0).contains(&acc) {
                    return Err(VizError::InvalidInput(format!(
                        "{name} at epoch {} is {acc}, expected a fraction in [0, 1]",
                        p.epoch
                    )));
                }
            }
        }
        // First epoch with the highest validation accuracy.
        let mut best = 0;
        for (i, p) in history.iter().enumerate() {
            if p.val_accuracy > history[best].val_accuracy {
                best = i;
            }
        }
        let last = history[history.len() - 1];
        let subtitle = format!(
            "after epoch {}: loss {} train / {} val · accuracy {} train / {} val · best val accuracy {} at epoch {}",
            last.epoch,
            fmt_num(last.train_loss),
            fmt_num(last.val_loss),
            fmt_percent(last.train_accuracy),
            fmt_percent(last.val_accuracy),
            fmt_percent(history[best].val_accuracy),
            history[best].epoch,
        );
        let width = (2 * PANEL_W + PANEL_GAP + 2 * MARGIN).max(title_width(title, &subtitle));
        let height = TITLE_BLOCK + 6 + PANEL_H + MARGIN;
        Ok(Curves {
            title: title.to_string(),
            subtitle,
            history: history.to_vec(),
            best,
            width: width as u32,
            height: height as u32,
        })
    }

    fn epoch_range(&self) -> std::ops::Range<f64> {
        let first = self.history[0].epoch as f64;
        let last = self.history[self.history.len() - 1].epoch as f64;
        let pad = ((last - first) * 0.03).max(0.5);
        (first - pad)..(last + pad)
    }
}

/// Integer ticks only: epochs are whole numbers.
fn epoch_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// Where a legend sits inside a plot.
enum Corner {
    TopRight,
    BottomRight,
}

/// A legend box for the train and validation series inside the plot area.
fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (xs, ys): (std::ops::Range<i32>, std::ops::Range<i32>),
    corner: Corner,
) -> DrawResult<DB> {
    let entries = [("train", TRAIN), ("validation", VALIDATION)];
    let text_w = entries
        .iter()
        .map(|(n, _)| text_width(n, LABEL, false))
        .max()
        .unwrap_or(0);
    let (w, h) = (12 + 24 + 8 + text_w + 12, 12 + entries.len() as i32 * 20);
    let x = xs.end - 10 - w;
    let y = match corner {
        Corner::TopRight => ys.start + 10,
        Corner::BottomRight => ys.end - 10 - h,
    };
    rect(root, (x, y), (x + w, y + h), WHITE, true)?;
    rect(root, (x, y), (x + w, y + h), RULE, false)?;
    for (i, (name, colour)) in entries.iter().enumerate() {
        let ly = y + 6 + 10 + i as i32 * 20;
        line(root, vec![(x + 12, ly), (x + 36, ly)], *colour, 2)?;
        root.draw(&Circle::new((x + 24, ly), 3, colour.filled()))?;
        text(root, name, (x + 44, ly), Ink::body(LABEL), Anchor::Left)?;
    }
    Ok(())
}

/// Log-axis grid: 1, 2 and 5 times each power of ten are labelled, the other
/// integer multiples get a light line.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut labelled, mut unlabelled) = (Vec::new(), Vec::new());
    for exp in (lo.log10().floor() as i32)..=(hi.log10().ceil() as i32) {
        for m in 1..=9 {
            let v = m as f64 * 10f64.powi(exp);
            if v < lo || v > hi {
                continue;
            }
            if matches!(m, 1 | 2 | 5) {
                labelled.push(v);
            } else {
                unlabelled.push(v);
            }
        }
    }
    if labelled.len() < 2 {
        // A narrow range: label every grid line, or at least both ends.
        labelled.append(&mut unlabelled);
        labelled.sort_by(f64::total_cmp);
        if labelled.len() < 2 {
            labelled = vec![lo, hi];
        }
    }
    (labelled, unlabelled)
}

fn series_style(colour: RGBColor) -> ShapeStyle {
    colour.stroke_width(2)
}

impl Figure for Curves {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let left_x = (self.width as i32 - (2 * PANEL_W + PANEL_GAP)) / 2;
        let top = TITLE_BLOCK + 6;
        let body = root
            .clone()
            .shrink((left_x, top), (2 * PANEL_W + PANEL_GAP, PANEL_H));
        let (loss_area, rest) = body.split_horizontally(PANEL_W);
        let acc_area = rest.shrink((PANEL_GAP, 0), (PANEL_W, PANEL_H));
        let epochs = self.epoch_range();

        // Loss panel, logarithmic.
        let losses = self.history.iter().flat_map(|p| [p.train_loss, p.val_loss]);
        let lo = losses.clone().fold(f64::INFINITY, f64::min);
        let hi = losses.fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = (lo / 1.3, hi * 1.3);
        let (labelled, unlabelled) = log_ticks(lo, hi);
        let mut chart = ChartBuilder::on(&loss_area)
            .caption("Loss per epoch", font(HEADING, true).color(&INK))
            .margin(8)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                epochs.clone(),
                (lo..hi)
                    .log_scale()
                    .with_key_points(labelled)
                    .with_light_points(unlabelled),
            )?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy loss (log scale)")
            .x_label_formatter(&epoch_label)
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style(font(SMALL, false).color(&INK))
            .axis_desc_style(font(LABEL, false).color(&INK))
            .bold_line_style(RGBColor(230, 232, 235))
            .light_line_style(RGBColor(243, 244, 246))
            .axis_style(RULE)
            .draw()?;
        for (colour, get) in [
            (
                TRAIN,
                (|p: &EpochPoint| p.train_loss) as fn(&EpochPoint) -> f64,
            ),
            (VALIDATION, |p: &EpochPoint| p.val_loss),
        ] {
            let points: Vec<(f64, f64)> = self
                .history
                .iter()
                .map(|p| (p.epoch as f64, get(p)))
                .collect();
            chart.draw_series(LineSeries::new(points.clone(), series_style(colour)))?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
        legend(
            root,
            chart.plotting_area().get_pixel_range(),
            Corner::TopRight,
        )?;

        // Accuracy panel, percent.
        let accs = self
            .history
            .iter()
            .flat_map(|p| [p.train_accuracy * 100.0, p.val_accuracy * 100.0]);
        let lo = accs.clone().fold(f64::INFINITY, f64::min);
        let hi = accs.fold(f64::NEG_INFINITY, f64::max);
        let span = (hi - lo).max(0.5);
        let (lo, hi) = ((lo - span * 0.08).max(0.0), (hi + span * 0.08).min(100.0));
        let (lo, hi) = if hi - lo < 0.5 {
            (hi - 0.5, hi)
        } else {
            (lo, hi)
        };
        let mut chart = ChartBuilder::on(&acc_area)
            .caption("Accuracy per epoch", font(HEADING, true).color(&INK))
            .margin(8)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(epochs, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy (%)")
            .x_label_formatter(&epoch_label)
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style(font(SMALL, false).color(&INK))
            .axis_desc_style(font(LABEL, false).color(&INK))
            .bold_line_style(RGBColor(230, 232, 235))
            .light_line_style(RGBColor(246, 247, 248))
            .axis_style(RULE)
            .draw()?;
        for (colour, get) in [
            (
                TRAIN,
                (|p: &EpochPoint| p.train_accuracy) as fn(&EpochPoint) -> f64,
            ),
            (VALIDATION, |p: &EpochPoint| p.val_accuracy),
        ] {
            let points: Vec<(f64, f64)> = self
                .history
                .iter()
                .map(|p| (p.epoch as f64, get(p) * 100.0))
                .collect();
            chart.draw_series(LineSeries::new(points.clone(), series_style(colour)))?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
        let best = self.history[self.best];
        let best_point = (best.epoch as f64, best.val_accuracy * 100.0);
        chart.draw_series(std::iter::once(Circle::new(
            best_point,
            7,
            VALIDATION.stroke_width(2),
        )))?;
        let (bx, by) = chart.backend_coord(&best_point);
        text(
            root,
            &format!("best {}", fmt_percent(best.val_accuracy)),
            (bx, by + 12),
            Ink::new(SMALL, true, VALIDATION),
            Anchor::TopCenter,
        )?;
        legend(
            root,
            chart.plotting_area().get_pixel_range(),
            Corner::BottomRight,
        )?;
        Ok(())
    }
}
