//! Redis as a budget store, for a fleet: each counter is a hash
//! (`spent`, `reserved`) under `costline:budget:<key>`, expiring when its
//! period ends. Reserve, settle and release are Lua scripts, so each runs
//! atomically in Redis whatever the number of processes and machines.
//!
//! A reservation held by a process that dies is not given back; it expires
//! with its period's counter.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::resp::{self, Connection, Reply};
use super::store::{BudgetStore, Charge, Reserved, Settlement};
use crate::{Error, Result};

const PREFIX: &str = "costline:budget:";

/// How long to wait for a connection; an unreachable Redis costs a call at
/// most this, and then nothing for `RETRY_AFTER`.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
const RETRY_AFTER_MS: i64 = 1000;

/// KEYS: counters. ARGV: amount, then per key: limit, block (1/0), ttl ms (0: none).
/// Returns {1, spent1, reserved1, ...} when taken, {0, index, spent, reserved} when refused.
const RESERVE: &str = r#"
local amount = tonumber(ARGV[1])
local current = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'spent', 'reserved')
  local spent, reserved = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  current[i] = {spent, reserved}
  local limit = tonumber(ARGV[(i - 1) * 3 + 2])
  if ARGV[(i - 1) * 3 + 3] == '1' and spent + reserved + amount > limit then
    return {0, i - 1, spent, reserved}
  end
end
local out = {1}
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'reserved', amount)
  local ttl = tonumber(ARGV[(i - 1) * 3 + 4])
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  out[#out + 1] = current[i][1]
  out[#out + 1] = current[i][2]
end
return out
"#;

/// Settlements, one or many (the background settler's batch). KEYS: every
/// settlement's counters in turn. ARGV, per settlement: its number of
/// counters, reserved, actual, then per counter its ttl ms. Returns each
/// counter's spent after, in order. Nothing spent on a counter that is gone
/// (its period ended) leaves it gone.
const SETTLE: &str = r#"
local out, k, a = {}, 1, 1
while a <= #ARGV do
  local n, reserved, actual = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  for i = 0, n - 1 do
    local key = KEYS[k + i]
    if actual == 0 and redis.call('EXISTS', key) == 0 then
      out[#out + 1] = 0
    else
      local left = redis.call('HINCRBY', key, 'reserved', -reserved)
      if left < 0 then redis.call('HSET', key, 'reserved', 0) end
      out[#out + 1] = redis.call('HINCRBY', key, 'spent', actual)
      local ttl = tonumber(ARGV[a + 3 + i])
      if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
    end
  end
  k, a = k + n, a + 3 + n
end
return out
"#;

/// KEYS: counters. ARGV: reserved.
const RELEASE: &str = r#"
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local left = redis.call('HINCRBY', key, 'reserved', -tonumber(ARGV[1]))
    if left < 0 then redis.call('HSET', key, 'reserved', 0) end
  end
end
return 1
"#;

pub struct RedisStore {
    target: resp::Target,
    /// Idle connections and the process that opened them; a call takes one
    /// (or opens one) and puts it back. A forked child never uses its parent's.
    idle: Mutex<(u32, Vec<Connection>)>,
    /// Script hashes once loaded (reserve, settle, release).
    shas: Mutex<Option<[String; 3]>>,
    /// After a failed connection, calls fail at once until then (Unix ms).
    down_until_ms: AtomicI64,
}

impl RedisStore {
    pub fn new(url: &str) -> Result<RedisStore> {
        let target = resp::parse_url(url).map_err(Error::Config)?;
        Ok(RedisStore {
            target,
            idle: Mutex::new((std::process::id(), Vec::new())),
            shas: Mutex::new(None),
            down_until_ms: AtomicI64::new(0),
        })
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Config(format!("redis at {}:{}: {message}", self.target.host, self.target.port))
    }

    fn connection(&self) -> Result<Connection> {
        {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let pid = std::process::id();
            if idle.0 != pid {
                // Inherited across fork(): the parent's sockets. Closing our
                // copies leaves the parent's connections open.
                *idle = (pid, Vec::new());
            }
            if let Some(conn) = idle.1.pop() {
                return Ok(conn);
            }
        }
        let now = chrono::Utc::now().timestamp_millis();
        if now < self.down_until_ms.load(Ordering::Relaxed) {
            return Err(self.error("unreachable (retrying shortly)"));
        }
        Connection::open(&self.target, CONNECT_TIMEOUT).map_err(|e| {
            self.down_until_ms.store(now + RETRY_AFTER_MS, Ordering::Relaxed);
            self.error(e)
        })
    }

    /// Run one command on a pooled connection; a connection that failed is dropped.
    fn call(&self, args: &[&[u8]]) -> Result<Reply> {
        let mut conn = self.connection()?;
        match conn.call(args) {
            Ok(reply) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.0 == std::process::id() && idle.1.len() < 16 {
                    idle.1.push(conn);
                }
                Ok(reply)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    fn sha(&self, which: usize) -> Result<String> {
        if let Some(shas) = self.shas.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(shas[which].clone());
        }
        let mut loaded = Vec::new();
        for script in [RESERVE, SETTLE, RELEASE] {
            match self.call(&[b"SCRIPT", b"LOAD", script.as_bytes()])? {
                Reply::Bulk(Some(sha)) => loaded.push(String::from_utf8_lossy(&sha).into_owned()),
                other => return Err(self.error(format!("SCRIPT LOAD answered {other:?}"))),
            }
        }
        let shas: [String; 3] = loaded.try_into().expect("three scripts");
        let sha = shas[which].clone();
        *self.shas.lock().unwrap_or_else(|p| p.into_inner()) = Some(shas);
        Ok(sha)
    }

    /// EVALSHA, loading the scripts again when Redis lost them (a restart, SCRIPT FLUSH).
    fn eval(&self, which: usize, keys: &[String], args: &[String]) -> Result<Reply> {
        for attempt in 0..2 {
            let sha = self.sha(which)?;
            let count = keys.len().to_string();
            let mut argv: Vec<&[u8]> = vec![b"EVALSHA", sha.as_bytes(), count.as_bytes()];
            argv.extend(keys.iter().map(|k| k.as_bytes()));
            argv.extend(args.iter().map(|a| a.as_bytes()));
            match self.call(&argv)? {
                Reply::Error(e) if e.starts_with("NOSCRIPT") && attempt == 0 => {
                    *self.shas.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                Reply::Error(e) => return Err(self.error(e)),
                reply => return Ok(reply),
            }
        }
        Err(self.error("the budget scripts could not be loaded"))
    }
}

fn keys(charges: &[Charge]) -> Vec<String> {
    charges.iter().map(|c| format!("{PREFIX}{}", c.key)).collect()
}

/// Milliseconds until the counter may go: its period's end, plus a minute so
/// that a status read at the boundary still finds it. 0: never.
fn ttl_ms(charge: &Charge) -> i64 {
    match charge.expires_at_ms {
        Some(end) => (end - chrono::Utc::now().timestamp_millis()).max(0) + 60_000,
        None => 0,
    }
}

fn ints(reply: &Reply) -> Option<Vec<i64>> {
    match reply {
        Reply::Array(Some(items)) => items.iter().map(Reply::int).collect(),
        _ => None,
    }
}

impl BudgetStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn reserve(&self, charges: &[Charge], amount: i64) -> Result<Reserved> {
        let mut args = vec![amount.to_string()];
        for c in charges {
            args.extend([c.limit.to_string(), (c.block as u8).to_string(), ttl_ms(c).to_string()]);
        }
        let reply = self.eval(0, &keys(charges), &args)?;
        let v = ints(&reply).ok_or_else(|| self.error(format!("reserve answered {reply:?}")))?;
        match v.first() {
            Some(1) => Ok(Reserved::Taken(v[1..].chunks(2).map(|p| (p[0], p[1])).collect())),
            Some(0) if v.len() == 4 => {
                Ok(Reserved::Over { index: v[1] as usize, spent: v[2], reserved: v[3] })
            }
            _ => Err(self.error(format!("reserve answered {reply:?}"))),
        }
    }

    fn settle(&self, charges: &[Charge], reserved: i64, actual: i64) -> Result<Vec<i64>> {
        let mut out = self.settle_many(&[Settlement { charges, reserved, actual }]);
        out.pop().expect("one result per settlement")
    }

    /// One script, one round trip, for the whole batch.
    fn settle_many(&self, items: &[Settlement<'_>]) -> Vec<Result<Vec<i64>>> {
        let mut keys_all = Vec::new();
        let mut args = Vec::new();
        for s in items {
            keys_all.extend(keys(s.charges));
            args.extend([s.charges.len().to_string(), s.reserved.to_string(), s.actual.to_string()]);
            args.extend(s.charges.iter().map(|c| ttl_ms(c).to_string()));
        }
        let spent = self.eval(1, &keys_all, &args).and_then(|reply| {
            ints(&reply)
                .filter(|v| v.len() == keys_all.len())
                .ok_or_else(|| self.error(format!("settle answered {reply:?}")))
        });
        match spent {
            Ok(spent) => {
                let mut rest = spent.as_slice();
                items
                    .iter()
                    .map(|s| {
                        let (mine, after) = rest.split_at(s.charges.len());
                        rest = after;
                        Ok(mine.to_vec())
                    })
                    .collect()
            }
            Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    fn release(&self, charges: &[Charge], reserved: i64) -> Result<()> {
        self.eval(2, &keys(charges), &[reserved.to_string()]).map(|_| ())
    }

    fn read(&self, charge: &Charge) -> Result<(i64, i64)> {
        let key = format!("{PREFIX}{}", charge.key);
        let reply = self.call(&[b"HMGET", key.as_bytes(), b"spent", b"reserved"])?;
        match reply {
            Reply::Array(Some(items)) if items.len() == 2 => {
                Ok((items[0].int().unwrap_or(0), items[1].int().unwrap_or(0)))
            }
            other => Err(self.error(format!("HMGET answered {other:?}"))),
        }
    }

    fn claim_alert(&self, charge: &Charge, percent: u32) -> Result<bool> {
        let key = format!("costline:budget-alert:{}:{percent}", charge.key);
        let ttl = ttl_ms(charge);
        let reply = if ttl > 0 {
            self.call(&[b"SET", key.as_bytes(), b"1", b"NX", b"PX", ttl.to_string().as_bytes()])?
        } else {
            self.call(&[b"SET", key.as_bytes(), b"1", b"NX"])?
        };
        match reply {
            Reply::Simple(_) => Ok(true),
            Reply::Bulk(None) => Ok(false),
            other => Err(self.error(format!("SET NX answered {other:?}"))),
        }
    }
}
