//! Syslog transports: UDP datagrams, TCP with octet-counting framing
//! (RFC 6587 §3.4.1), unix datagram sockets (`/dev/log`).

use super::transport::{Delivery, Transport};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// `LEN SP MSG`: RFC 6587 octet counting.
pub fn octet_frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 8);
    out.extend_from_slice(itoa::Buffer::new().format(msg.len()).as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

/// A message too large for any datagram can never be sent: it is rejected,
/// not retried.
fn too_big(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(90) // EMSGSIZE on Linux
}

pub struct Udp {
    addr: String,
    sock: Option<UdpSocket>,
}

impl Udp {
    pub fn new(addr: String) -> Self {
        Udp { addr, sock: None }
    }

    fn connect(&mut self) -> std::io::Result<&UdpSocket> {
        if self.sock.is_none() {
            let target = self
                .addr
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other("no address"))?;
            let bind = if target.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let s = UdpSocket::bind(bind)?;
            // Connected, so a port-unreachable answer shows up as an error.
            s.connect(target)?;
            self.sock = Some(s);
        }
        self.sock
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no socket"))
    }
}

impl Transport for Udp {
    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        let sock = match self.connect() {
            Ok(s) => s,
            Err(e) => return Delivery::failed(0, format!("udp {}: {e}", self.addr)),
        };
        let mut rejected = 0;
        for (i, m) in batch.iter().enumerate() {
            if let Err(e) = sock.send(m) {
                if too_big(&e) {
                    rejected += 1;
                    continue;
                }
                return Delivery {
                    settled: i,
                    rejected,
                    error: Some(format!("udp {}: {e}", self.addr)),
                    ..Delivery::default()
                };
            }
        }
        Delivery {
            settled: batch.len(),
            rejected,
            error: None,
            ..Delivery::default()
        }
    }

    fn reset(&mut self) {
        self.sock = None;
    }
}

pub struct Tcp {
    addr: String,
    stream: Option<TcpStream>,
}

impl Tcp {
    pub fn new(addr: String) -> Self {
        Tcp { addr, stream: None }
    }

    fn connect(&mut self) -> std::io::Result<&mut TcpStream> {
        if let Some(s) = &mut self.stream {
            if peer_closed(s) {
                self.stream = None;
            }
        }
        if self.stream.is_none() {
            let mut last = std::io::Error::other("no address");
            for a in self.addr.to_socket_addrs()? {
                match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                    Ok(s) => {
                        s.set_nodelay(true)?;
                        s.set_write_timeout(Some(IO_TIMEOUT))?;
                        self.stream = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            if self.stream.is_none() {
                return Err(last);
            }
        }
        self.stream
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no connection"))
    }
}

/// Whether the receiver closed its end (a syslog receiver never writes, so
/// readable means EOF or an error). Checked before each batch so that
/// records are not written into a connection the peer already left.
fn peer_closed(s: &mut TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut b = [0u8; 64];
    let closed = match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).is_err() || closed
}

impl Transport for Tcp {
    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        let addr = self.addr.clone();
        let s = match self.connect() {
            Ok(s) => s,
            Err(e) => return Delivery::failed(0, format!("tcp {addr}: {e}")),
        };
        // One write per frame: a failure tells which frames the kernel took.
        for (i, m) in batch.iter().enumerate() {
            if let Err(e) = s.write_all(&octet_frame(m)) {
                return Delivery::failed(i, format!("tcp {addr}: {e}"));
            }
        }
        Delivery::all(batch.len())
    }

    fn reset(&mut self) {
        self.stream = None;
    }

    fn batch_limit(&self) -> usize {
        1
    }
}

pub struct Unix {
    path: PathBuf,
    sock: Option<UnixDatagram>,
}

impl Unix {
    pub fn new(path: PathBuf) -> Self {
        Unix { path, sock: None }
    }
}

impl Transport for Unix {
    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        if self.sock.is_none() {
            let s = UnixDatagram::unbound().and_then(|s| {
                s.connect(&self.path)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                Ok(s)
            });
            match s {
                Ok(s) => self.sock = Some(s),
                Err(e) => return Delivery::failed(0, format!("unix {}: {e}", self.path.display())),
            }
        }
        let Some(sock) = &self.sock else {
            return Delivery::failed(0, "no socket");
        };
        let mut rejected = 0;
        for (i, m) in batch.iter().enumerate() {
            if let Err(e) = sock.send(m) {
                if too_big(&e) {
                    rejected += 1;
                    continue;
                }
                return Delivery {
                    settled: i,
                    rejected,
                    error: Some(format!("unix {}: {e}", self.path.display())),
                    ..Delivery::default()
                };
            }
        }
        Delivery {
            settled: batch.len(),
            rejected,
            error: None,
            ..Delivery::default()
        }
    }

    fn reset(&mut self) {
        self.sock = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    #[test]
    fn octet_counting() {
        assert_eq!(
            octet_frame(b"<14>1 - - - - - - hi"),
            b"20 <14>1 - - - - - - hi".to_vec()
        );
        assert_eq!(
            octet_frame("é".as_bytes()),
            b"2 \xc3\xa9".to_vec(),
            "octets, not characters"
        );
    }

    #[test]
    fn tcp_frames_arrive_and_a_closed_peer_is_noticed() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let mut t = Tcp::new(addr.clone());
        let h = std::thread::spawn(move || {
            let (c, _) = l.accept().unwrap();
            let mut r = std::io::BufReader::new(c);
            let mut got = Vec::new();
            for _ in 0..2 {
                let mut len = Vec::new();
                r.read_until(b' ', &mut len).unwrap();
                let n: usize = std::str::from_utf8(&len[..len.len() - 1])
                    .unwrap()
                    .parse()
                    .unwrap();
                let mut m = vec![0; n];
                r.read_exact(&mut m).unwrap();
                got.push(m);
            }
            got
        });
        assert_eq!(t.send(&[b"one", b"two two"]), Delivery::all(2));
        assert_eq!(
            h.join().unwrap(),
            vec![b"one".to_vec(), b"two two".to_vec()]
        );
        // The receiver is gone: the next send must not pretend to deliver.
        std::thread::sleep(Duration::from_millis(50));
        let d = t.send(&[b"three"]);
        assert_eq!(d.settled, 0, "{d:?}");
    }

    #[test]
    fn unix_datagrams_and_a_missing_socket() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.sock");
        let mut t = Unix::new(p.clone());
        assert_eq!(t.send(&[b"x"]).settled, 0);
        let r = UnixDatagram::bind(&p).unwrap();
        t.reset();
        assert_eq!(t.send(&[b"a", b"bc"]), Delivery::all(2));
        let mut b = [0u8; 16];
        let n = r.recv(&mut b).unwrap();
        assert_eq!(&b[..n], b"a");
        let n = r.recv(&mut b).unwrap();
        assert_eq!(&b[..n], b"bc");
    }
}
