//! `trainer report` end to end: the page is written for a small run, opened in headless
//! Chromium with `?selftest=1`, and must say PASS — the page's own forward pass equals
//! convlens's on every embedded image (≤ 1e-4 on the logits), a click, the arrow keys, a
//! hover over every map layer, a confusion cell, a stroke on the drawing canvas and a loaded
//! image file all work, and the page made no request.
//!
//! What "no request" is asserted with: the file carries a Content-Security-Policy meta tag
//! (`default-src 'none'`, inline script and style only) before any script; it names no
//! `http:`/`https:` address and no `src=`; in the browser the self-test fails on any
//! `securitypolicyviolation` event (a request the policy blocked) and on any resource-timing
//! entry (a request that was made), and Chromium runs with every host name resolving
//! nowhere. A copy of the page with one external image added must FAIL, which shows the
//! check sees requests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{stderr, synthetic_data, trainer};
use candle_core::{DType, Device, Tensor};

/// Debian's Chromium, where `.ci/run` installs it.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The size goal: 100 images of a 28×28 run in at most 3 MB.
const SIZE_GOAL: u64 = 3_000_000;

fn run(args: &[&str]) -> Output {
    trainer()
        .args(args)
        .output()
        .expect("the trainer binary runs")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "expected exit code 2: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
}

fn chromium() -> &'static str {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "\n\n*** {CHROMIUM} is missing: the explorer's browser test needs Chromium. \
         Install it with `apt-get install chromium` (CI installs it in .ci/run). ***\n"
    );
    CHROMIUM
}

/// The text of the page's `#selftest` element after Chromium ran it headless, offline.
fn selftest(page: &Path) -> String {
    let url = format!(
        "file://{}?selftest=1",
        page.canonicalize().unwrap().display()
    );
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=60000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&o.stdout);
    let start = dom
        .find(r#"<pre id="selftest">"#)
        .unwrap_or_else(|| panic!("no #selftest element; chromium said:\n{}", stderr(&o)));
    let rest = &dom[start + r#"<pre id="selftest">"#.len()..];
    rest[..rest.find("</pre>").unwrap()]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn assert_pass(page: &Path) {
    let result = selftest(page);
    assert!(result.starts_with("PASS"), "{}: {result}", page.display());
}

/// The page's embedded data.
fn embedded(html: &str) -> serde_json::Value {
    let tag = r#"<script type="application/json" id="report-data">"#;
    let start = html.find(tag).unwrap() + tag.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// Trains a small run on synthetic shapes whose first class name is hostile markup.
fn hostile_run(root: &Path) -> (PathBuf, tempfile::TempDir) {
    let (data, id) = synthetic_data(600, 200);
    let mut names: Vec<String> = convlens_data::synthetic::SHAPE_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    names[0] = "</script><b onmouseover=alert(1)>".into();
    std::fs::write(data.path().join("classes.txt"), names.join("\n")).unwrap();
    let out = root.join("run");
    let out_s = out.display().to_string();
    ok(&run(&[
        "train",
        "--dataset",
        &id,
        "--epochs",
        "2",
        "--lr",
        "0.05",
        "--out",
        &out_s,
    ]));
    (out, data)
}

#[test]
fn the_page_passes_its_selftest_in_chromium_offline_and_small() {
    let root = tempfile::tempdir().unwrap();
    let (run_dir, _data) = hostile_run(root.path());
    let run_s = run_dir.display().to_string();
    let printed = ok(&run(&["report", "--run", &run_s]));
    let page = run_dir.join("report.html");
    assert_eq!(printed.trim(), page.display().to_string());

    let html = std::fs::read_to_string(&page).unwrap();
    let size = html.len() as u64;
    assert!(size <= SIZE_GOAL, "100 images of 28×28 take {size} bytes");
    let head = &html[..html.find("</head>").unwrap()];
    let csp = format!(
        r#"<meta http-equiv="Content-Security-Policy" content="{}">"#,
        convlens_report::CONTENT_SECURITY_POLICY
    );
    assert!(head.find(&csp).unwrap() < head.find("<script").unwrap());
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains(" src="));
    // The hostile class name is data, never markup.
    assert_eq!(html.to_ascii_lowercase().matches("</script").count(), 3);
    let data = embedded(&html);
    assert_eq!(data["classes"][0], "</script><b onmouseover=alert(1)>");
    let images = data["images"].as_array().unwrap();
    assert_eq!(images.len(), 100);
    assert!(data["attributions"].is_null());
    assert_pass(&page);

    // The same run gives the same bytes.
    let again = root.path().join("again.html");
    ok(&run(&[
        "report",
        "--run",
        &run_s,
        "--out",
        &again.display().to_string(),
    ]));
    assert!(
        std::fs::read_to_string(&again).unwrap() == html,
        "two pages of one run differ"
    );

    // A page whose weights differ from the ones that computed its logits fails: the sign of
    // fc2's first bias flipped (base64 characters 4–7 hold the first float's top byte).
    let key = r#""fc2.bias":{"shape":[10],"data":""#;
    let at = html.find(key).unwrap() + key.len() + 4;
    let flipped = if &html[at..at + 1] == "v" { "P" } else { "v" };
    let tampered = root.path().join("tampered.html");
    std::fs::write(
        &tampered,
        format!("{}{flipped}{}", &html[..at], &html[at + 1..]),
    )
    .unwrap();
    let result = selftest(&tampered);
    assert!(
        result.starts_with("FAIL") && result.contains("logits differ from convlens's"),
        "{result}"
    );

    // A request slipped into the page is caught by the self-test.
    let leaky = root.path().join("leaky.html");
    std::fs::write(
        &leaky,
        html.replacen(
            "<footer>",
            r#"<footer><img src="http://192.0.2.1/x.png" alt="">"#,
            1,
        ),
    )
    .unwrap();
    let result = selftest(&leaky);
    assert!(
        result.starts_with("FAIL") && result.contains("Content-Security-Policy"),
        "{result}"
    );

    // Attribution maps of `trainer explain`, for two embedded images and one that is not.
    let first = images[0]["index"].as_u64().unwrap() as i64;
    let fifth = images[4]["index"].as_u64().unwrap() as i64;
    let indices = [fifth, 199, first];
    let dev = Device::Cpu;
    let mut tensors = std::collections::HashMap::new();
    for (k, name) in ["gradcam", "saliency", "occlusion"].iter().enumerate() {
        let values: Vec<f32> = (0..3 * 28 * 28)
            .map(|i| ((i * (k + 3)) % 97) as f32)
            .collect();
        tensors.insert(
            name.to_string(),
            Tensor::from_vec(values, (3, 28, 28), &dev).unwrap(),
        );
    }
    // Grad-CAM's map at its layer's resolution, as `trainer explain` stores it beside the
    // upsampled one: not overlaid on the image.
    tensors.insert(
        "gradcam_raw".to_string(),
        Tensor::ones((3, 12, 12), DType::F32, &dev).unwrap(),
    );
    tensors.insert(
        "indices".to_string(),
        Tensor::new(&indices[..], &dev).unwrap(),
    );
    std::fs::create_dir_all(run_dir.join("explain")).unwrap();
    candle_core::safetensors::save(&tensors, run_dir.join("explain/attributions.safetensors"))
        .unwrap();
    let with = root.path().join("with maps.html");
    let with_s = with.display().to_string();
    ok(&run(&[
        "report", "--run", &run_s, "--images", "20", "--out", &with_s,
    ]));
    let data = embedded(&std::fs::read_to_string(&with).unwrap());
    let maps = &data["attributions"];
    // Positions in the page, in page order; methods in the order the page offers them.
    assert_eq!(maps["images"], serde_json::json!([0, 4]));
    assert_eq!(maps["size"], serde_json::json!([28, 28]));
    let methods: Vec<&str> = maps["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["saliency", "gradcam", "occlusion"]);
    assert_pass(&with);

    // Bad input: exit 2 naming the flag and value, nothing written.
    fails_with(
        &run(&["report", "--run", &run_s, "--images", "0"]),
        &["--images 0"],
    );
    let nowhere = root.path().join("no such folder/report.html");
    let nowhere_s = nowhere.display().to_string();
    fails_with(
        &run(&["report", "--run", &run_s, "--out", &nowhere_s]),
        &["--out", &nowhere_s],
    );
    assert!(!nowhere.exists());
    fails_with(
        &run(&["report", "--run", &run_s, "--out", &run_s]),
        &["--out", "is a folder"],
    );
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let empty_s = empty.display().to_string();
    fails_with(&run(&["report", "--run", &empty_s]), &["--run", &empty_s]);
    assert!(!empty.join("report.html").exists());
}

/// A colour run (3×32×32 shapes in CIFAR-10's layout) through the same self-test.
#[test]
fn a_colour_run_passes_the_same_selftest() {
    let root = tempfile::tempdir().unwrap();
    let written = convlens_data::synthetic_formats::write_synthetic_format(
        &root.path().join("data"),
        convlens_data::synthetic_formats::SyntheticFormat::Cifar10Python,
        500,
        60,
        0,
    )
    .unwrap();
    let out = root.path().join("run").display().to_string();
    let mut args: Vec<String> = ["train", "--epochs", "1", "--out", &out]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(trainer::commands::synthetic_train_flags(&written));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&run(&args));
    let page = root.path().join("colour.html");
    let page_s = page.display().to_string();
    ok(&run(&[
        "report", "--run", &out, "--images", "12", "--out", &page_s,
    ]));
    let data = embedded(&std::fs::read_to_string(&page).unwrap());
    assert_eq!(data["in_channels"], 3);
    assert_eq!(data["input_size"], 32);
    assert_eq!(data["images"].as_array().unwrap().len(), 12);
    assert_pass(&page);
}
