//! Conversions between Python values and the core's types. No logic beyond
//! shape checks lives here.

use std::collections::BTreeMap;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

/// A Python dict/list/str/int/float/bool/None tree as JSON.
pub fn json_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    pythonize::depythonize(obj).map_err(|e| PyTypeError::new_err(format!("not JSON-like: {e}")))
}

/// A list of usage payload parts (each a dict).
pub fn json_parts(list: &Bound<'_, PyList>) -> PyResult<Vec<Value>> {
    list.iter().map(|item| json_value(&item)).collect()
}

/// A `dict[str, str]` of tags. Values that are not strings are converted with
/// `str()` so that `tags={"attempt": 2}` does what the user meant.
pub fn tags(dict: Option<&Bound<'_, PyDict>>) -> PyResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(dict) = dict {
        for (k, v) in dict.iter() {
            let key: String = k.extract().map_err(|_| PyTypeError::new_err("tag keys must be strings"))?;
            let value: String = match v.extract::<String>() {
                Ok(s) => s,
                Err(_) => v.str()?.to_string(),
            };
            out.insert(key, value);
        }
    }
    Ok(out)
}
