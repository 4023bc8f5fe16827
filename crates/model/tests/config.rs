//! Configurations, layer geometry and the summary table.

use candle_core::Device;
use convlens_model::{
    LayerKind, ModelError, NetConfig, Network, LAYERS, LAYER_NAMES, PARAMETER_NAMES,
};

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
    let shapes = rgb.parameter_shapes().unwrap();
    assert_eq!(shapes[0], ("conv1.weight", vec![3, 3, 3, 3]));
    assert_eq!(shapes[8], ("fc2.weight", vec![43, 60]));
}

#[test]
fn every_input_size_from_28_works_and_fc1_follows_conv3() {
    for size in 20..=100 {
        let config = NetConfig {
            input_size: size,
            ..NetConfig::default()
        };
        assert_eq!(config.validate().is_ok(), size >= 28, "size {size}");
        if let Ok(summary) = config.summary() {
            let conv3 = &summary.rows[6].output_shape;
            let features = conv3.iter().product::<usize>();
            assert_eq!(summary.rows[8].output_shape, [features], "size {size}");
            assert_eq!(summary.rows[9].params, features * 60 + 60, "size {size}");
        }
    }
}

#[test]
fn colour_32_by_32_has_fc1_440_to_60_and_91840_parameters() {
    let config = NetConfig {
        in_channels: 3,
        classes: 10,
        input_size: 32,
    };
    let summary = config.summary().unwrap();
    assert_eq!(summary.total_params, 91_840);
    assert_eq!(summary.rows[6].output_shape, [110, 2, 2]);
    assert_eq!(summary.rows[8].output_shape, [440]);
    let shapes = config.parameter_shapes().unwrap();
    assert_eq!(shapes[0], ("conv1.weight", vec![3, 3, 3, 3]));
    assert_eq!(shapes[6], ("fc1.weight", vec![60, 440]));
    let net = Network::new(config, 0, &Device::Cpu).unwrap();
    let counted: usize = net
        .parameters()
        .iter()
        .map(|(_, v)| v.as_tensor().elem_count())
        .sum();
    assert_eq!(counted, 91_840);
    // STL-10: 96×96 → conv3 110×18×18.
    let stl = NetConfig {
        in_channels: 3,
        classes: 10,
        input_size: 96,
    };
    assert_eq!(stl.summary().unwrap().rows[8].output_shape, [110 * 18 * 18]);
    // CIFAR-100: only fc2 changes.
    let cifar100 = NetConfig {
        classes: 100,
        ..config
    };
    assert_eq!(
        cifar100.summary().unwrap().total_params,
        91_840 - 610 + 6100
    );
}

#[test]
fn the_layer_table_gives_names_classes_and_parameter_names() {
    assert_eq!(LAYERS.map(|l| l.name), LAYER_NAMES);
    let with_params: Vec<&str> = LAYERS.iter().filter_map(|l| l.params).flatten().collect();
    assert_eq!(with_params, PARAMETER_NAMES);
    assert_eq!(
        PARAMETER_NAMES,
        [
            "conv1.weight",
            "conv1.bias",
            "conv2.weight",
            "conv2.bias",
            "conv3.weight",
            "conv3.bias",
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias"
        ]
    );
    assert_eq!(LAYERS[2].class(), "MaxPool2d");
    assert_eq!(LAYERS[8].class(), "Flatten");
    assert!(matches!(
        LAYERS[6].kind,
        LayerKind::Conv2d {
            out_channels: 110,
            kernel: 6,
            padding: 0
        }
    ));
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
    assert!(
        message.contains("the smallest input size that works is 28"),
        "{message}"
    );

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
fn usps_16_by_16_is_refused_at_conv3_with_the_smallest_size() {
    let (layer, message) = invalid(NetConfig {
        input_size: 16,
        ..NetConfig::default()
    });
    // 16 → conv1 20 → maxp1 10 → conv2 6 → maxp2 3: conv3's 6×6 kernel has nothing to read.
    assert_eq!(layer, "conv3", "{message}");
    assert!(
        message.contains("3×3") && message.contains("kernel 6"),
        "{message}"
    );
    assert!(
        message.contains("smallest input size that works is 28"),
        "{message}"
    );
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

#[test]
fn conv_paths_name_the_kernels_each_shape_runs() {
    use convlens_ops::ConvPath::{Dense, Direct, Im2col};
    let paths = |config: NetConfig| {
        config
            .conv_paths()
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(NetConfig::default()), [Direct, Im2col, Dense]);
    let rgb = NetConfig {
        in_channels: 3,
        classes: 10,
        input_size: 32,
    };
    // 3 × 3 channel pairs exceed the direct kernel's 8; conv3's 6×6 kernel no longer covers
    // its 7×7 input.
    assert_eq!(paths(rgb), [Im2col, Im2col, Im2col]);
    assert_eq!(rgb.conv_paths().unwrap()[0].0, "conv1");
}
