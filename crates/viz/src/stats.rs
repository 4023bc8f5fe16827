//! Figure 8: activation statistics per layer, and mean ± spread per channel.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// Activation statistics of one layer over a data set, for [`draw_activation_stats`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    /// Layer name, e.g. `relu2`.
    pub layer: String,
    /// Fraction of activations that are exactly zero, in `[0, 1]`.
    pub zero_fraction: f64,
    /// Mean activation.
    pub mean: f64,
    /// Fraction of channels that are never active (zero for every input), in `[0, 1]`.
    pub dead_channel_fraction: f64,
    /// Mean of each channel; empty for layers without a channel panel.
    pub channel_means: Vec<f64>,
    /// Standard deviation of each channel, same length as `channel_means`.
    pub channel_stds: Vec<f64>,
}

const PANEL_W: i32 = 330;
const PANEL_GAP: i32 = 32;
const BAR_ROW: i32 = 24;
const CHANNEL_PANEL_H: i32 = 150;
const CHANNEL_HEAD: i32 = 40;
const CHANNEL_FOOT: i32 = 34;

#[derive(Clone, Copy)]
enum Measure {
    Zeros,
    Mean,
    Dead,
}

impl Measure {
    fn title(self) -> &'static str {
        match self {
            Measure::Zeros => "Exact zeros",
            Measure::Mean => "Mean activation",
            Measure::Dead => "Dead channels",
        }
    }
    fn note(self) -> &'static str {
        match self {
            Measure::Zeros => "share of activations that are exactly 0",
            Measure::Mean => "mean over images, channels and positions",
            Measure::Dead => "share of channels that are 0 for every image",
        }
    }
    fn value(self, s: &LayerStats) -> f64 {
        match self {
            Measure::Zeros => s.zero_fraction,
            Measure::Mean => s.mean,
            Measure::Dead => s.dead_channel_fraction,
        }
    }
    fn colour(self) -> RGBColor {
        match self {
            Measure::Zeros => RGBColor(230, 115, 0),
            Measure::Mean => TRAIN,
            Measure::Dead => BAD,
        }
    }
    fn format(self, v: f64) -> String {
        match self {
            Measure::Mean => fmt_num(v),
            _ => fmt_percent(v),
        }
    }
}

struct ActivationStats {
    title: String,
    subtitle: String,
    layers: Vec<LayerStats>,
    channel_layers: Vec<usize>,
    label_w: i32,
    bars_top: i32,
    channel_w: i32,
    channels_top: i32,
    width: u32,
    height: u32,
}

/// Draws activation statistics: three bar panels with one bar per layer —
/// fraction of exact zeros, mean activation, fraction of dead channels — and,
/// for every layer with per-channel numbers, a panel of each channel's mean
/// with a ± one standard deviation whisker.
pub fn draw_activation_stats(
    layers: &[LayerStats],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = ActivationStats::new(layers, title)?;
    render(&figure, path)
}

impl ActivationStats {
    fn new(layers: &[LayerStats], title: &str) -> Result<Self, VizError> {
        crate::data::check_non_empty("layer statistics", layers.len())?;
        for s in layers {
            for (name, v) in [
                ("zero_fraction", s.zero_fraction),
                ("dead_channel_fraction", s.dead_channel_fraction),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(VizError::InvalidInput(format!(
                        "{name} of layer {} is {v}, expected a fraction in [0, 1]",
                        s.layer
                    )));
                }
            }
            if !s.mean.is_finite() {
                return Err(VizError::InvalidInput(format!(
                    "mean of layer {} is {}, expected a finite number",
                    s.layer, s.mean
                )));
            }
            if s.channel_means.len() != s.channel_stds.len() {
                return Err(VizError::InvalidInput(format!(
                    "layer {} has {} channel_means but {} channel_stds",
                    s.layer,
                    s.channel_means.len(),
                    s.channel_stds.len()
                )));
            }
            if let Some(i) = s.channel_means.iter().position(|v| !v.is_finite()) {
                return Err(VizError::InvalidInput(format!(
                    "channel_means of layer {} has {} at channel {i}, expected a finite number",
                    s.layer, s.channel_means[i]
                )));
            }
            if let Some(i) = s
                .channel_stds
                .iter()
                .position(|v| !(v.is_finite() && *v >= 0.0))
            {
                return Err(VizError::InvalidInput(format!(
                    "channel_stds of layer {} has {} at channel {i}, expected a finite non-negative number",
                    s.layer, s.channel_stds[i]
                )));
            }
        }
        let label_w = layers
            .iter()
            .map(|s| text_width(&s.layer, SMALL, false))
            .max()
            .unwrap_or(0)
            + 10;
        let channel_layers: Vec<usize> = layers
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.channel_means.is_empty())
            .map(|(i, _)| i)
            .collect();
        let bars_top = TITLE_BLOCK + 14;
        let bars_h = 42 + layers.len() as i32 * BAR_ROW + 28;
        let content_w = 3 * PANEL_W + 2 * PANEL_GAP;
        let channel_w = (content_w - PANEL_GAP) / 2;
        let channels_top = bars_top + bars_h + 24;
        let channel_rows = channel_layers.len().div_ceil(2) as i32;
        let channel_block = CHANNEL_HEAD + CHANNEL_PANEL_H + CHANNEL_FOOT;
        let height = if channel_rows > 0 {
            channels_top + 30 + channel_rows * (channel_block + 16) + MARGIN
        } else {
            bars_top + bars_h + MARGIN
        };
        let subtitle = format!(
            "{} layers{}",
            layers.len(),
            if channel_layers.is_empty() {
                String::new()
            } else {
                format!(" · per-channel mean ± std for {}", channel_layers.len()) + " of them"
            }
        );
        let width = (content_w + 2 * MARGIN).max(title_width(title, &subtitle));
        Ok(ActivationStats {
            title: title.to_string(),
            subtitle,
            layers: layers.to_vec(),
            channel_layers,
            label_w,
            bars_top,
            channel_w,
            channels_top,
            width: width as u32,
            height: height as u32,
        })
    }

    fn bar_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x0: i32,
        measure: Measure,
    ) -> DrawResult<DB> {
        let y0 = self.bars_top;
        text(
            root,
            measure.title(),
            (x0, y0),
            Ink::bold(HEADING),
            Anchor::TopLeft,
        )?;
        text(
            root,
            measure.note(),
            (x0, y0 + 20),
            Ink::muted(SMALL),
            Anchor::TopLeft,
        )?;
        let plot_x = x0 + self.label_w;
        let plot_w = PANEL_W - self.label_w - 8;
        let rows_top = y0 + 42;
        let values: Vec<f64> = self.layers.iter().map(|s| measure.value(s)).collect();
        let (lo, hi) = match measure {
            Measure::Mean => {
                let lo = values.iter().cloned().fold(0.0, f64::min);
                let hi = values.iter().cloned().fold(0.0, f64::max);
                let span = (hi - lo).max(1e-12);
                // Room for the value printed at the end of the bar.
                (
                    if lo < 0.0 { lo - 0.3 * span } else { 0.0 },
                    if hi > 0.0 { hi + 0.3 * span } else { 0.0 },
                )
            }
            _ => (0.0, 1.0),
        };
        let (lo, hi) = if hi > lo { (lo, hi) } else { (0.0, 1.0) };
        let to_x = |v: f64| plot_x + ((v - lo) / (hi - lo) * plot_w as f64).round() as i32;
        let zero_x = to_x(0.0);
        let plot_h = self.layers.len() as i32 * BAR_ROW;
        rect(
            root,
            (plot_x, rows_top),
            (plot_x + plot_w, rows_top + plot_h),
            PANEL,
            true,
        )?;
        for (i, s) in self.layers.iter().enumerate() {
            let y = rows_top + i as i32 * BAR_ROW;
            text(
                root,
                &s.layer,
                (plot_x - 8, y + BAR_ROW / 2),
                Ink::body(SMALL),
                Anchor::Right,
            )?;
            let v = values[i];
            let end = to_x(v);
            let (a, b) = if end >= zero_x {
                (zero_x, end)
            } else {
                (end, zero_x)
            };
            if b > a {
                rect(
                    root,
                    (a, y + 4),
                    (b, y + BAR_ROW - 4),
                    measure.colour(),
                    true,
                )?;
            }
            let label = measure.format(v);
            let label_w = text_width(&label, SMALL, false);
            if v >= 0.0 {
                if end + 4 + label_w <= plot_x + plot_w {
                    text(
                        root,
                        &label,
                        (end + 4, y + BAR_ROW / 2),
                        Ink::body(SMALL),
                        Anchor::Left,
                    )?;
                } else {
                    text(
                        root,
                        &label,
                        (end - 4, y + BAR_ROW / 2),
                        Ink::new(SMALL, true, WHITE),
                        Anchor::Right,
                    )?;
                }
            } else if end - 4 - label_w >= plot_x {
                text(
                    root,
                    &label,
                    (end - 4, y + BAR_ROW / 2),
                    Ink::body(SMALL),
                    Anchor::Right,
                )?;
            } else {
                text(
                    root,
                    &label,
                    (end + 4, y + BAR_ROW / 2),
                    Ink::new(SMALL, true, WHITE),
                    Anchor::Left,
                )?;
            }
        }
        line(
            root,
            vec![(zero_x, rows_top), (zero_x, rows_top + plot_h)],
            MUTED,
            1,
        )?;
        // Axis ticks; bars carry their own values, so the mean panel only marks zero.
        let ticks: &[(f64, &str)] = match measure {
            Measure::Mean => &[(0.0, "0")],
            _ => &[(0.0, "0%"), (0.5, "50%"), (1.0, "100%")],
        };
        for &(t, label) in ticks {
            let x = to_x(t);
            line(
                root,
                vec![(x, rows_top + plot_h), (x, rows_top + plot_h + 4)],
                MUTED,
                1,
            )?;
            text(
                root,
                label,
                (x, rows_top + plot_h + 6),
                Ink::muted(SMALL),
                Anchor::TopCenter,
            )?;
        }
        Ok(())
    }

    fn channel_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (x0, y0): (i32, i32),
        stats: &LayerStats,
    ) -> DrawResult<DB> {
        let c = stats.channel_means.len();
        text(
            root,
            &format!(
                "{} · {c} channel{}",
                stats.layer,
                if c == 1 { "" } else { "s" }
            ),
            (x0, y0),
            Ink::bold(LABEL),
            Anchor::TopLeft,
        )?;
        let lows = stats
            .channel_means
            .iter()
            .zip(&stats.channel_stds)
            .map(|(m, s)| m - s);
        let highs = stats
            .channel_means
            .iter()
            .zip(&stats.channel_stds)
            .map(|(m, s)| m + s);
        let lo = lows.fold(0.0, f64::min);
        let hi = highs.fold(0.0, f64::max);
        let (lo, hi) = if hi > lo { (lo, hi) } else { (0.0, 1.0) };
        let axis_w = [lo, hi]
            .iter()
            .map(|v| text_width(&fmt_num(*v), SMALL, false))
            .max()
            .unwrap_or(0)
            + 10;
        let plot_x = x0 + axis_w;
        let plot_w = self.channel_w - axis_w;
        let plot_y = y0 + CHANNEL_HEAD - 16;
        let plot_h = CHANNEL_PANEL_H;
        let to_y = |v: f64| plot_y + plot_h - ((v - lo) / (hi - lo) * plot_h as f64).round() as i32;
        rect(
            root,
            (plot_x, plot_y),
            (plot_x + plot_w, plot_y + plot_h),
            PANEL,
            true,
        )?;
        let slot = plot_w as f64 / c as f64;
        let bar_w = (slot * 0.7).clamp(1.0, 36.0);
        let zero_y = to_y(0.0);
        for (i, (&m, &s)) in stats
            .channel_means
            .iter()
            .zip(&stats.channel_stds)
            .enumerate()
        {
            let cx = plot_x as f64 + (i as f64 + 0.5) * slot;
            let a = (cx - bar_w / 2.0).round() as i32;
            let b = ((cx + bar_w / 2.0).round() as i32).max(a + 1);
            let (top, bottom) = if m >= 0.0 {
                (to_y(m), zero_y)
            } else {
                (zero_y, to_y(m))
            };
            if bottom > top {
                rect(root, (a, top), (b, bottom), RGBColor(116, 169, 207), true)?;
            }
            let cx = cx.round() as i32;
            line(root, vec![(cx, to_y(m - s)), (cx, to_y(m + s))], INK, 1)?;
            if slot >= 6.0 {
                let half = ((slot * 0.25).round() as i32).clamp(2, 8);
                line(
                    root,
                    vec![(cx - half, to_y(m + s)), (cx + half, to_y(m + s))],
                    INK,
                    1,
                )?;
                line(
                    root,
                    vec![(cx - half, to_y(m - s)), (cx + half, to_y(m - s))],
                    INK,
                    1,
                )?;
            }
        }
        line(
            root,
            vec![(plot_x, zero_y), (plot_x + plot_w, zero_y)],
            MUTED,
            1,
        )?;
        for v in [lo, 0.0, hi] {
            let y = to_y(v);
            // Skip an end label that would overprint the zero label.
            if v != 0.0 && (y - zero_y).abs() < 14 {
                continue;
            }
            line(root, vec![(plot_x - 3, y), (plot_x, y)], MUTED, 1)?;
            text(
                root,
                &fmt_num(v),
                (plot_x - 6, y),
                Ink::muted(SMALL),
                Anchor::Right,
            )?;
        }
        let step = match c {
            0..=20 => 1,
            21..=40 => 5,
            41..=200 => 10,
            _ => 50,
        };
        for i in (0..c).step_by(step) {
            let cx = (plot_x as f64 + (i as f64 + 0.5) * slot).round() as i32;
            text(
                root,
                &i.to_string(),
                (cx, plot_y + plot_h + 4),
                Ink::muted(SMALL),
                Anchor::TopCenter,
            )?;
        }
        text(
            root,
            "channel (bar: mean, whisker: ± 1 std)",
            (plot_x + plot_w / 2, plot_y + plot_h + 18),
            Ink::muted(SMALL),
            Anchor::TopCenter,
        )?;
        Ok(())
    }
}

impl Figure for ActivationStats {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let content_w = 3 * PANEL_W + 2 * PANEL_GAP;
        let left = (self.width as i32 - content_w) / 2;
        for (i, measure) in [Measure::Zeros, Measure::Mean, Measure::Dead]
            .into_iter()
            .enumerate()
        {
            self.bar_panel(root, left + i as i32 * (PANEL_W + PANEL_GAP), measure)?;
        }
        if !self.channel_layers.is_empty() {
            let y = self.channels_top;
            rect(
                root,
                (MARGIN, y - 12),
                (self.width as i32 - MARGIN, y - 11),
                RULE,
                true,
            )?;
            text(
                root,
                "Per-channel mean ± standard deviation",
                (left, y),
                Ink::bold(HEADING),
                Anchor::TopLeft,
            )?;
            let block = CHANNEL_HEAD + CHANNEL_PANEL_H + CHANNEL_FOOT + 16;
            for (k, &layer) in self.channel_layers.iter().enumerate() {
                let col = (k % 2) as i32;
                let row = (k / 2) as i32;
                let x = left + col * (self.channel_w + PANEL_GAP);
                let py = y + 30 + row * block;
                self.channel_panel(root, (x, py), &self.layers[layer])?;
            }
        }
        Ok(())
    }
}
