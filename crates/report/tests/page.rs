//! What `render` writes and refuses.

use convlens_report::{render, Attributions, Report, ReportError, CONTENT_SECURITY_POLICY};

/// The one JSON element of a page, parsed.
fn embedded(html: &str) -> serde_json::Value {
    let start = html
        .find(r#"<script type="application/json" id="report-data">"#)
        .unwrap();
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</script>").unwrap();
    serde_json::from_str(&rest[open..close]).unwrap()
}

#[test]
fn hostile_names_cannot_close_the_script_or_inject_markup() {
    let mut r = Report::example();
    let hostile = "</script><script>alert(1)</script><!-- & ]]> \u{2028}";
    r.title = hostile.into();
    r.classes[0] = hostile.into();
    r.dataset = "</SCRIPT>".into();
    r.config
        .insert("dataset".into(), serde_json::Value::String(hostile.into()));
    let html = render(&r).unwrap();
    // Three script elements of the page's own, and no other closing tag, in any case.
    assert_eq!(
        html.to_ascii_lowercase().matches("</script").count(),
        3,
        "{html}"
    );
    assert_eq!(html.matches("<script").count(), 3);
    assert!(!html.contains("<!--"));
    assert!(
        html.contains("<title>convlens explorer: &lt;&#x2f;script&gt;&lt;script&gt;"),
        "{html}"
    );
    // The JSON still holds the exact strings.
    let data = embedded(&html);
    assert_eq!(data["title"], hostile);
    assert_eq!(data["classes"][0], hostile);
    assert_eq!(data["dataset"], "</SCRIPT>");
}

#[test]
fn the_page_forbids_every_request_and_names_no_address() {
    let html = render(&Report::example()).unwrap();
    let head = &html[..html.find("</head>").unwrap()];
    let meta = format!(
        r#"<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">"#
    );
    assert!(head.contains(&meta), "{head}");
    // The policy comes before any script runs.
    assert!(head.find(&meta).unwrap() < head.find("<script").unwrap());
    assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none'"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains(" src=") && !html.contains("<link"));
}

#[test]
fn weights_and_maps_are_embedded_compactly() {
    let r = Report::example();
    let data = embedded(&render(&r).unwrap());
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let w = b64
        .decode(data["weights"]["conv1.weight"]["data"].as_str().unwrap())
        .unwrap();
    let back: Vec<f32> = w
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(back, r.weights[0].values);
    assert_eq!(
        b64.decode(data["pixels"].as_str().unwrap()).unwrap(),
        r.pixels
    );
    let codes = b64
        .decode(data["maps"]["conv1"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(codes.len(), 4);
    let lo = r.maps[0]
        .values
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min);
    assert_eq!(
        data["maps"]["conv1"]["range"][0][0].as_f64().unwrap() as f32,
        lo
    );
    assert!(codes.contains(&0) && codes.contains(&255));
}

#[test]
fn parts_that_do_not_fit_are_refused_by_name() {
    let mut r = Report::example();
    r.pixels.pop();
    let e = render(&r).unwrap_err();
    assert!(matches!(e, ReportError::Length { .. }));
    assert!(
        e.to_string().starts_with("pixels: 15 values, expected 16"),
        "{e}"
    );

    let mut r = Report::example();
    r.images[0].label = 2;
    assert!(render(&r)
        .unwrap_err()
        .to_string()
        .contains("images[0].label: 2"));

    let mut r = Report::example();
    r.maps[0].layer = "conv9".into();
    assert!(render(&r)
        .unwrap_err()
        .to_string()
        .contains("\"conv9\" is not a layer"));

    let mut r = Report::example();
    r.attributions = Some(Attributions {
        images: vec![0],
        size: [4, 4],
        methods: vec![("saliency".into(), vec![0.0; 15])],
    });
    assert!(render(&r)
        .unwrap_err()
        .to_string()
        .contains("attributions.saliency: 15 values"));
    if let Some(a) = r.attributions.as_mut() {
        a.methods[0].1.push(1.0);
        a.images = vec![1];
    }
    assert!(render(&r)
        .unwrap_err()
        .to_string()
        .contains("attributions.images: 1 is out of range"));
}
