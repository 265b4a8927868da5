//! The background pipeline. STUB: replaced by the pipeline helper.
use std::time::Duration;

use crate::config::Config;
use crate::event::Event;
use crate::Result;

pub fn configure(_config: &Config) -> Result<()> {
    Ok(())
}
pub fn enqueue(_event: Event) -> bool {
    true
}
pub fn flush(_timeout: Duration) -> bool {
    true
}
pub fn shutdown(_timeout: Duration) -> bool {
    true
}
pub fn after_fork_child() {}
