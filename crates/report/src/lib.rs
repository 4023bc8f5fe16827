//! One self-contained HTML file that lets a reader explore a trained CNN: pick a test image
//! or draw one, and watch every layer answer.
//!
//! The crate turns plain data — a [`Report`]: the layer table, the weights, a few test
//! images with the logits and layer outputs the network computed for them, the training
//! history, the confusion matrix, activation statistics and, optionally, attribution maps —
//! into one page. It knows no other convlens crate; the `trainer report` command gathers the
//! numbers.
//!
//! The page runs the network's forward pass itself, in plain JavaScript over the embedded
//! weights, so that a drawn or loaded image goes through every layer as it changes; opened
//! as `report.html?selftest=1` it checks that forward pass against the embedded logits and
//! layer outputs and exercises its own interactions, then writes `PASS` or the failures into
//! the element `#selftest`.
//!
//! Conventions:
//! - **No request of any kind**: script, style and data are inline; a Content-Security-Policy
//!   meta tag ([`CONTENT_SECURITY_POLICY`]) forbids every fetch, and the self-test fails on
//!   any policy violation or resource load.
//! - **No data closes the script tag**: the data is JSON in a
//!   `<script type="application/json">` element with `<`, `>`, `&` and the line separators
//!   written as `\u` escapes ([`escape_json_for_html`]); text in the HTML is escaped by the
//!   template engine (minijinja, HTML auto-escaping).
//! - **Compact**: weights are little-endian `f32` in base64; layer outputs and attribution
//!   maps are `u8`, scaled per image and layer between their minimum and maximum; input
//!   images are their `u8` pixels.
//! - Any input channels (1 or 3) and any square size the layer table takes.
//!
//! ```
//! use convlens_report::{render, Report};
//!
//! let mut report = Report::example();
//! report.title = "Hostile </script><b>".into();
//! let html = render(&report)?;
//! assert!(html.starts_with("<!doctype html>"));
//! assert!(html.contains(convlens_report::CONTENT_SECURITY_POLICY));
//! // The title appears escaped in the HTML and in the JSON, never as a closing tag.
//! assert_eq!(html.matches("</script>").count(), 3); // the page's own three script elements
//! assert!(html.contains("Hostile &lt;&#x2f;script&gt;&lt;b&gt;"));
//! # Ok::<(), convlens_report::ReportError>(())
//! ```
#![deny(missing_docs)]

mod data;
mod page;

pub use data::{
    Attributions, Epoch, Evaluation, ImageEntry, LayerMaps, LayerSpec, LayerStatsRow, NamedTensor,
    Report,
};
pub use page::{escape_json_for_html, render, ReportError, CONTENT_SECURITY_POLICY};
