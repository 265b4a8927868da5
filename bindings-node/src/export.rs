//! `configure({ onError })`: errors the core meets while delivering events
//! (an unreachable collector, a rejected batch, a ledger that cannot be
//! written) go to the app's handler on the JavaScript thread. The core calls
//! the hook from its own threads; a weak threadsafe function queues the call
//! without blocking them and without keeping the process alive.

use costline_core::hooks;
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Result;
use napi_derive::napi;

/// `dispatch(errorJson, eventJson?)`: the error as `{ code, message, status }`,
/// the event it concerns (wire JSON) when there is one. None clears the hook.
#[napi]
pub fn set_error_hook(dispatch: Option<Function<'_, (String, Option<String>), ()>>) -> Result<()> {
    let Some(dispatch) = dispatch else {
        hooks::clear_error_hook();
        return Ok(());
    };
    let tsfn = dispatch
        .build_threadsafe_function::<(String, Option<String>)>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    hooks::set_error_hook(Box::new(move |error, event| {
        let status = match error {
            costline_core::Error::Export { status, .. } => *status,
            _ => None,
        };
        let error =
            serde_json::json!({ "code": error.code(), "message": error.to_string(), "status": status });
        tsfn.call((error.to_string(), event.map(|e| e.to_json())), ThreadsafeFunctionCallMode::NonBlocking);
    }));
    Ok(())
}
