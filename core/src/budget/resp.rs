//! A minimal Redis client (RESP2 over TCP) for the budget store: commands
//! out, replies in, nothing else. Enough for EVALSHA / SCRIPT LOAD / SET /
//! HMGET / AUTH / SELECT; no pipelining, no pub/sub, no TLS.
//!
//! A reply is first awaited by polling the socket without blocking, for up to
//! [`SPIN`]: a caller that blocks on a loopback round trip of ~20 µs gives up
//! its core, and getting it back costs far more than the trip (measured:
//! 2.5 ms median for a PING on a busy 2-core machine, 126 µs when idle,
//! against 20 µs polled). Only while replies keep arriving within the spin
//! budget; a slower Redis (another machine) is waited for by blocking.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long a reply is polled for before the caller blocks on it.
pub const SPIN: Duration = Duration::from_micros(250);
/// Replies in a row slower than [`SPIN`] after which polling stops for [`SKIP`] replies.
const MISSES: u32 = 3;
const SKIP: u32 = 100;

thread_local! {
    /// False on threads nobody waits for (the background settler): they block.
    static POLL: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Make this thread's replies wait by blocking (`false`), not by polling.
pub fn poll_on_this_thread(poll: bool) {
    POLL.with(|p| p.set(poll));
}

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
    reader: BufReader<Polled>,
    writer: TcpStream,
}

/// The socket's reading side: each read polls first (see the module's
/// documentation), then blocks with the socket's read timeout.
struct Polled {
    stream: TcpStream,
    /// Replies in a row that did not come within [`SPIN`].
    misses: u32,
    /// Replies still to wait for by blocking, after [`MISSES`] misses in a
    /// row (a Redis far away is not spun on); then polling is tried again.
    skip: u32,
    /// When the command being answered was sent; `None` once its reply began.
    sent: Option<Instant>,
}

impl Read for Polled {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(sent) = self.sent.take() else {
            return self.stream.read(buf);
        };
        if !POLL.with(|p| p.get()) {
            return self.stream.read(buf);
        }
        if self.skip > 0 {
            self.skip -= 1;
            return self.stream.read(buf);
        }
        while sent.elapsed() < SPIN {
            if let Some(result) = try_read(&self.stream, buf) {
                self.misses = 0;
                return result;
            }
            std::hint::spin_loop();
        }
        self.misses += 1;
        if self.misses >= MISSES {
            (self.misses, self.skip) = (0, SKIP);
        }
        self.stream.read(buf)
    }
}

/// A read that never blocks: `None` when nothing has arrived yet.
#[cfg(unix)]
fn try_read(stream: &TcpStream, buf: &mut [u8]) -> Option<std::io::Result<usize>> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the descriptor is open while `stream` lives.
    let n = unsafe { libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n >= 0 {
        return Some(Ok(n as usize));
    }
    let err = std::io::Error::last_os_error();
    match err.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => None,
        _ => Some(Err(err)),
    }
}

#[cfg(not(unix))]
fn try_read(_stream: &TcpStream, _buf: &mut [u8]) -> Option<std::io::Result<usize>> {
    None
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
        let polled = Polled { stream: stream.try_clone()?, misses: 0, skip: 0, sent: None };
        let mut conn = Connection { reader: BufReader::new(polled), writer: stream };
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
        // A reply already buffered (never, one command at a time) needs no wait.
        self.reader.get_mut().sent = self.reader.buffer().is_empty().then(Instant::now);
        read_reply(&mut self.reader)
    }

    /// True when the next reply will be polled for.
    #[cfg(test)]
    pub fn polls(&self) -> bool {
        self.reader.get_ref().skip == 0
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
    use std::net::TcpListener;

    /// A server answering each command with `+OK` after `delay`, split in two writes.
    fn slow_server(delay: Duration, commands: usize) -> (Target, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut socket = socket;
            for _ in 0..commands {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap(); // *1
                reader.read_line(&mut line).unwrap(); // $4
                reader.read_line(&mut line).unwrap(); // PING
                std::thread::sleep(delay);
                socket.write_all(b"+O").unwrap();
                socket.flush().unwrap();
                std::thread::sleep(Duration::from_millis(2));
                socket.write_all(b"K\r\n").unwrap();
            }
        });
        let target = Target { host: "127.0.0.1".into(), port, user: None, password: None, db: 0 };
        (target, handle)
    }

    #[test]
    fn a_reply_slower_than_the_spin_is_waited_for_and_later_ones_are_not_polled() {
        let (target, server) = slow_server(SPIN * 40, MISSES as usize + 1);
        let mut conn = Connection::open(&target, Duration::from_secs(5)).unwrap();
        for _ in 0..MISSES {
            assert!(conn.polls());
            assert_eq!(conn.call(&[b"PING"]).unwrap(), Reply::Simple("OK".into()));
        }
        assert!(!conn.polls(), "a far Redis is waited for by blocking, not spun on");
        assert_eq!(conn.call(&[b"PING"]).unwrap(), Reply::Simple("OK".into()));
        server.join().unwrap();
    }

    #[test]
    fn a_reply_in_pieces_within_the_spin_is_read_whole() {
        let (target, server) = slow_server(Duration::ZERO, 3);
        let mut conn = Connection::open(&target, Duration::from_secs(5)).unwrap();
        for _ in 0..3 {
            assert_eq!(conn.call(&[b"PING"]).unwrap(), Reply::Simple("OK".into()));
        }
        server.join().unwrap();
    }

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
