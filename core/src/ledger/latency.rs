//! Observed latency per model, for routing's `lowest_latency`: the ledger already holds
//! `latency_ms` for every call.

use std::collections::BTreeMap;

use super::Ledger;
use crate::Result;

impl Ledger {
    /// The median latency (ms) of each model's newest `per_model` successful calls since
    /// `since_ms` (Unix ms; `None`: all). Failed and blocked calls are left out: an error's
    /// latency says nothing of how fast a model answers. With an even count the lower of the
    /// two middle values is taken, so the answer is always a latency that was observed.
    pub fn p50_latencies(&self, since_ms: Option<i64>, per_model: usize) -> Result<BTreeMap<String, u64>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT model, latency_ms FROM events WHERE status = 'ok' AND timestamp_ms >= ?1 \
                 ORDER BY model, timestamp_ms DESC, seq DESC",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([since_ms.unwrap_or(i64::MIN)], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.error(e))?;
        let mut samples: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for row in rows {
            let (model, latency) = row.map_err(|e| self.error(e))?;
            let kept = samples.entry(model).or_default();
            if kept.len() < per_model {
                kept.push(latency.max(0) as u64);
            }
        }
        Ok(samples
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(model, mut v)| {
                v.sort_unstable();
                (model, v[(v.len() - 1) / 2])
            })
            .collect())
    }
}
