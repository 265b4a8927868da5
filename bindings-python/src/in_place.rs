//! A request body read in place, for a budget's measurement made with the GIL
//! held from start to end (counters in memory): nothing else runs meanwhile, so
//! the body keeps alive every object it holds, and its strings are borrowed
//! where it keeps them, with no reference of their own and no arena to free.
//!
//! Only plain JSON types are read so: str, dict, list, tuple, exact int, float
//! and bool, None. Anything else (a pydantic model, a custom number) might run
//! Python code when read, which could change the body under the borrowed
//! strings: the reader gives up and the caller reads the body with
//! `convert::request_json`, which holds a reference to each string it borrows.
//!
//! Why not pyo3's iterators: they take a reference to every key and value (a
//! write to each object) and release it after, on the caller's path, which
//! runs cold right after the SDK's own work.

use std::borrow::Cow;

use costline_core::borrowed_json::BorrowedJson;
use pyo3::ffi;
use pyo3::prelude::*;

use crate::convert::{self, MAX_DEPTH};

/// The body at `obj`, or `None` when it holds something other than plain JSON
/// types (or is nested deeper than a request is): read it with `request_json` then.
///
/// The GIL must stay held, and no Python code run, until the result is dropped.
pub fn request_json<'a>(obj: &'a Bound<'_, PyAny>) -> Option<BorrowedJson<'a>> {
    // SAFETY: `obj` is a live object and the GIL is held (the `Bound`). The
    // result borrows strings the body holds; the caller keeps the GIL and runs
    // no Python code while it lives, and nothing here runs any, so the body and
    // everything in it stay alive and unchanged for `'a`.
    unsafe { value(obj.as_ptr(), 0) }
}

unsafe fn value<'a>(obj: *mut ffi::PyObject, depth: usize) -> Option<BorrowedJson<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    if ffi::PyUnicode_Check(obj) != 0 {
        return text(obj).map(BorrowedJson::String);
    }
    if ffi::PyDict_Check(obj) != 0 {
        let mut fields = Vec::with_capacity(usize::try_from(ffi::PyDict_Size(obj)).unwrap_or(0));
        let (mut position, mut key, mut item) = (0, std::ptr::null_mut(), std::ptr::null_mut());
        while ffi::PyDict_Next(obj, &mut position, &mut key, &mut item) != 0 {
            if ffi::PyUnicode_Check(key) == 0 {
                return None;
            }
            fields.push((text(key)?, value(item, depth + 1)?));
        }
        return Some(BorrowedJson::Object(fields));
    }
    if ffi::PyList_Check(obj) != 0 {
        return items(ffi::PyList_Size(obj), |i| ffi::PyList_GetItem(obj, i), depth);
    }
    if obj == ffi::Py_None() {
        return Some(BorrowedJson::Null);
    }
    if ffi::PyBool_Check(obj) != 0 {
        return Some(BorrowedJson::Bool(obj == ffi::Py_True()));
    }
    if ffi::PyLong_CheckExact(obj) != 0 {
        let n = ffi::PyLong_AsLongLong(obj);
        if n == -1 && !ffi::PyErr_Occurred().is_null() {
            // Beyond 64 bits: the other reader handles it as the recorder does.
            ffi::PyErr_Clear();
            return None;
        }
        return Some(BorrowedJson::Number(n.into()));
    }
    if ffi::PyFloat_CheckExact(obj) != 0 {
        return serde_json::Number::from_f64(ffi::PyFloat_AsDouble(obj)).map(BorrowedJson::Number);
    }
    if ffi::PyTuple_Check(obj) != 0 {
        return items(ffi::PyTuple_Size(obj), |i| ffi::PyTuple_GetItem(obj, i), depth);
    }
    None
}

unsafe fn items<'a>(
    len: ffi::Py_ssize_t,
    item: impl Fn(ffi::Py_ssize_t) -> *mut ffi::PyObject,
    depth: usize,
) -> Option<BorrowedJson<'a>> {
    let mut values = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    for i in 0..len {
        values.push(value(item(i), depth + 1)?);
    }
    Some(BorrowedJson::Array(values))
}

/// A str's text borrowed for `'a` (the caller's promise: the str outlives it).
unsafe fn text<'a>(s: *mut ffi::PyObject) -> Option<Cow<'a, str>> {
    convert::utf8_of(s).map(Cow::Borrowed)
}
