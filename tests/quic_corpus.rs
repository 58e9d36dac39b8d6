//! Runs the QUIC client-Initial dissector over every capture of the shared
//! corpus and compares the server names it recovers with tshark's.
//!
//! The check: the SNI is found in every QUIC capture that tshark
//! decrypts. tshark 4.0 decrypts v1, v2 and recent drafts only, so where we
//! find more (older drafts, Google QUIC) the extra names are listed in
//! `EXCEPTIONS` with the reason and the peer tool that agrees.
//!
//! The UDP decoding here is a small stand-in for the project's decoder:
//! etherparse on Ethernet, raw IP, NULL/loopback, Linux SLL/SLL2 and PPP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use phonehome::capture::{linktype, Block, CaptureFile};
use phonehome::dissect::quic::gquic;
use phonehome::dissect::quic::header::{parse_packet, Packet, PacketType};
use phonehome::dissect::quic::{family, Family, Progress, QuicClientTracker};

fn shared() -> PathBuf {
    let p = std::env::var_os("PHONEHOME_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        p.join("captures/MANIFEST.tsv").is_file(),
        "shared corpus missing at {} (set PHONEHOME_SHARED)",
        p.display()
    );
    p
}

/// Extra names we recover that tshark 4.0 does not, per capture.
/// (capture, kind, names, why and who agrees)
const EXCEPTIONS: &[(&str, Kind, &[&str], &str)] = &[(
    "tcpdump/quic_vn.pcap",
    Kind::Tls,
    &["localhost"],
    "The client's first Initial uses the greased version 0x1a2a3a4a, the server \
     answers with Version Negotiation and the client retries in v1. tshark 4.0 shows \
     the v1 Initial (frame 3) without decrypting it (it does decrypt the server's \
     Handshake), so it lists no SNI; ours opened with AEAD authentication. The same \
     tcpdump test suite's quic_retry.pcap, from the same client, has SNI localhost \
     in tshark's oracle.",
)];

/// Captures whose QUIC ClientHellos we recover but which carry no SNI
/// extension: the hello count is checked so that a decryption failure there
/// cannot pass silently. (capture, who confirms the hello has no SNI)
const HELLO_WITHOUT_SNI: &[(&str, &str)] = &[
    (
        "ndpi/doq.pcapng",
        "tshark decodes the hello: no extension 0 (DoQ to an IP)",
    ),
    (
        "ndpi/quic-34.pcap",
        "tshark decodes the hello: no extension 0",
    ),
    (
        "ndpi/quic-forcing-vn-with-data.pcapng",
        "after Version Negotiation; tshark fails to decrypt it, nDPI reads its ALPN and no SNI",
    ),
    (
        "ndpi/quic_frags_ch_in_multiple_packets.pcapng",
        "tshark decodes the hello: no extension 0; nDPI: ALPN, no SNI",
    ),
    (
        "suricata-verify/quic-v2.pcap",
        "tshark decodes the v2 hello: no extension 0",
    ),
    (
        "zeek/quic/quicdoq.pcap",
        "DoQ on port 853, which tshark does not dissect as QUIC; no extension 0",
    ),
    (
        "zeek/quic/quicv2-http3-443.pcap",
        "tshark decodes the v2 hello: no extension 0",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// SNI of a TLS ClientHello inside QUIC (oracle `.quic-sni.txt`).
    Tls,
    /// SNI tag of a Google QUIC CHLO (oracle `.gquic-sni.txt`).
    Google,
}

type Endpoint = (IpAddr, u16);

struct Datagram<'a> {
    src: Endpoint,
    dst: Endpoint,
    payload: &'a [u8],
}

fn udp_of(sliced: SlicedPacket<'_>) -> Option<Datagram<'_>> {
    let (src, dst) = match sliced.net? {
        NetSlice::Ipv4(ip) => {
            if ip.payload().fragmented {
                return None;
            }
            let h = ip.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
            )
        }
        NetSlice::Ipv6(ip) => {
            if ip.payload().fragmented {
                return None;
            }
            let h = ip.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
            )
        }
        NetSlice::Arp(_) => return None,
    };
    let TransportSlice::Udp(udp) = sliced.transport? else {
        return None;
    };
    Some(Datagram {
        src: (src, udp.source_port()),
        dst: (dst, udp.destination_port()),
        payload: udp.payload(),
    })
}

fn decode(linktype: u16, data: &[u8]) -> Option<Datagram<'_>> {
    let sliced = match linktype {
        linktype::ETHERNET => SlicedPacket::from_ethernet(data).ok()?,
        linktype::NULL | linktype::LOOP => SlicedPacket::from_ip(data.get(4..)?).ok()?,
        linktype::RAW
        | linktype::RAW_DLT12
        | linktype::RAW_DLT14
        | linktype::IPV4
        | linktype::IPV6 => SlicedPacket::from_ip(data).ok()?,
        // SLL: protocol at bytes 14..16 of a 16-byte header; SLL2: at 0..2 of
        // 20 (read directly: etherparse ignores it for loopback devices).
        linktype::LINUX_SLL => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            SlicedPacket::from_ether_type(EtherType(proto), data.get(16..)?).ok()?
        }
        linktype::LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            SlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?).ok()?
        }
        linktype::PPP => {
            let d = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
            match u16::from_be_bytes([*d.first()?, *d.get(1)?]) {
                0x0021 | 0x0057 => SlicedPacket::from_ip(d.get(2..)?).ok()?,
                _ => return None,
            }
        }
        _ => return None,
    };
    udp_of(sliced)
}

/// True for a datagram that opens a QUIC connection: a long-header Initial
/// (also of greased or undecryptable versions) or a Google QUIC packet with
/// its version.
fn is_client_first(payload: &[u8]) -> bool {
    if gquic::parse_legacy(payload).is_some() {
        return true;
    }
    match parse_packet(payload) {
        Ok((Packet::Long(lp), _)) => lp.ptype == PacketType::Initial,
        Ok((Packet::OtherVersion { version, .. }, _)) => {
            matches!(family(version), Family::Greased | Family::Ietf)
        }
        _ => false,
    }
}

/// Server name from a TLS ClientHello handshake message (minimal walk to
/// extension 0).
fn sni_of_client_hello(msg: &[u8]) -> Option<String> {
    let mut p = 4 + 2 + 32; // header, legacy_version, random
    p += 1 + usize::from(*msg.get(p)?);
    p += 2 + usize::from(u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]));
    p += 1 + usize::from(*msg.get(p)?);
    let ext_end = p + 2 + usize::from(u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]));
    p += 2;
    while p + 4 <= ext_end {
        let ty = u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]);
        let len = usize::from(u16::from_be_bytes([*msg.get(p + 2)?, *msg.get(p + 3)?]));
        let body = msg.get(p + 4..p + 4 + len)?;
        if ty == 0 {
            // server_name_list length, name_type, name length, name
            let n = usize::from(u16::from_be_bytes([*body.get(3)?, *body.get(4)?]));
            return Some(String::from_utf8_lossy(body.get(5..5 + n)?).into_owned());
        }
        p += 4 + len;
    }
    None
}

struct FlowState {
    client: Endpoint,
    tracker: QuicClientTracker,
}

#[derive(Default, Debug)]
struct CaptureResult {
    quic_flows: usize,
    client_hellos: usize,
    names: BTreeMap<Kind, BTreeSet<String>>,
    versions: BTreeSet<String>,
    anomalies: BTreeSet<&'static str>,
    failures: Vec<String>,
}

fn run_capture(path: &Path) -> CaptureResult {
    let mut res = CaptureResult::default();
    let Ok(mut file) = CaptureFile::open(path) else {
        return res;
    };
    let mut flows: HashMap<(Endpoint, Endpoint), FlowState> = HashMap::new();
    let mut block = Block::default();
    // A damaged file yields what was read before the damage, like tshark.
    while let Ok(true) = file.fill(&mut block, 1 << 20) {
        for meta in &block.packets {
            let Some(d) = decode(meta.linktype, block.bytes(meta)) else {
                continue;
            };
            let key = if d.src <= d.dst {
                (d.src, d.dst)
            } else {
                (d.dst, d.src)
            };
            let flow = match flows.entry(key) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    if !is_client_first(d.payload) {
                        continue;
                    }
                    res.quic_flows += 1;
                    e.insert(FlowState {
                        client: d.src,
                        tracker: QuicClientTracker::default(),
                    })
                }
            };
            if flow.tracker.is_finished() {
                continue;
            }
            let progress = if d.src == flow.client {
                flow.tracker.push_client_datagram(d.payload)
            } else {
                flow.tracker.push_server_datagram(d.payload)
            };
            res.anomalies.extend(flow.tracker.anomalies().names());
            if let Some(v) = flow.tracker.version() {
                res.versions
                    .insert(phonehome::dissect::quic::version_name(v));
            }
            match progress {
                Progress::ClientHello { msg, .. } => {
                    res.client_hellos += 1;
                    if let Some(sni) = sni_of_client_hello(&msg) {
                        res.names.entry(Kind::Tls).or_default().insert(sni);
                    }
                }
                Progress::GoogleChlo { chlo, .. } => {
                    res.client_hellos += 1;
                    if let Some(sni) = chlo.sni {
                        res.names.entry(Kind::Google).or_default().insert(sni);
                    }
                }
                Progress::Failed(e) => res.failures.push(format!(
                    "{}:{} {e} [{}]",
                    flow.client.0,
                    flow.client.1,
                    flow.tracker
                        .anomalies()
                        .names()
                        .collect::<Vec<_>>()
                        .join(",")
                )),
                _ => {}
            }
        }
    }
    res
}

fn oracle(shared: &Path, rel: &str, suffix: &str) -> BTreeSet<String> {
    let p = shared.join("oracle").join(format!("{rel}{suffix}"));
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("oracle {} unreadable: {e}", p.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn sni_matches_tshark_on_every_quic_capture() {
    let shared = shared();
    let manifest = std::fs::read_to_string(shared.join("captures/MANIFEST.tsv")).unwrap();
    let captures: Vec<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|f| !f.is_empty())
        .collect();
    assert!(captures.len() > 300, "manifest lists {}", captures.len());

    let exceptions: BTreeMap<(&str, Kind), BTreeSet<String>> = EXCEPTIONS
        .iter()
        .map(|(f, k, names, _)| ((*f, *k), names.iter().map(|s| s.to_string()).collect()))
        .collect();
    let mut used_exceptions = BTreeSet::new();
    let mut hello_without_sni = BTreeSet::new();
    let mut problems = Vec::new();
    let mut summary = Vec::new();
    let (mut quic_captures, mut tshark_captures, mut matched) = (0, 0, 0);

    for rel in &captures {
        let res = run_capture(&shared.join("captures").join(rel));
        for (kind, suffix) in [
            (Kind::Tls, ".quic-sni.txt"),
            (Kind::Google, ".gquic-sni.txt"),
        ] {
            let want = oracle(&shared, rel, suffix);
            let got = res.names.get(&kind).cloned().unwrap_or_default();
            let extra = exceptions.get(&(*rel, kind)).cloned().unwrap_or_default();
            if !extra.is_empty() {
                used_exceptions.insert((*rel, kind));
            }
            let expected: BTreeSet<String> = want.union(&extra).cloned().collect();
            if !want.is_empty() {
                tshark_captures += 1;
                if want.is_subset(&got) {
                    matched += 1;
                }
            }
            if got != expected {
                problems.push(format!(
                    "{rel} {kind:?}: got {got:?}, tshark {want:?}, listed extras {extra:?}; failures {:?}",
                    res.failures
                ));
            }
        }
        if res.client_hellos > 0 && res.names.is_empty() {
            hello_without_sni.insert(*rel);
        }
        if res.quic_flows > 0 {
            quic_captures += 1;
            summary.push(format!(
                "{rel}: flows {} hellos {} versions {:?} sni {:?} anomalies {:?} failures {:?}",
                res.quic_flows,
                res.client_hellos,
                res.versions,
                res.names,
                res.anomalies,
                res.failures
            ));
        }
    }
    for line in &summary {
        println!("{line}");
    }
    println!(
        "QUIC captures: {quic_captures}; captures with a tshark QUIC/gQUIC SNI list: \
         {tshark_captures}, all found in {matched}"
    );
    let listed: BTreeSet<&str> = HELLO_WITHOUT_SNI.iter().map(|(f, _)| *f).collect();
    if hello_without_sni != listed {
        problems.push(format!(
            "captures with hellos but no SNI: {hello_without_sni:?}, listed {listed:?}"
        ));
    }
    for (f, k, _, _) in EXCEPTIONS {
        if !used_exceptions.contains(&(*f, *k)) {
            problems.push(format!("exception for {f} {k:?} is unused"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
