//! Work that waits (flush, shutdown, reading the ledger) runs on the libuv
//! thread pool and settles a promise: the event loop never blocks.

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Result, Task};

use crate::guard;

type Work<T> = Box<dyn FnOnce() -> Result<T> + Send>;

pub struct Blocking<T: Send + 'static> {
    work: Option<Work<T>>,
}

impl<T> Task for Blocking<T>
where
    T: Send + 'static + napi::bindgen_prelude::ToNapiValue + napi::bindgen_prelude::TypeName,
{
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> Result<T> {
        let work = self.work.take().expect("a task computes once");
        guard::call(work)
    }

    fn resolve(&mut self, _: Env, output: T) -> Result<T> {
        Ok(output)
    }
}

/// `work` on the thread pool, as a promise.
pub fn spawn<T>(work: impl FnOnce() -> Result<T> + Send + 'static) -> AsyncTask<Blocking<T>>
where
    T: Send + 'static + napi::bindgen_prelude::ToNapiValue + napi::bindgen_prelude::TypeName,
{
    AsyncTask::new(Blocking { work: Some(Box::new(work)) })
}
