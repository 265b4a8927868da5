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

#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub enqueued: u64,
    pub written: u64,
    pub exported: u64,
    pub dropped: u64,
    pub failed_batches: u64,
    pub pending_export: u64,
}
pub fn stats() -> Stats {
    Stats::default()
}
