//! A minimal Redis client (RESP2 over TCP) for the budget store: commands
//! out, replies in, nothing else. Enough for EVALSHA / SCRIPT LOAD / SET /
//! HMGET / AUTH / SELECT; no pipelining, no pub/sub, no TLS.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            Reply::Bulk(Some(b)) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Where a `redis://[user:password@]host[:port][/db]` URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

pub fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url.strip_prefix("redis://").ok_or_else(|| {
        "COSTLINE_REDIS_URL must start with redis:// (rediss:// and unix sockets are not supported)"
            .to_string()
    })?;
    let (auth, hostpart) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let (hostport, db) = match hostpart.split_once('/') {
        Some((hp, db)) if !db.is_empty() => {
            (hp, db.parse().map_err(|_| format!("bad database number {db:?}"))?)
        }
        Some((hp, _)) => (hp, 0),
        None => (hostpart, 0),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| format!("bad port {p:?}"))?),
        None => (hostport, 6379),
    };
    if host.is_empty() {
        return Err("COSTLINE_REDIS_URL names no host".into());
    }
    let (user, password) = match auth {
        Some(a) => match a.split_once(':') {
            Some((u, p)) => (Some(u.to_string()).filter(|u| !u.is_empty()), Some(p.to_string())),
            None => (None, Some(a.to_string())),
        },
        None => (None, None),
    };
    Ok(Target { host: host.trim_matches(['[', ']']).to_string(), port, user, password, db })
}

pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    pub fn open(target: &Target, timeout: Duration) -> std::io::Result<Connection> {
        let addr = (target.host.as_str(), target.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("the host name resolves to no address"))?;
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout * 4))?;
        stream.set_write_timeout(Some(timeout * 4))?;
        let mut conn = Connection { reader: BufReader::new(stream.try_clone()?), writer: stream };
        if let Some(password) = &target.password {
            let reply = match &target.user {
                Some(user) => conn.call(&[b"AUTH", user.as_bytes(), password.as_bytes()])?,
                None => conn.call(&[b"AUTH", password.as_bytes()])?,
            };
            if let Reply::Error(e) = reply {
                // The reply never echoes the password.
                return Err(std::io::Error::other(format!("AUTH refused: {e}")));
            }
        }
        if target.db != 0 {
            if let Reply::Error(e) = conn.call(&[b"SELECT", target.db.to_string().as_bytes()])? {
                return Err(std::io::Error::other(format!("SELECT refused: {e}")));
            }
        }
        Ok(conn)
    }

    pub fn call(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out)?;
        read_reply(&mut self.reader)
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "redis closed the connection"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let line = read_line(r)?;
    let bad = || std::io::Error::other(format!("unexpected reply from redis: {line:?}"));
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" => Ok(Reply::Simple(rest.to_string())),
        "-" => Ok(Reply::Error(rest.to_string())),
        ":" => rest.parse().map(Reply::Int).map_err(|_| bad()),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            let mut buf = vec![0; n as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(n as usize);
            Ok(Reply::Bulk(Some(buf)))
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                return Ok(Reply::Array(None));
            }
            (0..n).map(|_| read_reply(r)).collect::<std::io::Result<Vec<_>>>().map(|v| Reply::Array(Some(v)))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_credentials_and_database() {
        let t = parse_url("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db, t.password), ("127.0.0.1", 6380, 2, None));
        let t = parse_url("redis://:s3cret@cache").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.password.as_deref(), t.user),
            ("cache", 6379, Some("s3cret"), None)
        );
        let t = parse_url("redis://app:pw@cache:1").unwrap();
        assert_eq!((t.user.as_deref(), t.password.as_deref()), (Some("app"), Some("pw")));
        assert!(parse_url("http://cache").is_err());
    }

    #[test]
    fn replies_parse_every_resp2_type() {
        let mut input: &[u8] = b"*4\r\n+OK\r\n:-3\r\n$3\r\nabc\r\n$-1\r\n";
        let reply = read_reply(&mut input).unwrap();
        assert_eq!(
            reply,
            Reply::Array(Some(vec![
                Reply::Simple("OK".into()),
                Reply::Int(-3),
                Reply::Bulk(Some(b"abc".to_vec())),
                Reply::Bulk(None)
            ]))
        );
    }
}
