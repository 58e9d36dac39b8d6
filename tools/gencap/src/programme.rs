//! The removal programme: four weekly captures of one office that drops its foreign
//! security agents (issue 13). Each week every host that is switched on gets its address by
//! DHCP (REQUEST with option 12, ACK with the lease), pings its gateway, and its agent, if
//! any, opens a TLS connection to the vendor (ClientHello with SNI).
//!
//! | host       | MAC               | week 1        | week 2        | week 3            | week 4                          |
//! | ---------- | ----------------- | ------------- | ------------- | ----------------- | ------------------------------- |
//! | PC-ALPHA   | 02:00:5e:13:00:01 | Kaspersky     | Kaspersky     | Kaspersky         | Kaspersky                       |
//! | PC-BRAVO   | 02:00:5e:13:00:02 | CrowdStrike   | (none)        | QiAnXin (CN)      | QiAnXin                         |
//! | PC-CHARLIE | 02:00:5e:13:00:03 | ESET          | (none)        | (none)            | (none)                          |
//! | PC-DELTA   | 02:00:5e:13:00:04 | Kaspersky     | Kaspersky     | switched off      | switched off                    |
//! | PC-ECHO    | 02:00:5e:13:00:05 | CrowdStrike   | CrowdStrike   | CrowdStrike       | CrowdStrike, moved .15 → .25    |
//! | PC-FOXTROT | 02:00:5e:13:00:06 | —             | —             | —                 | new, no agent, takes .15        |
//!
//! Week 4 gives PC-ECHO a new lease and PC-FOXTROT the address PC-ECHO held: a tool that
//! keys hosts by address would see ECHO's agent "removed" from 10.20.0.15 and "new" on
//! 10.20.0.25. Vendor names and addresses are those of the demo scene.

use crate::frame::{self, Hop, TcpFlags, Vlan};
use crate::pcap::{CaptureWriter, Format};
use crate::rng::Rng;
use crate::tls::{self, HelloParams, Profile};
use crate::GenError;
use std::net::{IpAddr, Ipv4Addr};

/// Weeks in the programme.
pub const WEEKS: u8 = 4;
/// Monday 2026-01-05 09:00:00 UTC, in microseconds: week 1.
pub const WEEK1_US: u64 = 1_767_603_600_000_000;
const WEEK_US: u64 = 7 * 86_400 * 1_000_000;

const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 1);
const GATEWAY_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x13, 0x00, 0xfe];

/// A security agent's call home.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agent {
    pub vendor: &'static str,
    pub sni: &'static str,
    pub server: Ipv4Addr,
}

pub const KASPERSKY: Agent = Agent {
    vendor: "Kaspersky",
    sni: "ksn-url-geo.kaspersky-labs.com",
    server: Ipv4Addr::new(77, 74, 181, 36),
};
pub const CROWDSTRIKE: Agent = Agent {
    vendor: "CrowdStrike",
    sni: "ts01-b.cloudsink.net",
    server: Ipv4Addr::new(54, 183, 140, 32),
};
pub const ESET: Agent = Agent {
    vendor: "ESET",
    sni: "edf.eset.com",
    server: Ipv4Addr::new(13, 91, 60, 30),
};
/// The domestic replacement (home country CN).
pub const QIANXIN: Agent = Agent {
    vendor: "QiAnXin",
    sni: "sandbox.qianxin.com",
    server: Ipv4Addr::new(106, 120, 168, 92),
};

/// What one host does in one week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Week {
    /// Switched off: no packet at all.
    Off,
    On {
        address: Ipv4Addr,
        agent: Option<Agent>,
    },
}

pub struct Host {
    pub name: &'static str,
    pub mac: [u8; 6],
    pub weeks: [Week; WEEKS as usize],
}

const fn on(last: u8, agent: Option<Agent>) -> Week {
    Week::On {
        address: Ipv4Addr::new(10, 20, 0, last),
        agent,
    }
}

const fn mac(n: u8) -> [u8; 6] {
    [0x02, 0x00, 0x5e, 0x13, 0x00, n]
}

/// The office, week by week (the table above).
pub fn hosts() -> Vec<Host> {
    let (k, c, e, q) = (
        Some(KASPERSKY),
        Some(CROWDSTRIKE),
        Some(ESET),
        Some(QIANXIN),
    );
    vec![
        Host {
            name: "PC-ALPHA",
            mac: mac(1),
            weeks: [on(11, k), on(11, k), on(11, k), on(11, k)],
        },
        Host {
            name: "PC-BRAVO",
            mac: mac(2),
            weeks: [on(12, c), on(12, None), on(12, q), on(12, q)],
        },
        Host {
            name: "PC-CHARLIE",
            mac: mac(3),
            weeks: [on(13, e), on(13, None), on(13, None), on(13, None)],
        },
        Host {
            name: "PC-DELTA",
            mac: mac(4),
            weeks: [on(14, k), on(14, k), Week::Off, Week::Off],
        },
        Host {
            name: "PC-ECHO",
            mac: mac(5),
            weeks: [on(15, c), on(15, c), on(15, c), on(25, c)],
        },
        Host {
            name: "PC-FOXTROT",
            mac: mac(6),
            weeks: [Week::Off, Week::Off, Week::Off, on(15, None)],
        },
    ]
}

/// A BOOTP/DHCP message (RFC 2131): `op` 1 request, 2 reply; options after the magic cookie.
fn dhcp(op: u8, xid: u32, yiaddr: Ipv4Addr, chaddr: [u8; 6], options: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut m = vec![op, 1, 6, 0];
    m.extend_from_slice(&xid.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0x80, 0]); // secs, flags: broadcast
    m.extend_from_slice(&[0; 4]); // ciaddr
    m.extend_from_slice(&yiaddr.octets());
    m.extend_from_slice(&[0; 8]); // siaddr, giaddr
    m.extend_from_slice(&chaddr);
    m.extend_from_slice(&[0; 10 + 64 + 128]); // chaddr padding, sname, file
    m.extend_from_slice(&[99, 130, 83, 99]);
    for (code, value) in options {
        m.push(*code);
        m.push(value.len() as u8);
        m.extend_from_slice(value);
    }
    m.push(255);
    m
}

struct Writer {
    cap: CaptureWriter<Vec<u8>>,
    ts_us: u64,
    ip_id: u16,
}

impl Writer {
    fn put(&mut self, frame: Vec<u8>, gap_us: u64) -> Result<(), GenError> {
        self.ts_us += gap_us;
        self.cap.write(self.ts_us, &frame)?;
        Ok(())
    }

    fn hop(&mut self, src_mac: [u8; 6], dst_mac: [u8; 6], src: IpAddr, dst: IpAddr) -> Hop {
        self.ip_id = self.ip_id.wrapping_add(1);
        Hop {
            src_mac,
            dst_mac,
            vlan: Vlan::None,
            src,
            dst,
            ttl: 64,
            ip_id: self.ip_id,
        }
    }
}

/// The capture of week `n` (1-based) as pcap bytes.
pub fn week(n: u8) -> Result<Vec<u8>, GenError> {
    if n == 0 || n > WEEKS {
        return Err(GenError::Arg(format!(
            "week {n}: the programme has weeks 1 to {WEEKS}"
        )));
    }
    let i = usize::from(n - 1);
    let mut rng = Rng::derive(0x1313, &format!("programme-week-{n}"));
    let mut w = Writer {
        cap: CaptureWriter::new(Vec::new(), Format::Pcap)?,
        ts_us: WEEK1_US + u64::from(n - 1) * WEEK_US,
        ip_id: 0,
    };
    let bcast = IpAddr::V4(Ipv4Addr::BROADCAST);
    for (h_ix, h) in hosts().iter().enumerate() {
        let Some(Week::On { address, agent }) = h.weeks.get(i).copied() else {
            continue;
        };
        let me = IpAddr::V4(address);
        let gw = IpAddr::V4(GATEWAY);
        let xid = 0x1300_0000 | (u32::from(n) << 8) | h_ix as u32;
        let name = h.name.as_bytes().to_vec();
        let request = dhcp(
            1,
            xid,
            Ipv4Addr::UNSPECIFIED,
            h.mac,
            &[(53, vec![3]), (50, address.octets().to_vec()), (12, name)],
        );
        let hop = w.hop(h.mac, [0xff; 6], IpAddr::V4(Ipv4Addr::UNSPECIFIED), bcast);
        w.put(frame::udp(&hop, 68, 67, &request)?, 60_000_000)?;
        let ack = dhcp(
            2,
            xid,
            address,
            h.mac,
            &[
                (53, vec![5]),
                (54, GATEWAY.octets().to_vec()),
                (51, 86_400u32.to_be_bytes().to_vec()),
                (1, vec![255, 255, 255, 0]),
                (3, GATEWAY.octets().to_vec()),
            ],
        );
        let hop = w.hop(GATEWAY_MAC, [0xff; 6], gw, bcast);
        w.put(frame::udp(&hop, 67, 68, &ack)?, 2_000)?;
        // Any traffic shows the host is on: a ping of the gateway.
        let (out, back) = (
            w.hop(h.mac, GATEWAY_MAC, me, gw),
            w.hop(GATEWAY_MAC, h.mac, gw, me),
        );
        w.put(
            frame::icmp_echo(&out, false, 0x13, 1, b"programme")?,
            500_000,
        )?;
        w.put(frame::icmp_echo(&back, true, 0x13, 1, b"programme")?, 400)?;
        if let Some(a) = agent {
            tls_call(&mut w, &mut rng, h.mac, me, a)?;
        }
    }
    Ok(w.cap.finish()?)
}

/// One TCP connection of an agent: its host's MAC and address, the vendor's
/// server, the client port.
struct Conn {
    mac: [u8; 6],
    me: IpAddr,
    srv: IpAddr,
    sport: u16,
}

/// TCP flags from the four the programme uses.
fn flags(syn: bool, ack: bool, fin: bool, psh: bool) -> TcpFlags {
    TcpFlags {
        syn,
        ack,
        fin,
        rst: false,
        psh,
    }
}

impl Writer {
    /// A segment of `c`, `up` (client to server) or down, `gap_us` after the
    /// previous packet. The windows are the client's and the server's; SYNs
    /// carry options.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        c: &Conn,
        up: bool,
        seq: u32,
        ack: u32,
        f: TcpFlags,
        payload: &[u8],
        gap_us: u64,
    ) -> Result<(), GenError> {
        let (hop, sport, dport, window) = if up {
            let w = if f.syn { 64_240 } else { 502 };
            (self.hop(c.mac, GATEWAY_MAC, c.me, c.srv), c.sport, 443, w)
        } else {
            let w = if f.syn { 65_160 } else { 509 };
            (self.hop(GATEWAY_MAC, c.mac, c.srv, c.me), 443, c.sport, w)
        };
        let frame = frame::tcp(&hop, sport, dport, seq, ack, f, window, f.syn, payload)?;
        self.put(frame, gap_us)
    }
}

/// A TLS connection from `me` to the agent's server: handshake, ClientHello, the server's
/// acknowledgement, FIN both ways.
fn tls_call(
    w: &mut Writer,
    rng: &mut Rng,
    mac: [u8; 6],
    me: IpAddr,
    a: Agent,
) -> Result<(), GenError> {
    let c = Conn {
        mac,
        me,
        srv: IpAddr::V4(a.server),
        sport: 49_152 + (rng.next_u16() % 16_000),
    };
    let (c0, s0) = (rng.next_u32(), rng.next_u32());
    let hello = tls::client_hello(
        Profile::CurlOpenssl,
        &HelloParams::new(Some(a.sni), &[]),
        rng,
    )
    .record_bytes();
    let hl = hello.len() as u32;
    let none: &[u8] = &[];
    w.segment(
        &c,
        true,
        c0,
        0,
        flags(true, false, false, false),
        none,
        1_000_000,
    )?;
    w.segment(
        &c,
        false,
        s0,
        c0 + 1,
        flags(true, true, false, false),
        none,
        30_000,
    )?;
    w.segment(
        &c,
        true,
        c0 + 1,
        s0 + 1,
        flags(false, true, false, false),
        none,
        200,
    )?;
    w.segment(
        &c,
        true,
        c0 + 1,
        s0 + 1,
        flags(false, true, false, true),
        &hello,
        300,
    )?;
    w.segment(
        &c,
        false,
        s0 + 1,
        c0 + 1 + hl,
        flags(false, true, false, false),
        none,
        30_000,
    )?;
    w.segment(
        &c,
        true,
        c0 + 1 + hl,
        s0 + 1,
        flags(false, true, true, false),
        none,
        5_000_000,
    )?;
    w.segment(
        &c,
        false,
        s0 + 1,
        c0 + 2 + hl,
        flags(false, true, true, false),
        none,
        30_000,
    )?;
    w.segment(
        &c,
        true,
        c0 + 2 + hl,
        s0 + 2,
        flags(false, true, false, false),
        none,
        200,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_deterministic_and_bounded() {
        assert_eq!(week(2).unwrap(), week(2).unwrap());
        assert_ne!(week(1).unwrap(), week(2).unwrap());
        assert!(week(0).is_err() && week(5).is_err());
    }
}
