//! Budgets through the core's API (the one every binding calls): reserve,
//! settle, release and status, with each store; caps that hold under
//! concurrent reservations; alerts once per period; the fail mode.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use costline_core::budget::{
    self, estimate, Action, Alert, Budget, FailMode, Period, RunCap, Settings, StoreChoice, StreamBudget,
};
use costline_core::catalog;
use costline_core::event::Sdk;
use costline_core::recorder::Call;
use rust_decimal::Decimal;
use serde_json::{json, Value};

mod support;

/// The engine is process-wide: tests take turns.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    catalog::set_inline_prices(Some(&json!({"budget-model": {"input": "0.00001", "output": "0.00001"}})))
        .unwrap();
    budget::clear_alert_hook();
    guard
}

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn call(agent: Option<&str>) -> Call {
    Call {
        agent: agent.map(str::to_string),
        agent_path: agent.map(|a| vec![a.to_string()]).unwrap_or_default(),
        run_id: agent.map(|_| "run-1".to_string()),
        ..Call::new(
            "openai".into(),
            "chat".into(),
            "budget-model".into(),
            Sdk { lang: "rust".into(), version: "0".into() },
        )
    }
}

fn request(max_tokens: u64) -> Value {
    json!({"model": "budget-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens})
}

/// The worst case of `request(max_tokens)`, as the core reserves it.
fn worst(max_tokens: u64) -> Decimal {
    estimate::worst_case("openai", "chat", "budget-model", Some(&request(max_tokens))).cost_usd.unwrap()
}

fn settings(budgets: Vec<Budget>, store: StoreChoice, ledger: Option<PathBuf>) -> Settings {
    Settings { budgets, store, fail_mode: FailMode::Open, ledger }
}

fn status_of(name: &str) -> budget::BudgetStatus {
    budget::status().into_iter().find(|s| s.name == name).expect("the budget is listed")
}

#[test]
fn a_call_whose_worst_case_passes_a_cap_is_refused_with_the_cap_and_amounts() {
    let _g = serial();
    let cap = Budget { agent: Some("researcher".into()), ..Budget::new(d("0.05"), Period::Day) };
    budget::configure(settings(vec![cap], StoreChoice::Memory, None)).unwrap();
    let held = budget::reserve(&call(Some("researcher")), Some(&request(4000)), &[]).unwrap().unwrap();
    assert_eq!(held.amount_usd(), worst(4000));
    let refused = budget::reserve(&call(Some("researcher")), Some(&request(1000)), &[]).unwrap_err();
    assert_eq!(refused.scope, "agent");
    assert_eq!(refused.period, "day");
    assert_eq!(refused.budget_name, "agent=researcher/day");
    assert_eq!(refused.agent.as_deref(), Some("researcher"));
    assert_eq!(refused.limit_usd, d("0.05"));
    assert_eq!(refused.spent_usd, Decimal::ZERO);
    assert_eq!(refused.reserved_usd, worst(4000));
    assert_eq!(refused.attempted_usd, worst(1000));
    let message = refused.to_string();
    assert!(
        message.contains("agent=researcher/day") && message.contains("would be exceeded by $"),
        "{message}"
    );
    // Another agent's calls are not under this cap.
    assert!(budget::reserve(&call(Some("writer")), Some(&request(1000)), &[]).unwrap().is_none());
    drop(held);
    budget::clear();
}

#[test]
fn settling_replaces_the_reservation_with_the_actual_cost_and_a_dropped_one_is_released() {
    let _g = serial();
    budget::configure(settings(vec![Budget::new(d("1"), Period::Month)], StoreChoice::Memory, None)).unwrap();
    let held = budget::reserve(&call(None), Some(&request(1000)), &[]).unwrap().unwrap();
    let s = status_of("global/month");
    assert_eq!((s.spent_usd, s.reserved_usd), (Some(Decimal::ZERO), Some(worst(1000))));
    held.settle(Some(d("0.003")));
    let s = status_of("global/month");
    assert_eq!(
        (s.spent_usd, s.reserved_usd, s.remaining_usd),
        (Some(d("0.003")), Some(Decimal::ZERO), Some(d("0.997")))
    );
    let dropped = budget::reserve(&call(None), Some(&request(1000)), &[]).unwrap().unwrap();
    drop(dropped);
    let released = budget::reserve(&call(None), Some(&request(1000)), &[]).unwrap().unwrap();
    released.release();
    assert_eq!(status_of("global/month").reserved_usd, Some(Decimal::ZERO));
    assert_eq!(status_of("global/month").spent_usd, Some(d("0.003")));
    budget::clear();
}

#[test]
fn each_call_is_charged_by_its_own_agent_and_at_the_prices_in_force() {
    // Calls of one shape share what the engine works out for them (the budgets
    // they match, the model's rates): a call of another agent, or one after the
    // prices changed, must not reuse it.
    let _g = serial();
    let cap = Budget { agent: Some("researcher".into()), ..Budget::new(d("100"), Period::Day) };
    budget::configure(settings(vec![cap], StoreChoice::Memory, None)).unwrap();
    let before = worst(10);
    for _ in 0..3 {
        assert!(budget::reserve(&call(Some("writer")), Some(&request(10)), &[]).unwrap().is_none());
        let held = budget::reserve(&call(Some("researcher")), Some(&request(10)), &[]).unwrap().unwrap();
        assert_eq!(held.amount_usd(), before);
        held.release();
    }
    catalog::set_inline_prices(Some(&json!({"budget-model": {"input": "0.00002", "output": "0.00003"}})))
        .unwrap();
    let after = worst(10);
    assert!(after > before);
    let held = budget::reserve(&call(Some("researcher")), Some(&request(10)), &[]).unwrap().unwrap();
    assert_eq!(held.amount_usd(), after);
    held.release();
    assert!(budget::reserve(&call(Some("writer")), Some(&request(10)), &[]).unwrap().is_none());
}

#[test]
fn each_call_is_charged_by_its_own_tags() {
    let _g = serial();
    let acme = [("customer".to_string(), "acme".to_string())].into_iter().collect();
    let cap = Budget { tags: acme, ..Budget::new(d("100"), Period::Day) };
    budget::configure(settings(vec![cap], StoreChoice::Memory, None)).unwrap();
    let tagged = |customer: &str| Call {
        tags: [("customer".to_string(), customer.to_string())].into_iter().collect(),
        ..call(None)
    };
    for _ in 0..3 {
        assert!(budget::reserve(&tagged("globex"), Some(&request(10)), &[]).unwrap().is_none());
        let held = budget::reserve(&tagged("acme"), Some(&request(10)), &[]).unwrap().unwrap();
        assert_eq!(held.amount_usd(), worst(10));
        held.release();
    }
}

#[test]
fn a_run_cap_limits_that_run_only() {
    let _g = serial();
    budget::configure(settings(vec![Budget::new(d("100"), Period::Total)], StoreChoice::Memory, None))
        .unwrap();
    let caps = [RunCap { id: "frame-1".into(), limit_usd: worst(1000) }];
    let first = budget::reserve(&call(Some("a")), Some(&request(1000)), &caps).unwrap().unwrap();
    let refused = budget::reserve(&call(Some("a")), Some(&request(1000)), &caps).unwrap_err();
    assert_eq!((refused.scope, refused.period), ("run", "run"));
    assert!(budget::reserve(&call(Some("a")), Some(&request(1000)), &[]).unwrap().is_some());
    first.settle(Some(d("0.001")));
    budget::clear();
}

#[test]
fn a_run_cap_holds_in_a_process_that_never_configured_budgets() {
    let _g = serial();
    budget::clear();
    let caps = [RunCap { id: "frame-unconfigured".into(), limit_usd: worst(1000) }];
    let first = budget::reserve(&call(None), Some(&request(1000)), &caps).unwrap();
    let first = first.expect("a run cap reserves even with no budgets configured");
    let refused = budget::reserve(&call(None), Some(&request(1000)), &caps).unwrap_err();
    assert_eq!(refused.scope, "run");
    first.settle(Some(d("0.001")));
    assert!(!budget::is_active(), "run caps alone do not make every call do budget work");
    budget::clear();
}

#[test]
fn alerts_fire_once_per_threshold_and_period_and_are_recorded_in_the_ledger() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let fired: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = fired.clone();
    budget::set_alert_hook(Box::new(move |a| sink.lock().unwrap().push(a.clone())));
    budget::configure(settings(
        vec![Budget::new(d("1"), Period::Month)],
        StoreChoice::Ledger,
        Some(ledger.clone()),
    ))
    .unwrap();
    for actual in ["0.5", "0.3", "0.01", "0.1", "0.01"] {
        let held = budget::reserve(&call(None), Some(&request(10)), &[]).unwrap().unwrap();
        held.settle(Some(d(actual)));
    }
    let alerts = fired.lock().unwrap().clone();
    let percents: Vec<u32> = alerts.iter().map(|a| a.threshold_percent).collect();
    assert_eq!(percents, vec![75, 90]);
    assert_eq!(alerts[0].spent_usd, d("0.8"));
    assert_eq!(alerts[1].spent_usd, d("0.91"));
    let recorded = budget::recorded_alerts(&ledger).unwrap();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(recorded[0].0, "global/month");
    assert_eq!(recorded[0].2, 75);
    budget::clear();
}

/// An alert hook that reads the budgets' status (as an `on_budget_alert` that
/// logs the remaining budget does) runs on the thread making the settlement;
/// the status must not wait there for the settlements that thread is making.
#[test]
fn an_alert_hook_reading_the_status_from_a_background_settlement_does_not_wait_for_itself() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let seen: Arc<Mutex<Vec<Option<Decimal>>>> = Arc::default();
    let sink = seen.clone();
    budget::set_alert_hook(Box::new(move |_| {
        sink.lock().unwrap().push(budget::status().first().and_then(|s| s.spent_usd));
    }));
    let budgets = vec![Budget::new(d("1"), Period::Month)];
    budget::configure(settings(budgets, StoreChoice::Ledger, Some(dir.path().join("ledger.db")))).unwrap();
    let held = budget::reserve(&call(None), Some(&request(10)), &[]).unwrap().unwrap();
    let began = std::time::Instant::now();
    held.settle_soon(Some(d("0.8")));
    assert!(budget::wait_settled(std::time::Duration::from_secs(30)));
    let took = began.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "the settlement took {took:?}");
    assert_eq!(*seen.lock().unwrap(), vec![Some(d("0.8"))]);
    budget::clear_alert_hook();
    budget::clear();
}

#[test]
fn a_warn_budget_lets_the_call_through_and_alerts_once() {
    let _g = serial();
    let fired: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = fired.clone();
    budget::set_alert_hook(Box::new(move |a| sink.lock().unwrap().push(a.clone())));
    let warn = Budget { action: Action::Warn, alerts: vec![], ..Budget::new(d("0.001"), Period::Hour) };
    budget::configure(settings(vec![warn], StoreChoice::Memory, None)).unwrap();
    for _ in 0..3 {
        budget::reserve(&call(None), Some(&request(1000)), &[]).unwrap().unwrap().settle(Some(d("0.01")));
    }
    let alerts = fired.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].exceeded);
    assert_eq!(alerts[0].action, "warn");
    budget::clear();
}

#[test]
fn the_memory_store_starts_from_what_the_ledger_recorded_this_period() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut ledger = costline_core::ledger::Ledger::open(&path).unwrap();
    let mut mine = support::event_costing(Some("0.25"));
    mine.agent = Some("researcher".into());
    mine.agent_path = vec!["researcher".into()];
    ledger.insert(&[mine, support::event_costing(Some("0.5"))], false).unwrap();
    let budgets = vec![
        Budget::new(d("10"), Period::Day),
        Budget { agent: Some("researcher".into()), ..Budget::new(d("10"), Period::Day) },
    ];
    budget::configure(settings(budgets, StoreChoice::Memory, Some(path))).unwrap();
    assert_eq!(status_of("global/day").spent_usd, Some(d("0.75")));
    assert_eq!(status_of("agent=researcher/day").spent_usd, Some(d("0.25")));
    budget::clear();
}

/// Many threads against one cap: what is let through never passes it, and
/// no fewer calls pass than the cap allows less one.
fn hammer(store: StoreChoice, ledger: Option<PathBuf>) {
    budget::configure(settings(vec![Budget::new(d("1"), Period::Day)], store, ledger)).unwrap();
    let per_call = worst(1000);
    let admitted = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..40 {
                    if let Ok(Some(held)) = budget::reserve(&call(None), Some(&request(1000)), &[]) {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        held.settle(Some(per_call));
                    }
                }
            });
        }
    });
    let s = status_of("global/day");
    let fits = (d("1") / per_call).floor();
    let admitted = Decimal::from(admitted.into_inner() as u64);
    assert!(s.spent_usd.unwrap() <= d("1"), "{s:?}");
    assert_eq!(s.reserved_usd, Some(Decimal::ZERO));
    assert!(admitted >= fits - Decimal::ONE && admitted <= fits, "admitted {admitted}, fits {fits}");
    budget::clear();
}

#[test]
fn the_memory_store_holds_a_cap_under_concurrent_threads() {
    let _g = serial();
    hammer(StoreChoice::Memory, None);
}

#[test]
fn the_ledger_store_holds_a_cap_under_concurrent_threads() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    hammer(StoreChoice::Ledger, Some(dir.path().join("ledger.db")));
}

/// A redis-server on a free loopback port, stopped when dropped.
struct RedisServer {
    child: std::process::Child,
    port: u16,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (.ci/run installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        RedisServer { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_redis_store_holds_a_cap_under_concurrent_threads() {
    let _g = serial();
    let server = RedisServer::start();
    hammer(StoreChoice::Redis(server.url()), None);
}

/// How many EVALSHA commands `server` has run so far.
fn evalsha_calls(server: &RedisServer) -> u64 {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    socket.write_all(b"INFO commandstats\r\nQUIT\r\n").unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

/// Settle 50 reservations off the callers' threads (one in ten unpriced: given
/// back), in two budgets; each settled exactly once. Runs `between` after
/// reserving and after settling.
fn settle_fifty_in_the_background(store: StoreChoice, ledger: Option<PathBuf>, mut between: impl FnMut()) {
    let budgets = vec![Budget::new(d("100"), Period::Day), Budget::new(d("100"), Period::Month)];
    budget::configure(settings(budgets, store, ledger)).unwrap();
    let held: Vec<_> =
        (0..50).map(|_| budget::reserve(&call(None), Some(&request(100)), &[]).unwrap().unwrap()).collect();
    between();
    for (i, h) in held.into_iter().enumerate() {
        h.settle_soon(if i % 10 == 9 { None } else { Some(d("0.001")) });
    }
    assert!(budget::wait_settled(std::time::Duration::from_secs(5)));
    between();
    for name in ["global/day", "global/month"] {
        let s = status_of(name);
        assert_eq!(s.spent_usd, Some(d("0.045")), "{s:?}");
        assert_eq!(s.reserved_usd, Some(Decimal::ZERO), "{s:?}");
    }
    budget::clear();
}

/// Settlements made off the callers' threads go to Redis together: a burst of
/// calls costs one round trip per batch, not one per call (each one woke the
/// settler to compete with the callers for the cores).
#[test]
fn settlements_off_the_callers_threads_reach_redis_in_batches() {
    let _g = serial();
    let server = RedisServer::start();
    let mut counts = Vec::new();
    settle_fifty_in_the_background(StoreChoice::Redis(server.url()), None, || {
        counts.push(evalsha_calls(&server))
    });
    let commands = counts[1] - counts[0];
    assert!(commands <= 10, "{commands} EVALSHA for 50 settlements");
}

#[test]
fn settlements_off_the_callers_threads_reach_the_ledger_in_batches() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    settle_fifty_in_the_background(StoreChoice::Ledger, Some(dir.path().join("ledger.db")), || ());
}

/// A reservation given back to a store that stopped answering does not hold
/// its caller (an event loop, a failed call's cleanup) for the store's
/// timeout: the release, and a dropped reservation's, go off its thread.
#[test]
fn giving_back_to_a_store_that_stopped_answering_does_not_hold_the_caller() {
    let _g = serial();
    let server = RedisServer::start();
    let budgets = vec![Budget::new(d("1"), Period::Day)];
    budget::configure(settings(budgets, StoreChoice::Redis(server.url()), None)).unwrap();
    let released = budget::reserve(&call(None), Some(&request(10)), &[]).unwrap().unwrap();
    let dropped = budget::reserve(&call(None), Some(&request(10)), &[]).unwrap().unwrap();
    // Redis stops answering: its sockets stay open, no reply comes.
    let pid = server.child.id() as i32;
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let began = std::time::Instant::now();
    released.release();
    drop(dropped);
    let held_for = began.elapsed();
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(held_for < std::time::Duration::from_millis(300), "the caller was held {held_for:?}");
    let s = status_of("global/day");
    assert_eq!(s.reserved_usd, Some(Decimal::ZERO), "{s:?}");
    budget::clear();
}

#[test]
fn an_unreachable_redis_lets_calls_through_when_open_and_blocks_them_when_closed() {
    let _g = serial();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let budgets = vec![Budget::new(d("1"), Period::Day)];
    budget::configure(Settings {
        fail_mode: FailMode::Open,
        ..settings(budgets.clone(), StoreChoice::Redis(url.clone()), None)
    })
    .unwrap();
    let held = budget::reserve(&call(None), Some(&request(10)), &[]).unwrap();
    held.unwrap().settle(Some(d("0.01")));
    budget::configure(Settings {
        fail_mode: FailMode::Closed,
        ..settings(budgets, StoreChoice::Redis(url), None)
    })
    .unwrap();
    let refused = budget::reserve(&call(None), Some(&request(10)), &[]).unwrap_err();
    assert!(refused.store_error.is_some());
    assert!(refused.to_string().contains("unreachable"), "{refused}");
    budget::clear();
}

/// An event loop reserves off its thread while the store may wait long: a
/// store not heard from yet, or one that failed; never in memory.
#[test]
fn a_reservation_may_wait_long_until_its_store_has_answered_quickly() {
    let _g = serial();
    let budgets = vec![Budget::new(d("1"), Period::Day)];
    budget::configure(settings(budgets.clone(), StoreChoice::Memory, None)).unwrap();
    assert!(!budget::reserve_may_wait());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    budget::configure(settings(budgets, StoreChoice::Redis(format!("redis://127.0.0.1:{port}")), None))
        .unwrap();
    assert!(budget::reserve_may_wait(), "not heard from yet");
    let _ = budget::reserve(&call(None), Some(&request(10)), &[]);
    assert!(budget::reserve_may_wait(), "unreachable");
    budget::clear();
    assert!(!budget::reserve_may_wait());
}

#[test]
fn a_stream_budget_counts_the_output_text_as_it_grows_and_names_the_cap_it_would_pass() {
    let _g = serial();
    let cap = Budget { enforce_stream: true, ..Budget::new(d("0.01"), Period::Day) };
    budget::configure(settings(vec![cap], StoreChoice::Memory, None)).unwrap();
    let stream = Call { stream: true, ..call(None) };
    let body = json!({"model": "budget-model", "messages": [{"role": "user", "content": "hi"}]});
    let held = budget::reserve(&stream, Some(&body), &[]).unwrap().unwrap();
    let mut guard = StreamBudget::new(held, "gpt-4o").unwrap();
    let mut output = String::new();
    let mut stopped = None;
    for _ in 0..2000 {
        output.push_str(" word");
        if let Err(e) = guard.check(&output) {
            stopped = Some(e);
            break;
        }
    }
    let stopped = stopped.expect("a stream of 2,000 words passes a $0.01 cap at $0.00001 a token");
    assert_eq!(stopped.budget_name, "global/day");
    // Stopped within the margin of the cap: about 1,000 tokens at $0.00001.
    assert!((900..=1000).contains(&guard.tokens()), "{}", guard.tokens());
    let counted = guard.tokens();
    assert!(guard.check(&output).is_ok(), "the same text again is nothing new");
    assert_eq!(guard.tokens(), counted);
    guard.into_reservation().settle(Some(d("0.0099")));
    assert_eq!(status_of("global/day").reserved_usd, Some(Decimal::ZERO));
    // A budget that does not meter streams gives the reservation back.
    budget::configure(settings(vec![Budget::new(d("1"), Period::Day)], StoreChoice::Memory, None)).unwrap();
    let held = budget::reserve(&stream, Some(&body), &[]).unwrap().unwrap();
    assert!(StreamBudget::new(held, "gpt-4o").is_err());
    budget::clear();
}

#[test]
fn a_metered_stream_reserves_as_it_goes_and_is_stopped_before_its_running_cost_passes_the_cap() {
    let _g = serial();
    let cap = Budget { enforce_stream: true, ..Budget::new(d("0.01"), Period::Day) };
    budget::configure(settings(vec![cap], StoreChoice::Memory, None)).unwrap();
    let stream = Call { stream: true, ..call(None) };
    // Without max_tokens the worst case (8192 output tokens, $0.08) would be refused outright.
    assert!(worst(8192) > d("0.01"));
    let body = json!({"model": "budget-model", "messages": [{"role": "user", "content": "hi"}]});
    let mut held = budget::reserve(&stream, Some(&body), &[]).unwrap().unwrap();
    assert!(held.enforce_stream());
    assert!(held.amount_usd() < d("0.003"), "{}", held.amount_usd());
    held.stream_progress(100).unwrap();
    held.stream_progress(700).unwrap();
    assert!(held.amount_usd() > d("0.007"));
    let stopped = held.stream_progress(1000).unwrap_err();
    assert_eq!(stopped.budget_name, "global/day");
    assert!(stopped.attempted_usd > d("0.01"));
    held.settle(Some(d("0.0099")));
    assert_eq!(status_of("global/day").reserved_usd, Some(Decimal::ZERO));
    // A budget that does not meter streams keeps the worst case: refused.
    budget::configure(settings(vec![Budget::new(d("0.01"), Period::Day)], StoreChoice::Memory, None))
        .unwrap();
    assert!(budget::reserve(&stream, Some(&body), &[]).is_err());
    budget::clear();
}
