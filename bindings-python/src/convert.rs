//! Conversions between Python values and the core's types. No logic beyond
//! shape checks lives here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::raw::c_char;

use costline_core::borrowed_json::BorrowedJson;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

// CPython has exported `PyUnicode_AsUTF8AndSize` since 3.3; it entered the limited API only
// in 3.10, so pyo3 hides it from an abi3-py39 build and reads every str by encoding it to a
// new bytes object and copying that. Declared here, it gives the UTF-8 text the str object
// holds (its own data for ASCII, a cache it keeps otherwise) with no copy: thousands of
// instructions saved on each call's dict keys and values. Not on Windows, whose stable-ABI
// `python3.dll` exports only the limited API.
#[cfg(not(windows))]
extern "C" {
    #[link_name = "PyUnicode_AsUTF8AndSize"]
    fn unicode_as_utf8_and_size(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const c_char;
}

/// The text of a Python str, borrowed from the object when CPython can give it
/// as UTF-8: always, except for lone surrogates (`"\ud800"`), which no UTF-8
/// text holds; they become U+FFFD, so that an odd agent name or tag still
/// leaves its call metered rather than losing the event.
pub fn text<'a>(s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    // SAFETY: `s` is a live str, which `'a` borrows.
    match unsafe { utf8_of(s.as_ptr()) } {
        Some(text) => Ok(Cow::Borrowed(text)),
        None => Ok(s.to_string_lossy()),
    }
}

/// The UTF-8 text CPython keeps for the str at `s`, or `None` (its error
/// cleared) when there is none: a lone surrogate.
///
/// # Safety
/// `s` is a live str and the GIL is held; the text lives as long as the
/// object does, and `'a` must not outlive it.
pub unsafe fn utf8_of<'a>(s: *mut pyo3::ffi::PyObject) -> Option<&'a str> {
    #[cfg(not(windows))]
    {
        let mut size: pyo3::ffi::Py_ssize_t = 0;
        let data = unicode_as_utf8_and_size(s, &mut size);
        if !data.is_null() {
            let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
            return Some(std::str::from_utf8_unchecked(bytes));
        }
        pyo3::ffi::PyErr_Clear();
    }
    #[cfg(windows)]
    let _ = s;
    None
}

/// A str argument's text, borrowed from the object (a non-str is converted).
pub fn str_arg<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, str>> {
    match obj.cast::<PyString>() {
        Ok(s) => text(s),
        Err(_) => obj.extract::<String>().map(Cow::Owned),
    }
}

/// A str argument or key as an owned String (one copy, no bytes object).
pub fn string(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => text(s).map(Cow::into_owned),
        Err(_) => obj.extract(),
    }
}

/// An optional str argument (None stays None).
pub fn opt_string(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    obj.filter(|o| !o.is_none()).map(string).transpose()
}

/// A list (or any iterable) of str.
pub fn strings(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    match obj.cast::<PyList>() {
        Ok(list) => list.iter().map(|item| string(&item)).collect(),
        Err(_) => obj.extract(),
    }
}

/// A Python dict/list/str/int/float/bool/None tree as JSON.
pub fn json_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    pythonize::depythonize(obj).map_err(|e| PyTypeError::new_err(format!("not JSON-like: {e}")))
}

/// A list of usage payload parts: dicts, or the SDK's pydantic usage objects
/// read field by field (cheaper than `model_dump()` on the hot path). Never
/// fails: a part that cannot be read becomes null, which the core reports as a
/// malformed payload and records anyway.
pub fn json_parts(list: &Bound<'_, PyList>) -> Vec<Value> {
    list.iter().map(|item| usage_value(&item, 0).unwrap_or(Value::Null)).collect()
}

/// A Python integer given by a user (a token count, a latency), widened so
/// the core can say what is wrong with it. Not an integer (a float, a string,
/// a bool) is an `InvalidEventError`, a `ValueError`.
pub fn integer(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<i128> {
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        // Beyond i128 is beyond any bound the core accepts: report it as such.
        return Ok(obj.extract::<i128>().unwrap_or(i128::MAX));
    }
    let type_name = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    Err(crate::errors::to_py(costline_core::Error::InvalidEvent(format!(
        "{name} must be an integer, got {type_name}"
    ))))
}

/// Deep enough for any provider's usage object; deeper is a caller's mistake.
pub(crate) const MAX_DEPTH: usize = 32;

/// A request body for token estimation. Never fails: a body that cannot be
/// read (an exotic object inside) estimates as an empty prompt rather than
/// losing the call's event.
pub fn request_value(obj: &Bound<'_, PyAny>) -> Value {
    usage_value(obj, 0).unwrap_or(Value::Null)
}

fn usage_value(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyTypeError::new_err("usage payload is nested too deeply"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return dict_value(dict, depth);
    }
    if obj.is_instance_of::<PyBool>()
        || obj.is_instance_of::<PyInt>()
        || obj.is_instance_of::<PyFloat>()
        || obj.is_instance_of::<PyString>()
    {
        return scalar(obj).map_or_else(|| json_value(obj), Ok);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|item| usage_value(&item, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    // A tuple of messages or parts is a JSON array too (the SDKs serialise it so).
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| usage_value(&item, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    // A pydantic model: its fields live in `__dict__`, fields the SDK
    // version does not know yet in `__pydantic_extra__`.
    let mut map = match obj.getattr(intern!(obj.py(), "__dict__")) {
        Ok(fields) => match fields.cast::<PyDict>() {
            Ok(fields) => dict_map(fields, depth)?,
            Err(_) => return json_value(obj),
        },
        Err(_) => return json_value(obj),
    };
    if let Ok(extra) = obj.getattr(intern!(obj.py(), "__pydantic_extra__")) {
        if let Ok(extra) = extra.cast::<PyDict>() {
            map.extend(dict_map(extra, depth)?);
        }
    }
    Ok(Value::Object(map))
}

/// A str, bool, int or float read directly: `json_value`'s generic path costs
/// thousands of instructions per value, on every call's usage and a guarded
/// call's request body. An int beyond 64 bits is read as the nearest float;
/// `None` (a float that is not finite, an int past any float) leaves the value
/// to `json_value`, which gives the same answer.
fn scalar(obj: &Bound<'_, PyAny>) -> Option<Value> {
    if let Ok(s) = obj.cast::<PyString>() {
        return text(s).ok().map(|s| Value::String(s.into_owned()));
    }
    if obj.is_instance_of::<PyBool>() {
        return obj.is_truthy().ok().map(Value::Bool);
    }
    if obj.is_instance_of::<PyInt>() {
        return match obj.extract::<i64>() {
            Ok(n) => Some(n.into()),
            // Beyond 64 bits (a seed, a logit bias): JSON allows it, serde_json's numbers
            // do not. The nearest float keeps the rest of the body readable.
            Err(_) => obj.extract::<u64>().ok().map(Value::from).or_else(|| {
                obj.extract::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number)
            }),
        };
    }
    let f: f64 = obj.extract().ok()?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

fn dict_value(dict: &Bound<'_, PyDict>, depth: usize) -> PyResult<Value> {
    dict_map(dict, depth).map(Value::Object)
}

fn dict_map(dict: &Bound<'_, PyDict>, depth: usize) -> PyResult<serde_json::Map<String, Value>> {
    let mut map = serde_json::Map::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let key = string(&k).map_err(|_| PyTypeError::new_err("usage keys must be strings"))?;
        map.insert(key, usage_value(&v, depth + 1)?);
    }
    Ok(map)
}

/// A `dict[str, str]` of tags. Values that are not strings are converted with
/// `str()` so that `tags={"attempt": 2}` does what the user meant.
pub fn tags(dict: Option<&Bound<'_, PyDict>>) -> PyResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(dict) = dict {
        for (k, v) in dict.iter() {
            let key = string(&k).map_err(|_| PyTypeError::new_err("tag keys must be strings"))?;
            let value = match string(&v) {
                Ok(s) => s,
                Err(_) => v.str()?.to_string(),
            };
            out.insert(key, value);
        }
    }
    Ok(out)
}

/// Where a [`BorrowedJson`] keeps the str objects whose text it borrows:
/// each gets a reference of its own until the arena is dropped, so the
/// text outlives anything Python code run meanwhile might do to the dicts.
pub type Held<'py> = typed_arena::Arena<Bound<'py, PyString>>;

/// A request body for a guarded call's measurement, borrowing its strings
/// (`held` keeps them): no key or text is copied. Never fails, like
/// `request_value`: what cannot be read is null.
pub fn request_json<'a, 'py>(obj: &Bound<'py, PyAny>, held: &'a Held<'py>) -> BorrowedJson<'a> {
    borrowed(obj, held, 0).unwrap_or(BorrowedJson::Null)
}

fn borrowed_text<'a, 'py>(s: &Bound<'py, PyString>, held: &'a Held<'py>) -> PyResult<Cow<'a, str>> {
    text(held.alloc(s.clone()))
}

fn borrowed<'a, 'py>(
    obj: &Bound<'py, PyAny>,
    held: &'a Held<'py>,
    depth: usize,
) -> PyResult<BorrowedJson<'a>> {
    if depth > MAX_DEPTH {
        return Err(PyTypeError::new_err("request body is nested too deeply"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return borrowed_text(s, held).map(BorrowedJson::String);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return borrowed_fields(dict, held, depth, Vec::with_capacity(dict.len())).map(BorrowedJson::Object);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        let mut items = Vec::with_capacity(list.len());
        for item in list.iter() {
            items.push(borrowed(&item, held, depth + 1)?);
        }
        return Ok(BorrowedJson::Array(items));
    }
    if obj.is_none() {
        return Ok(BorrowedJson::Null);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        let mut items = Vec::with_capacity(tuple.len());
        for item in tuple.iter() {
            items.push(borrowed(&item, held, depth + 1)?);
        }
        return Ok(BorrowedJson::Array(items));
    }
    // Numbers, bools, pydantic models and anything else: as `request_value` reads them
    // (rare in a request's text; owned).
    Ok(owned(usage_value(obj, depth)?))
}

fn borrowed_fields<'a, 'py>(
    dict: &Bound<'py, PyDict>,
    held: &'a Held<'py>,
    depth: usize,
    mut fields: Vec<(Cow<'a, str>, BorrowedJson<'a>)>,
) -> PyResult<Vec<(Cow<'a, str>, BorrowedJson<'a>)>> {
    for (k, v) in dict.iter() {
        let key = match k.cast::<PyString>() {
            Ok(k) => borrowed_text(k, held)?,
            Err(_) => return Err(PyTypeError::new_err("request keys must be strings")),
        };
        fields.push((key, borrowed(&v, held, depth + 1)?));
    }
    Ok(fields)
}

/// An owned `Value` as a `BorrowedJson` (its strings moved, not copied).
fn owned(value: Value) -> BorrowedJson<'static> {
    match value {
        Value::Null => BorrowedJson::Null,
        Value::Bool(b) => BorrowedJson::Bool(b),
        Value::Number(n) => BorrowedJson::Number(n),
        Value::String(s) => BorrowedJson::String(Cow::Owned(s)),
        Value::Array(items) => BorrowedJson::Array(items.into_iter().map(owned).collect()),
        Value::Object(map) => {
            BorrowedJson::Object(map.into_iter().map(|(k, v)| (Cow::Owned(k), owned(v))).collect())
        }
    }
}
