//! Reading and writing weights as safetensors with PyTorch `state_dict` names.

use std::collections::HashMap;
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
    for (name, expected) in config.parameter_shapes() {
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

/// Writes `tensors` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`.
pub(crate) fn save(tensors: &[(&str, Tensor)], path: &Path) -> Result<(), ModelError> {
    let write_error = |source: Box<dyn std::error::Error + Send + Sync>| ModelError::Write {
        path: path.to_path_buf(),
        source,
    };
    let Some(file_name) = path.file_name() else {
        return Err(write_error("the path does not name a file".into()));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| write_error(e.into()))?;
    let map: HashMap<&str, Tensor> = tensors.iter().cloned().collect();
    candle_core::safetensors::save(&map, tmp.path()).map_err(|e| write_error(e.into()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| write_error(e.into()))?;
    #[cfg(unix)]
    {
        // tempfile creates files readable by the owner only; weights are ordinary files.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| write_error(e.into()))?;
    }
    tmp.persist(path).map_err(|e| write_error(e.error.into()))?;
    Ok(())
}
