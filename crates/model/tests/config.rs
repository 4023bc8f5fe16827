//! Configurations, layer geometry and the summary table.

use candle_core::Device;
use convlens_model::{ModelError, NetConfig, Network, LAYER_NAMES};

#[test]
fn the_default_network_has_71986_parameters() {
    let summary = NetConfig::default().summary().unwrap();
    assert_eq!(summary.total_params, 71_986);
    let net = Network::new(NetConfig::default(), 0, &Device::Cpu).unwrap();
    let counted: usize = net
        .parameters()
        .iter()
        .map(|(_, v)| v.as_tensor().elem_count())
        .sum();
    assert_eq!(counted, 71_986);
    assert_eq!(net.summary(), summary);
}

#[test]
fn summary_rows_follow_the_reference_network() {
    let summary = NetConfig::default().summary().unwrap();
    let rows: Vec<(&str, Vec<usize>, usize)> = summary
        .rows
        .iter()
        .map(|r| (r.name.as_str(), r.output_shape.clone(), r.params))
        .collect();
    let expected: Vec<(&str, Vec<usize>, usize)> = vec![
        ("conv1", vec![3, 32, 32], 30),
        ("relu1", vec![3, 32, 32], 0),
        ("maxp1", vec![3, 16, 16], 0),
        ("conv2", vec![16, 12, 12], 1216),
        ("relu2", vec![16, 12, 12], 0),
        ("maxp2", vec![16, 6, 6], 0),
        ("conv3", vec![110, 1, 1], 63_470),
        ("relu3", vec![110, 1, 1], 0),
        ("flatten", vec![110], 0),
        ("fc1", vec![60], 6660),
        ("relu4", vec![60], 0),
        ("fc2", vec![10], 610),
    ];
    assert_eq!(rows, expected);
    assert_eq!(summary.input_shape, [1, 28, 28]);
    assert_eq!(summary.rows[0].kind(), "Conv2d");
    assert_eq!(summary.rows[2].kind(), "MaxPool2d");
    assert_eq!(summary.rows[9].kind(), "Linear");
}

#[test]
fn summary_prints_as_a_table() {
    let text = NetConfig::default().summary().unwrap().to_string();
    assert!(text.contains("Total params: 71,986"), "{text}");
    assert!(text.contains("Trainable params: 71,986"), "{text}");
    let conv3 = text
        .lines()
        .find(|l| l.contains("conv3 (Conv2d)"))
        .expect("a conv3 row");
    assert!(
        conv3.contains("[-1, 110, 1, 1]") && conv3.contains("63,470"),
        "{conv3}"
    );
    for name in LAYER_NAMES {
        assert!(
            text.contains(&format!("{name} (")),
            "{name} missing in\n{text}"
        );
    }
}

#[test]
fn rgb_and_other_class_counts_change_only_their_layers() {
    let rgb = NetConfig {
        in_channels: 3,
        classes: 43,
        input_size: 28,
    };
    let summary = rgb.summary().unwrap();
    assert_eq!(summary.rows[0].params, 3 * 3 * 9 + 3);
    assert_eq!(summary.rows[11].output_shape, [43]);
    assert_eq!(summary.rows[11].params, 43 * 60 + 43);
    assert_eq!(summary.total_params, 71_986 - 30 - 610 + 84 + 2623);
    let shapes = rgb.parameter_shapes();
    assert_eq!(shapes[0], ("conv1.weight", vec![3, 3, 3, 3]));
    assert_eq!(shapes[8], ("fc2.weight", vec![43, 60]));
}

#[test]
fn input_sizes_28_to_31_fit_fc1() {
    for size in 20..40 {
        let config = NetConfig {
            input_size: size,
            ..NetConfig::default()
        };
        assert_eq!(
            config.validate().is_ok(),
            (28..=31).contains(&size),
            "size {size}"
        );
    }
}

fn invalid(config: NetConfig) -> (&'static str, String) {
    match Network::new(config, 0, &Device::Cpu) {
        Err(e @ ModelError::InvalidConfig { layer, .. }) => (layer, e.to_string()),
        other => panic!("expected InvalidConfig for {config:?}, got {other:?}"),
    }
}

#[test]
fn a_too_small_input_names_the_layer_and_the_numbers() {
    let (layer, message) = invalid(NetConfig {
        input_size: 4,
        ..NetConfig::default()
    });
    // 4 → conv1 8 → maxp1 4 → conv2 with kernel 5 has nothing left.
    assert_eq!(layer, "conv2");
    assert!(
        message.contains("conv2") && message.contains("4×4") && message.contains("kernel 5"),
        "{message}"
    );
    assert!(message.contains("28 to 31"), "{message}");

    // 6 → 10 → 5 → 1: pooling a 1×1 map gives nothing.
    let (layer, message) = invalid(NetConfig {
        input_size: 6,
        ..NetConfig::default()
    });
    assert_eq!(layer, "maxp2", "{message}");
    assert!(message.contains("1×1"), "{message}");
    // 10 → 14 → 7 → 3 → 1: conv3's kernel 6 does not fit.
    let (layer, message) = invalid(NetConfig {
        input_size: 10,
        ..NetConfig::default()
    });
    assert_eq!(layer, "conv3", "{message}");
}

#[test]
fn a_flatten_that_does_not_match_fc1_names_both_sizes() {
    let (layer, message) = invalid(NetConfig {
        in_channels: 3,
        classes: 10,
        input_size: 32,
    });
    assert_eq!(layer, "flatten");
    assert!(
        message.contains("440") && message.contains("110 channels × 2 × 2"),
        "{message}"
    );
    assert!(message.contains("fc1 expects 110"), "{message}");
}

#[test]
fn zero_channels_or_classes_are_errors() {
    let (layer, message) = invalid(NetConfig {
        in_channels: 0,
        ..NetConfig::default()
    });
    assert_eq!(layer, "conv1");
    assert!(message.contains("in_channels is 0"), "{message}");
    let (layer, _) = invalid(NetConfig {
        classes: 0,
        ..NetConfig::default()
    });
    assert_eq!(layer, "fc2");
}
