//! The datasets this crate knows by name, and `idx:<DIR>` for any folder of IDX files.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::archive::Archive;
use crate::error::DataError;

/// Which of a dataset's four files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Training images.
    TrainImages,
    /// Training labels.
    TrainLabels,
    /// Test images.
    TestImages,
    /// Test labels.
    TestLabels,
}

impl Role {
    /// All four roles, in the order files are listed everywhere in this crate.
    pub const ALL: [Role; 4] = [
        Role::TrainImages,
        Role::TrainLabels,
        Role::TestImages,
        Role::TestLabels,
    ];

    /// The conventional (MNIST) file name, without `.gz`.
    pub fn file_name(self) -> &'static str {
        match self {
            Role::TrainImages => "train-images-idx3-ubyte",
            Role::TrainLabels => "train-labels-idx1-ubyte",
            Role::TestImages => "t10k-images-idx3-ubyte",
            Role::TestLabels => "t10k-labels-idx1-ubyte",
        }
    }

    /// Parts of a file name that mark this role in an arbitrary IDX folder
    /// (`emnist-letters-train-images-idx3-ubyte`, `qmnist-test-labels-idx1-ubyte`, …).
    pub fn name_patterns(self) -> &'static [&'static str] {
        match self {
            Role::TrainImages => &["train-images"],
            Role::TrainLabels => &["train-labels"],
            Role::TestImages => &["t10k-images", "test-images"],
            Role::TestLabels => &["t10k-labels", "test-labels"],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::TrainImages => "training images",
            Role::TrainLabels => "training labels",
            Role::TestImages => "test images",
            Role::TestLabels => "test labels",
        })
    }
}

/// One published file of a known dataset and its checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// Which file.
    pub role: Role,
    /// MD5 of the decompressed file, when published.
    pub md5: Option<&'static str>,
    /// MD5 of the upstream `.gz` file.
    pub gzip_md5: Option<&'static str>,
    /// Number of items (images or labels).
    pub count: usize,
}

/// Everything the registry knows about a named dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    /// The name used on the command line and as its folder name (`fashion-mnist`).
    pub name: &'static str,
    /// Its usual title (`Fashion-MNIST`).
    pub title: &'static str,
    /// One name per class, in label order.
    pub class_names: &'static [&'static str],
    /// Channels per image.
    pub channels: usize,
    /// Rows and columns per image.
    pub image_size: usize,
    /// The four files.
    pub files: [FileSpec; 4],
    /// Base URLs of the upstream mirrors, tried in order; each file is `<base><name>.gz`.
    pub mirrors: &'static [&'static str],
    /// The folder torchvision keeps it in (`<root>/<folder>/raw/`), so a PyTorch user's
    /// existing download is found.
    pub torchvision_folder: &'static str,
    /// Folders where system packages install it.
    pub system_dirs: &'static [&'static str],
    /// How to install it from a package manager, when one carries it.
    pub package_hint: Option<&'static str>,
}

const fn file(
    role: Role,
    md5: Option<&'static str>,
    gzip_md5: &'static str,
    count: usize,
) -> FileSpec {
    FileSpec {
        role,
        md5,
        gzip_md5: Some(gzip_md5),
        count,
    }
}

/// MNIST: handwritten digits, LeCun, Cortes and Burges.
pub const MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    title: "MNIST",
    class_names: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    channels: 1,
    image_size: 28,
    files: [
        file(
            Role::TrainImages,
            Some("6bbc9ace898e44ae57da46a324031adb"),
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            60_000,
        ),
        file(
            Role::TrainLabels,
            Some("a25bea736e30d166cdddb491f175f624"),
            "d53e105ee54ea40749a09fcbcd1e9432",
            60_000,
        ),
        file(
            Role::TestImages,
            Some("2646ac647ad5339dbf082846283269ea"),
            "9fb629c4189551a2d022fa330f9573f3",
            10_000,
        ),
        file(
            Role::TestLabels,
            Some("27ae3e4e09519cfbb04c329615203637"),
            "ec29112dd5afa0611ce80d1b7f02629c",
            10_000,
        ),
    ],
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    torchvision_folder: "MNIST",
    system_dirs: &["/usr/share/datasets/mnist"],
    package_hint: None,
};

/// Fashion-MNIST: Zalando's article images, a drop-in replacement for MNIST.
pub const FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    title: "Fashion-MNIST",
    class_names: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    channels: 1,
    image_size: 28,
    files: [
        file(
            Role::TrainImages,
            Some("f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            60_000,
        ),
        file(
            Role::TrainLabels,
            Some("9018921c3c673c538a1fc5bad174d6f9"),
            "25c81989df183df01b3e8a0aad5dffbe",
            60_000,
        ),
        file(
            Role::TestImages,
            Some("8181f5470baa50b63fa0f6fddb340f0a"),
            "bef4ecab320f06d8554ea6380940ec79",
            10_000,
        ),
        file(
            Role::TestLabels,
            Some("15d484375f8d13e6eb1aabb0c3f46965"),
            "bb300cfdad3c16e7a12a480ee83cd310",
            10_000,
        ),
    ],
    mirrors: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    torchvision_folder: "FashionMNIST",
    system_dirs: &["/usr/share/datasets/fashion-mnist"],
    package_hint: Some("apt-get install dataset-fashion-mnist (Debian, Ubuntu)"),
};

/// Kuzushiji-MNIST: cursive Japanese (hiragana), ROIS-CODH. Only the `.gz` checksums are
/// published, so a decompressed or recompressed copy cannot be verified (use `idx:<DIR>`).
pub const KMNIST: DatasetSpec = DatasetSpec {
    name: "kmnist",
    title: "Kuzushiji-MNIST",
    class_names: &[
        "お (o)",
        "き (ki)",
        "す (su)",
        "つ (tsu)",
        "な (na)",
        "は (ha)",
        "ま (ma)",
        "や (ya)",
        "れ (re)",
        "を (wo)",
    ],
    channels: 1,
    image_size: 28,
    files: [
        file(
            Role::TrainImages,
            None,
            "bdb82020997e1d708af4cf47b453dcf7",
            60_000,
        ),
        file(
            Role::TrainLabels,
            None,
            "e144d726b3acfaa3e44228e80efcd344",
            60_000,
        ),
        file(
            Role::TestImages,
            None,
            "5c965bf0a639b31b8f53240b1b52f4d7",
            10_000,
        ),
        file(
            Role::TestLabels,
            None,
            "7320c461ea6c1c855c0b718fb2a4b134",
            10_000,
        ),
    ],
    mirrors: &["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
    torchvision_folder: "KMNIST",
    system_dirs: &[],
    package_hint: None,
};

/// Every named dataset.
pub const DATASETS: [&DatasetSpec; 3] = [&MNIST, &FASHION_MNIST, &KMNIST];

/// Looks up a named dataset.
pub fn spec(name: &str) -> Option<&'static DatasetSpec> {
    DATASETS.into_iter().find(|s| s.name == name)
}

/// A dataset as named on the command line: a known one, or `idx:<DIR>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetId {
    /// A dataset of the registry.
    Known(&'static DatasetSpec),
    /// Any folder holding the four IDX files (EMNIST, QMNIST, your own…). Class names come
    /// from a `classes.txt` in the folder (one per line) when present, else `0`, `1`, ….
    Idx(PathBuf),
    /// CIFAR-10/100, SVHN, STL-10, USPS, EMNIST or QMNIST in torchvision's layout.
    Archive(Archive),
    /// torchvision's `ImageFolder` layout: `DIR/train/<class>/*` and `DIR/test/<class>/*`
    /// (or `val/`).
    ImageFolder(PathBuf),
}

impl DatasetId {
    /// The name for messages and run folders (`mnist`, `idx`).
    pub fn name(&self) -> &str {
        match self {
            DatasetId::Known(s) => s.name,
            DatasetId::Idx(_) => "idx",
            DatasetId::Archive(a) => a.static_name(),
            DatasetId::ImageFolder(_) => "imagefolder",
        }
    }
}

impl FromStr for DatasetId {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        if let Some(dir) = s.strip_prefix("idx:") {
            if dir.is_empty() {
                return Err(DataError::UnknownDataset(s.to_string()));
            }
            return Ok(DatasetId::Idx(PathBuf::from(dir)));
        }
        if let Some(dir) = s.strip_prefix("imagefolder:") {
            if dir.is_empty() {
                return Err(DataError::UnknownDataset(s.to_string()));
            }
            return Ok(DatasetId::ImageFolder(PathBuf::from(dir)));
        }
        if let Ok(archive) = s.to_ascii_lowercase().parse::<Archive>() {
            return Ok(DatasetId::Archive(archive));
        }
        spec(&s.to_ascii_lowercase())
            .map(DatasetId::Known)
            .ok_or_else(|| DataError::UnknownDataset(s.to_string()))
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetId::Known(s) => f.write_str(s.name),
            DatasetId::Idx(dir) => write!(f, "idx:{}", dir.display()),
            DatasetId::Archive(a) => write!(f, "{a}"),
            DatasetId::ImageFolder(dir) => write!(f, "imagefolder:{}", dir.display()),
        }
    }
}
