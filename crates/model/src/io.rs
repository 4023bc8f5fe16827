//! Reading and writing weights as safetensors with PyTorch `state_dict` names.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::config::{NetConfig, PARAMETER_NAMES};
use crate::error::ModelError;

/// The network's parameters from `path`, in `state_dict` order, converted to `dtype`.
pub(crate) fn load(
    config: &NetConfig,
    path: &Path,
    dtype: DType,
    device: &Device,
) -> Result<Vec<Tensor>, ModelError> {
    let mut tensors =
        candle_core::safetensors::load(path, device).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let mut params = Vec::with_capacity(PARAMETER_NAMES.len());
    for (name, expected) in config.parameter_shapes()? {
        let Some(tensor) = tensors.remove(name) else {
            return Err(ModelError::MissingTensor {
                path: path.to_path_buf(),
                name: name.to_string(),
                expected,
            });
        };
        if tensor.dims() != expected.as_slice() {
            return Err(ModelError::ShapeMismatch {
                path: path.to_path_buf(),
                name: name.to_string(),
                expected,
                found: tensor.dims().to_vec(),
            });
        }
        if !tensor.dtype().is_float() {
            return Err(ModelError::TensorDType {
                path: path.to_path_buf(),
                name: name.to_string(),
                dtype: tensor.dtype(),
            });
        }
        params.push(tensor.to_dtype(dtype)?);
    }
    let mut unexpected: Vec<String> = tensors.into_keys().collect();
    unexpected.sort();
    if let Some(name) = unexpected.into_iter().next() {
        return Err(ModelError::UnexpectedTensor {
            path: path.to_path_buf(),
            name,
            known: PARAMETER_NAMES.join(", "),
        });
    }
    Ok(params)
}

/// Writes `tensors` to `path` atomically and durably (temporary file, fsync, rename, fsync
/// of the folder: the `atomic-write-file` crate). The bytes are those of
/// [`serialize`], so saving twice gives identical files.
pub(crate) fn save(tensors: &[(&str, Tensor)], path: &Path) -> Result<(), ModelError> {
    let write_error = |source: Box<dyn std::error::Error + Send + Sync>| ModelError::Write {
        path: path.to_path_buf(),
        source,
    };
    if path.file_name().is_none() {
        return Err(write_error("the path does not name a file".into()));
    }
    let bytes = serialize(tensors).map_err(|e| write_error(e.into()))?;
    let mut file =
        atomic_write_file::AtomicWriteFile::open(path).map_err(|e| write_error(e.into()))?;
    file.write_all(&bytes).map_err(|e| write_error(e.into()))?;
    file.commit().map_err(|e| write_error(e.into()))
}

/// The safetensors bytes of `tensors`, exactly as `candle_core::safetensors::save` writes
/// them (names sorted by the format's own ordering).
pub(crate) fn serialize(
    tensors: &[(&str, Tensor)],
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let map: HashMap<&str, Tensor> = tensors.iter().cloned().collect();
    safetensors::tensor::serialize(map.iter().map(|(k, v)| (*k, v)), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our bytes are candle's: weights written by either load anywhere the other's do.
    #[test]
    fn saved_bytes_equal_candles_own_writer() {
        let dev = Device::Cpu;
        let a = Tensor::arange(0f32, 12., &dev)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let b = Tensor::new(&[1.5f64, -2.0], &dev).unwrap();
        let tensors = [("conv1.weight", a.clone()), ("a.bias", b.clone())];
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours.safetensors");
        save(&tensors, &ours).unwrap();
        let theirs = dir.path().join("theirs.safetensors");
        let map: HashMap<&str, Tensor> = tensors.iter().cloned().collect();
        candle_core::safetensors::save(&map, &theirs).unwrap();
        assert_eq!(
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap()
        );
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "no temporary file is left behind: {names:?}"
        );
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let dev = Device::Cpu;
        let t = Tensor::zeros(2, DType::F32, &dev).unwrap();
        let err = save(&[("x", t)], Path::new("/")).unwrap_err().to_string();
        assert!(err.contains("does not name a file"), "{err}");
    }
}
