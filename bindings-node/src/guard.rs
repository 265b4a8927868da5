//! No panic crosses into JavaScript, and every core error reaches the npm
//! layer with its kind: the message starts `costline:<code>: ` (the core's
//! `Error::code`), which npm/src/errors.ts maps to its error classes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{Error, Result, Status};

pub fn to_js(err: costline_core::Error) -> Error {
    Error::new(Status::GenericFailure, format!("costline:{}: {err}", err.code()))
}

pub fn config_error(message: impl std::fmt::Display) -> Error {
    to_js(costline_core::Error::Config(message.to_string()))
}

/// Run `f`; a panic becomes `costline:internal: ...`.
pub fn call<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(Error::new(
            Status::GenericFailure,
            format!(
                "costline:internal: internal error in costline's core: {}",
                costline_core::panic_message(&*payload)
            ),
        )),
    }
}
