//! Budgets: spend caps enforced before a call is sent.
//!
//! The language layers call four functions, the same from every binding:
//! [`reserve`] (before sending: the call's worst case is reserved against every
//! budget it matches, or [`Exceeded`] says which cap it would pass), then
//! [`Reservation::settle`] with the actual cost or [`Reservation::release`]
//! (a dropped reservation is released too), and [`status`]. The counters live
//! in a [`BudgetStore`]: in memory, in the SQLite ledger, or in Redis.
//!
//! Per-run caps (`run(max_cost_usd=...)`) and `period = "run"` budgets are
//! always counted in memory: a run lives in one process.

mod alert;
mod background;
mod engine;
pub mod estimate;
pub mod file;
mod memory;
pub mod period;
mod plan;
mod redis;
mod reservation;
mod resp;
mod seed;
mod setup;
pub mod spec;
mod sqlite;
mod status;
mod store;
mod stream;
pub mod units;

pub use alert::{clear_alert_hook, set_alert_hook, Alert, AlertHook};
pub use background::wait_settled;
pub use engine::{
    after_fork_child, clear, configure, forget_run, is_active, record_blocked, reserve, reserve_for,
    reserve_may_wait, store_waits, Exceeded, FailMode, Reservation, RunCap, Settings, StoreChoice, Subject,
};
pub use memory::MemoryStore;
pub use period::{Period, Zone};
pub use redis::RedisStore;
pub use setup::{apply, from_env, Requested};
pub use spec::{Action, Budget};
pub use sqlite::{recorded_alerts, SqliteStore};
pub use status::{status, status_with, BudgetStatus};
pub use store::{BudgetStore, Charge, Reserved, Seed};
pub use stream::StreamBudget;
