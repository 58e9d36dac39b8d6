//! Ethernet frames for the demo scene, built with etherparse's PacketBuilder (which computes
//! lengths and checksums), plus the few things it does not do: IPv4 fragmentation and VXLAN.

use crate::GenError;
use etherparse::{
    IpFragOffset, IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder,
    PacketBuilderStep, TcpOptionElement, VlanId,
};
use std::net::IpAddr;

/// 802.1Q tags on the capture link: none, one (C-tag), or QinQ (S-tag 0x88a8 + C-tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vlan {
    None,
    Single(u16),
    Double(u16, u16),
}

impl Vlan {
    pub fn ids(&self) -> Vec<u16> {
        match *self {
            Vlan::None => vec![],
            Vlan::Single(v) => vec![v],
            Vlan::Double(o, i) => vec![o, i],
        }
    }

    pub fn header_len(&self) -> usize {
        14 + 4 * self.ids().len()
    }
}

/// Link and network addressing of one direction of a packet.
#[derive(Clone, Copy, Debug)]
pub struct Hop {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub vlan: Vlan,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6).
    pub ip_id: u16,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

fn bad(e: impl std::fmt::Display) -> GenError {
    GenError::Build(e.to_string())
}

fn ip_step(h: &Hop) -> Result<PacketBuilderStep<IpHeaders>, GenError> {
    let ip = match (h.src, h.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut v4 =
                Ipv4Header::new(0, h.ttl, IpNumber::UDP, s.octets(), d.octets()).map_err(bad)?;
            v4.identification = h.ip_id;
            v4.dont_fragment = true;
            IpHeaders::Ipv4(v4, Default::default())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::try_new(u32::from(h.ip_id) & 0xfffff).map_err(bad)?,
                payload_length: 0,
                next_header: IpNumber::UDP,
                hop_limit: h.ttl,
                source: s.octets(),
                destination: d.octets(),
            },
            Default::default(),
        ),
        _ => return Err(GenError::Build("mixed address families".into())),
    };
    let eth = PacketBuilder::ethernet2(h.src_mac, h.dst_mac);
    Ok(match h.vlan {
        Vlan::None => eth.ip(ip),
        Vlan::Single(v) => eth.single_vlan(VlanId::try_new(v).map_err(bad)?).ip(ip),
        Vlan::Double(o, i) => eth
            .double_vlan(
                VlanId::try_new(o).map_err(bad)?,
                VlanId::try_new(i).map_err(bad)?,
            )
            .ip(ip),
    })
}

#[allow(clippy::too_many_arguments)]
pub fn tcp(
    h: &Hop,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    syn_options: bool,
    payload: &[u8],
) -> Result<Vec<u8>, GenError> {
    let mut b = ip_step(h)?.tcp(sport, dport, seq, window);
    if flags.syn {
        b = b.syn();
    }
    if flags.ack {
        b = b.ack(ack);
    }
    if flags.fin {
        b = b.fin();
    }
    if flags.rst {
        b = b.rst();
    }
    if flags.psh {
        b = b.psh();
    }
    if syn_options {
        b = b
            .options(&[
                TcpOptionElement::MaximumSegmentSize(if h.src.is_ipv4() { 1460 } else { 1440 }),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(8),
                TcpOptionElement::Noop,
                TcpOptionElement::Noop,
                TcpOptionElement::SelectiveAcknowledgementPermitted,
            ])
            .map_err(bad)?;
    }
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).map_err(bad)?;
    Ok(v)
}

pub fn udp(h: &Hop, sport: u16, dport: u16, payload: &[u8]) -> Result<Vec<u8>, GenError> {
    let b = ip_step(h)?.udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).map_err(bad)?;
    Ok(v)
}

pub fn icmp_echo(
    h: &Hop,
    reply: bool,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Result<Vec<u8>, GenError> {
    let step = ip_step(h)?;
    let mut v = Vec::with_capacity(128);
    match (h.src, reply) {
        (IpAddr::V4(_), false) => step.icmpv4_echo_request(id, seq).write(&mut v, payload),
        (IpAddr::V4(_), true) => step.icmpv4_echo_reply(id, seq).write(&mut v, payload),
        (IpAddr::V6(_), false) => step.icmpv6_echo_request(id, seq).write(&mut v, payload),
        (IpAddr::V6(_), true) => step.icmpv6_echo_reply(id, seq).write(&mut v, payload),
    }
    .map_err(bad)?;
    Ok(v)
}

/// An ARP request (`target_mac` zero) or reply, padded to the 60-byte Ethernet minimum.
pub fn arp(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    vlan: Vlan,
    reply: bool,
    sender: ([u8; 6], [u8; 4]),
    target: ([u8; 6], [u8; 4]),
) -> Result<Vec<u8>, GenError> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&dst_mac);
    v.extend_from_slice(&src_mac);
    match vlan {
        Vlan::None => {}
        Vlan::Single(id) => {
            v.extend_from_slice(&[0x81, 0x00]);
            v.extend_from_slice(&id.to_be_bytes());
        }
        Vlan::Double(o, i) => {
            v.extend_from_slice(&[0x88, 0xa8]);
            v.extend_from_slice(&o.to_be_bytes());
            v.extend_from_slice(&[0x81, 0x00]);
            v.extend_from_slice(&i.to_be_bytes());
        }
    }
    v.extend_from_slice(&[
        0x08,
        0x06,
        0,
        1,
        0x08,
        0,
        6,
        4,
        0,
        if reply { 2 } else { 1 },
    ]);
    v.extend_from_slice(&sender.0);
    v.extend_from_slice(&sender.1);
    v.extend_from_slice(&target.0);
    v.extend_from_slice(&target.1);
    let min = 60 + 4 * vlan.ids().len();
    if v.len() < min {
        v.resize(min, 0);
    }
    Ok(v)
}

/// Splits an IPv4 frame into fragments whose IP payloads are at most `max_payload` bytes
/// (a multiple of 8). The link header is copied into every fragment.
pub fn fragment_ipv4(
    frame: &[u8],
    vlan: Vlan,
    max_payload: usize,
) -> Result<Vec<Vec<u8>>, GenError> {
    let l2 = vlan.header_len();
    let l2_hdr = frame.get(..l2).ok_or_else(|| bad("short frame"))?;
    let ip = frame.get(l2..).ok_or_else(|| bad("short frame"))?;
    let (hdr, payload) = Ipv4Header::from_slice(ip).map_err(bad)?;
    let step = max_payload / 8 * 8;
    if step == 0 {
        return Err(bad("fragment size too small"));
    }
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> = payload.chunks(step).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut h = hdr.clone();
        h.dont_fragment = false;
        h.more_fragments = i + 1 < chunks.len();
        h.fragment_offset = IpFragOffset::try_new((i * step / 8) as u16).map_err(bad)?;
        h.set_payload_len(chunk.len()).map_err(bad)?;
        let mut f = l2_hdr.to_vec();
        h.write(&mut f).map_err(bad)?;
        f.extend_from_slice(chunk);
        out.push(f);
    }
    Ok(out)
}

/// VXLAN header (RFC 7348) with the I flag and the given VNI, followed by the inner frame.
pub fn vxlan_payload(vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(inner.len() + 8);
    v.extend_from_slice(&[0x08, 0, 0, 0]);
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(inner);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use std::net::Ipv4Addr;

    fn hop(vlan: Vlan) -> Hop {
        Hop {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            vlan,
            src: IpAddr::V4(Ipv4Addr::new(10, 1, 20, 21)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
            ttl: 64,
            ip_id: 77,
        }
    }

    #[test]
    fn qinq_tcp_frame_parses_back() {
        let f = tcp(
            &hop(Vlan::Double(100, 20)),
            50000,
            443,
            1,
            0,
            TcpFlags {
                syn: true,
                ..Default::default()
            },
            64240,
            true,
            &[],
        )
        .unwrap();
        assert_eq!(&f[12..14], &[0x88, 0xa8]);
        assert_eq!(&f[16..18], &[0x81, 0x00]);
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!()
        };
        assert!(t.syn());
        assert_eq!(t.destination_port(), 443);
    }

    #[test]
    fn fragments_reassemble_to_the_original_payload() {
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let f = udp(&hop(Vlan::Single(10)), 53, 40000, &payload).unwrap();
        let frags = fragment_ipv4(&f, Vlan::Single(10), 1480).unwrap();
        assert_eq!(frags.len(), 3);
        let mut joined = Vec::new();
        for (i, fr) in frags.iter().enumerate() {
            let p = SlicedPacket::from_ethernet(fr).unwrap();
            let Some(NetSlice::Ipv4(ip)) = p.net else {
                panic!()
            };
            let h = ip.header();
            assert_eq!(h.identification(), 77);
            assert_eq!(h.more_fragments(), i < 2);
            assert_eq!(usize::from(h.fragments_offset().value()) * 8, i * 1480);
            assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
            joined.extend_from_slice(ip.payload().payload);
        }
        // the first fragment carries the UDP header
        assert_eq!(&joined[8..], payload.as_slice());
    }

    #[test]
    fn arp_is_padded() {
        let f = arp(
            [2; 6],
            [0xff; 6],
            Vlan::Single(10),
            false,
            ([2; 6], [10, 1, 10, 11]),
            ([0; 6], [10, 1, 10, 1]),
        )
        .unwrap();
        assert_eq!(f.len(), 64);
        assert_eq!(&f[16..18], &[0x08, 0x06]);
    }
}
