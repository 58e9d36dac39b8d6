//! Redis sink: `XADD key MAXLEN ~ n * eve <line>` to a stream or `RPUSH
//! key <line>` to a list, as Suricata's redis output does, pipelined.
//!
//! RESP is written by hand (a few dozen lines) rather than with the `redis`
//! crate because delivery needs what a pipeline API hides: which replies
//! came back before a connection broke, and a read-back of the tail (after
//! a reconnect, or in a restart after a kill) to learn whether the commands
//! whose replies were lost were applied, so they are not added twice. The
//! sink's worker keeps the digests of those commands (see
//! `Transport::applied`).

use super::config::RedisMode;
use super::transport::{digest, Delivery, Transport};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A RESP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// Encodes a command as a RESP array of bulk strings.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut b = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(b.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(b.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

const MAX_DEPTH: usize = 8;
const MAX_BULK: i64 = 512 << 20;
const MAX_ITEMS: i64 = 1 << 20;

/// Reads one reply. Malformed input is an error, never a panic.
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    read_depth(r, 0)
}

fn bad(why: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("RESP: {why}"))
}

fn read_depth(r: &mut impl BufRead, depth: usize) -> std::io::Result<Reply> {
    if depth > MAX_DEPTH {
        return Err(bad("nested too deep"));
    }
    let mut line = Vec::new();
    r.by_ref().take(64 << 10).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let body = line
        .strip_suffix(b"\r\n")
        .ok_or_else(|| bad("line without CRLF"))?;
    let (&kind, rest) = body.split_first().ok_or_else(|| bad("empty line"))?;
    let text = String::from_utf8_lossy(rest).into_owned();
    let num = || text.parse::<i64>().map_err(|_| bad("bad number"));
    Ok(match kind {
        b'+' => Reply::Simple(text),
        b'-' => Reply::Error(text),
        b':' => Reply::Int(num()?),
        b'$' => {
            let n = num()?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            if n > MAX_BULK {
                return Err(bad("bulk string too long"));
            }
            let mut v = vec![0u8; n as usize + 2];
            r.read_exact(&mut v)?;
            if v.split_off(n as usize) != b"\r\n" {
                return Err(bad("bulk string without CRLF"));
            }
            Reply::Bulk(Some(v))
        }
        b'*' => {
            let n = num()?;
            if n < 0 {
                return Ok(Reply::Array(None));
            }
            if n > MAX_ITEMS {
                return Err(bad("array too long"));
            }
            let mut items = Vec::with_capacity(n.min(1024) as usize);
            for _ in 0..n {
                items.push(read_depth(r, depth + 1)?);
            }
            Reply::Array(Some(items))
        }
        _ => return Err(bad("unknown reply type")),
    })
}

/// Errors after which the same command may succeed later.
fn transient(e: &str) -> bool {
    [
        "LOADING",
        "BUSY",
        "TRYAGAIN",
        "MASTERDOWN",
        "READONLY",
        "OOM",
        "NOAUTH",
        "CLUSTERDOWN",
    ]
    .iter()
    .any(|p| e.starts_with(p))
}

pub struct Redis {
    addr: String,
    password: Option<(Option<String>, String)>,
    db: u32,
    key: String,
    mode: RedisMode,
    maxlen: u64,
    conn: Option<BufReader<TcpStream>>,
}

impl Redis {
    pub fn new(
        addr: String,
        password: Option<(Option<String>, String)>,
        db: u32,
        key: String,
        mode: RedisMode,
        maxlen: u64,
    ) -> Self {
        Redis {
            addr,
            password,
            db,
            key,
            mode,
            maxlen,
            conn: None,
        }
    }

    fn connect(&mut self) -> std::io::Result<&mut BufReader<TcpStream>> {
        if self.conn.is_none() {
            let mut last = std::io::Error::other("no address");
            let mut stream = None;
            for a in self.addr.to_socket_addrs()? {
                match TcpStream::connect_timeout(&a, IO_TIMEOUT) {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            let s = stream.ok_or(last)?;
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            s.set_nodelay(true)?;
            let mut c = BufReader::new(s);
            if let Some((user, pass)) = &self.password {
                let mut args: Vec<&[u8]> = vec![b"AUTH"];
                if let Some(u) = user {
                    args.push(u.as_bytes());
                }
                args.push(pass.as_bytes());
                expect_ok(&mut c, &args)?;
            }
            if self.db != 0 {
                let db = self.db.to_string();
                expect_ok(&mut c, &[b"SELECT", db.as_bytes()])?;
            }
            self.conn = Some(c);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no connection"))
    }

    fn write_cmd(&self, out: &mut Vec<u8>, payload: &[u8]) {
        match self.mode {
            RedisMode::List => command(out, &[b"RPUSH", self.key.as_bytes(), payload]),
            RedisMode::Stream => {
                let max = self.maxlen.to_string();
                if self.maxlen > 0 {
                    command(
                        out,
                        &[
                            b"XADD",
                            self.key.as_bytes(),
                            b"MAXLEN",
                            b"~",
                            max.as_bytes(),
                            b"*",
                            b"eve",
                            payload,
                        ],
                    )
                } else {
                    command(out, &[b"XADD", self.key.as_bytes(), b"*", b"eve", payload])
                }
            }
        }
    }

    /// The last `n` values at the tail of the key, oldest first.
    fn tail(&mut self, n: usize) -> std::io::Result<Vec<Vec<u8>>> {
        let key = self.key.clone();
        let mode = self.mode;
        let c = self.connect()?;
        let count = n.to_string();
        let neg = format!("-{n}");
        let mut out = Vec::new();
        match mode {
            RedisMode::List => command(
                &mut out,
                &[b"LRANGE", key.as_bytes(), neg.as_bytes(), b"-1"],
            ),
            RedisMode::Stream => command(
                &mut out,
                &[
                    b"XREVRANGE",
                    key.as_bytes(),
                    b"+",
                    b"-",
                    b"COUNT",
                    count.as_bytes(),
                ],
            ),
        }
        c.get_mut().write_all(&out)?;
        let reply = read_reply(c)?;
        let Reply::Array(Some(items)) = reply else {
            if let Reply::Error(e) = reply {
                return Err(std::io::Error::other(e));
            }
            return Ok(Vec::new());
        };
        let mut vals: Vec<Vec<u8>> = Vec::new();
        for it in items {
            match it {
                Reply::Bulk(Some(v)) => vals.push(v),
                // Stream entry: [id, [field, value, ...]]
                Reply::Array(Some(entry)) => {
                    if let Some(Reply::Array(Some(fv))) = entry.get(1) {
                        let mut i = 0;
                        while let (Some(Reply::Bulk(Some(f))), Some(Reply::Bulk(Some(v)))) =
                            (fv.get(i), fv.get(i + 1))
                        {
                            if f == b"eve" {
                                vals.push(v.clone());
                            }
                            i += 2;
                        }
                    }
                }
                _ => {}
            }
        }
        if mode == RedisMode::Stream {
            vals.reverse();
        }
        Ok(vals)
    }
}

fn expect_ok(c: &mut BufReader<TcpStream>, args: &[&[u8]]) -> std::io::Result<()> {
    let mut out = Vec::new();
    command(&mut out, args);
    c.get_mut().write_all(&out)?;
    match read_reply(c)? {
        Reply::Error(e) => Err(std::io::Error::other(e)),
        _ => Ok(()),
    }
}

impl Transport for Redis {
    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        let addr = self.addr.clone();
        let mut out = Vec::new();
        for p in batch {
            self.write_cmd(&mut out, p);
        }
        let c = match self.connect() {
            Ok(c) => c,
            Err(e) => return Delivery::failed(0, format!("redis {addr}: {e}")),
        };
        if let Err(e) = c.get_mut().write_all(&out) {
            // Part of the pipeline may have gone out and been applied.
            return Delivery {
                maybe_applied: true,
                ..Delivery::failed(0, format!("redis {addr}: {e}"))
            };
        }
        let mut rejected = 0u64;
        let mut first_err = None;
        // Replies are all read, to keep the connection in step; the first
        // transient error ends what counts as settled (a later command of
        // the same pipeline that did succeed is sent again: rare, at-least-once).
        let mut transient_at: Option<(usize, String)> = None;
        for i in 0..batch.len() {
            match read_reply(c) {
                Ok(Reply::Error(e)) if transient(&e) => {
                    transient_at.get_or_insert((i, e));
                }
                Ok(Reply::Error(e)) => {
                    if transient_at.is_none() {
                        rejected += 1;
                        first_err.get_or_insert(format!("redis {addr}: {e}"));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if let Some((t, te)) = transient_at {
                        return Delivery {
                            settled: t,
                            rejected,
                            error: Some(format!("redis {addr}: {te}")),
                            maybe_applied: false,
                        };
                    }
                    // The replies from here on are lost, not the commands.
                    return Delivery {
                        settled: i,
                        rejected,
                        error: Some(format!("redis {addr}: {e}")),
                        maybe_applied: true,
                    };
                }
            }
        }
        if let Some((t, e)) = transient_at {
            return Delivery {
                settled: t,
                rejected,
                error: Some(format!("redis {addr}: {e}")),
                maybe_applied: false,
            };
        }
        Delivery {
            settled: batch.len(),
            rejected,
            error: first_err,
            maybe_applied: false,
        }
    }

    fn reset(&mut self) {
        self.conn = None;
    }

    fn reads_back(&self) -> bool {
        true
    }

    /// Reads back the tail of the key, a little longer than `sent` (other
    /// writers may have added to it since), and finds the last of `sent`
    /// there by digest.
    fn applied(&mut self, sent: &[u64]) -> std::io::Result<usize> {
        if sent.is_empty() {
            return Ok(0);
        }
        let tail: std::collections::HashSet<u64> = self
            .tail((2 * sent.len() + 16).min(10_000))?
            .iter()
            .map(|v| digest(v))
            .collect();
        Ok(sent
            .iter()
            .rposition(|d| tail.contains(d))
            .map_or(0, |j| j + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        command(&mut out, &[b"RPUSH", b"k", b"a b"]);
        assert_eq!(
            out,
            b"*3\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$3\r\na b\r\n".to_vec()
        );
    }

    #[test]
    fn parses_replies() {
        let mut r =
            &b"+OK\r\n-ERR x\r\n:12\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n"[..];
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Simple("OK".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Error("ERR x".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Int(12));
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Reply::Bulk(Some(b"abc".to_vec()))
        );
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Bulk(None));
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"a".to_vec())),
                Reply::Array(Some(vec![Reply::Int(1)]))
            ]))
        );
        assert!(read_reply(&mut r).is_err(), "end of input");
    }

    #[test]
    fn malformed_replies_are_errors() {
        for bad in [
            &b"?x\r\n"[..],
            b"$5\r\nab\r\n",
            b"$3\r\nabcXY",
            b":notanumber\r\n",
            b"+no crlf",
            b"$999999999999\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
        ] {
            let mut r = bad;
            assert!(
                read_reply(&mut r).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn transient_errors() {
        assert!(transient("LOADING Redis is loading the dataset in memory"));
        assert!(!transient(
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        ));
    }
}
