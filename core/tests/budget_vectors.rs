//! Replays `tests/vectors/budgets.json` (the Python suite replays it too; the
//! Node suite will): which calls a set of budgets lets through.

use std::path::PathBuf;
use std::str::FromStr;

use costline_core::budget::{self, Action, Budget, FailMode, Period, Settings, StoreChoice};
use costline_core::catalog;
use costline_core::event::Sdk;
use costline_core::recorder::Call;
use rust_decimal::Decimal;
use serde_json::Value;

fn budget_from(v: &Value) -> Budget {
    let limit = Decimal::from_str(v["limit_usd"].as_str().unwrap()).unwrap();
    let mut b = Budget::new(limit, Period::parse(v["period"].as_str().unwrap()).unwrap());
    b.name = v["name"].as_str().unwrap_or_default().to_string();
    b.agent = v["agent"].as_str().map(str::to_string);
    if let Some(tags) = v["tags"].as_object() {
        b.tags = tags.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    }
    if let Some(action) = v["action"].as_str() {
        b.action = Action::parse(action).unwrap();
    }
    b
}

#[test]
fn budget_vectors() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/budgets.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    catalog::set_inline_prices(Some(&file["prices"])).unwrap();
    let request = &file["request"];
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let budgets = case["budgets"].as_array().unwrap().iter().map(budget_from).collect();
        budget::configure(Settings {
            budgets,
            store: StoreChoice::Memory,
            fail_mode: FailMode::Open,
            ledger: None,
        })
        .unwrap();
        for (i, c) in case["calls"].as_array().unwrap().iter().enumerate() {
            let agent_path: Vec<String> = c["agent_path"]
                .as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            let call = Call {
                agent: agent_path.last().cloned(),
                agent_path,
                run_id: c["run_id"].as_str().map(str::to_string),
                tags: c["tags"]
                    .as_object()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
                    .unwrap_or_default(),
                ..Call::new(
                    "openai".into(),
                    "chat".into(),
                    "budget-model".into(),
                    Sdk { lang: "rust".into(), version: "0".into() },
                )
            };
            let actual = Decimal::from_str(c["actual_usd"].as_str().unwrap()).unwrap();
            match (budget::reserve(&call, Some(request), &[]), c["expect"].as_str().unwrap()) {
                (Ok(Some(held)), "ok") => held.settle(Some(actual)),
                (Ok(None), "ok") => {}
                (Err(e), "blocked") => {
                    assert_eq!(e.budget_name, c["budget_name"].as_str().unwrap(), "{name} call {i}");
                    assert_eq!(e.scope, c["scope"].as_str().unwrap(), "{name} call {i}");
                }
                (got, expected) => panic!("{name} call {i}: expected {expected}, got {got:?}"),
            }
        }
        let rows = budget::status();
        for want in case["status"].as_array().unwrap() {
            let row = rows.iter().find(|r| r.name == want["name"].as_str().unwrap()).expect("listed");
            let spent = Decimal::from_str(want["spent_usd"].as_str().unwrap()).unwrap();
            assert_eq!(row.spent_usd, Some(spent), "{name}: {}", row.name);
            assert_eq!(row.reserved_usd, Some(Decimal::ZERO), "{name}: {}", row.name);
        }
    }
    budget::clear();
}
