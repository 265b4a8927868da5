//! A child process after fork() has budget counters of its own: the parent's
//! reservations in flight belong to the parent (they settle there, never in the
//! child), so the child does not carry them as a cap permanently lowered.
//! Its own test binary: it forks, and it uses the process-wide engine.

mod support;

use std::str::FromStr;

use costline_core::budget::{self, Budget, FailMode, Period, Settings, StoreChoice};
use costline_core::catalog;
use costline_core::event::Sdk;
use costline_core::recorder::Call;
use rust_decimal::Decimal;
use serde_json::json;
use support::wait_for_child;

#[test]
fn a_forked_child_does_not_inherit_the_parents_reservations() {
    catalog::set_inline_prices(Some(&json!({"fork-model": {"input": "0.00001", "output": "0.00001"}})))
        .unwrap();
    let limit = Budget::new(Decimal::from_str("0.05").unwrap(), Period::Total);
    budget::configure(Settings {
        budgets: vec![limit],
        store: StoreChoice::Memory,
        fail_mode: FailMode::Open,
        ledger: None,
    })
    .unwrap();
    let call = Call::new(
        "openai".into(),
        "chat".into(),
        "fork-model".into(),
        Sdk { lang: "rust".into(), version: "0".into() },
    );
    // $0.04 of the $0.05 held by a call in flight in the parent.
    let request = json!({"model": "fork-model", "messages": [], "max_tokens": 4000});
    let held = budget::reserve(&call, Some(&request), &[]).unwrap().expect("a budget applies");

    // SAFETY: the child only runs the code below and leaves with _exit,
    // never returning into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        budget::after_fork_child();
        let reserved = budget::status()[0].reserved_usd;
        let fits = budget::reserve(&call, Some(&request), &[]).map(|r| r.is_some()).unwrap_or(false);
        let code = if reserved == Some(Decimal::ZERO) && fits { 0 } else { 1 };
        // SAFETY: leave the child at once, without the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }

    assert_eq!(wait_for_child(child), 0, "the child saw the parent's reservation (or could not reserve)");
    // The parent still holds its own, and refuses a second one.
    assert!(budget::reserve(&call, Some(&request), &[]).is_err());
    held.release();
    assert!(budget::reserve(&call, Some(&request), &[]).unwrap().is_some());
}
