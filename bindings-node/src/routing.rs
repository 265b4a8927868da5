//! The routing decision (issue 11) for the npm layer's `Costline` client: JSON
//! text in, JSON text out, over `costline_core::routing::decide_json` (the
//! function the Python binding calls too).

use napi::{Error, Result, Status};
use napi_derive::napi;

use crate::guard;

/// The decision for a routing input (see docs/routing.md for its fields), as
/// JSON text. A `RoutingError` throws `costline:routing: {code, message, details}`.
#[napi]
pub fn decide(input: String) -> Result<String> {
    guard::call(|| {
        costline_core::routing::decide_json(&input)
            .map_err(|error| Error::new(Status::GenericFailure, format!("costline:routing: {error}")))
    })
}
