//! Decoder counters and the reasons a packet is rejected.
//!
//! Counters live in a fixed array indexed by [`Counter`], so counting on the hot
//! path is one add. Names follow Suricata's `stats.decoder` (and `stats.defrag`)
//! wherever Suricata has one, so the EVE output validates against its schema;
//! everything else goes under `stats.phonehome.decoder`.

use serde_json::{Map, Value};

/// Where a counter is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    /// `stats.decoder.<path>` (Suricata name).
    Suricata,
    /// `stats.phonehome.decoder.<path>` (no Suricata name).
    Phonehome,
    /// `stats.defrag.<path>` (Suricata name).
    Defrag,
}

macro_rules! counters {
    ($( $variant:ident => $dest:ident $path:literal, )*) => {
        /// One decoder counter. See [`DecodeStats::get`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Counter { $($variant,)* }

        const META: &[(Dest, &str)] = &[$((Dest::$dest, $path),)*];

        impl Counter {
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];
        }
    };
}

counters! {
    // Layers (Suricata `stats.decoder`).
    Ethernet => Suricata "ethernet",
    Sll => Suricata "sll",
    Sll2 => Suricata "sll2",
    Null => Suricata "null",
    Raw => Suricata "raw",
    Ppp => Suricata "ppp",
    Pppoe => Suricata "pppoe",
    Chdlc => Suricata "chdlc",
    Mpls => Suricata "mpls",
    Vlan => Suricata "vlan",
    VlanQinq => Suricata "vlan_qinq",
    VlanQinqinq => Suricata "vlan_qinqinq",
    Ieee8021ah => Suricata "ieee8021ah",
    Vntag => Suricata "vntag",
    Etag => Suricata "etag",
    Arp => Suricata "arp",
    Ipv4 => Suricata "ipv4",
    Ipv6 => Suricata "ipv6",
    Tcp => Suricata "tcp",
    Udp => Suricata "udp",
    Icmpv4 => Suricata "icmpv4",
    Icmpv6 => Suricata "icmpv6",
    Sctp => Suricata "sctp",
    Esp => Suricata "esp",
    Igmp => Suricata "igmp",
    Gre => Suricata "gre",
    Erspan => Suricata "erspan",
    Vxlan => Suricata "vxlan",
    Geneve => Suricata "geneve",
    Teredo => Suricata "teredo",
    Ipv4InIpv4 => Suricata "ipv4_in_ipv4",
    Ipv6InIpv4 => Suricata "ipv6_in_ipv4",
    Ipv4InIpv6 => Suricata "ipv4_in_ipv6",
    Ipv6InIpv6 => Suricata "ipv6_in_ipv6",
    UnknownEthertype => Suricata "unknown_ethertype",
    Invalid => Suricata "invalid",
    TooManyLayers => Suricata "too_many_layers",

    // Decoder events (Suricata `stats.decoder.event.*`).
    EthernetPktTooSmall => Suricata "event.ethernet.pkt_too_small",
    EthernetUnknownEthertype => Suricata "event.ethernet.unknown_ethertype",
    VlanHeaderTooSmall => Suricata "event.vlan.header_too_small",
    VlanTooManyLayers => Suricata "event.vlan.too_many_layers",
    VlanUnknownType => Suricata "event.vlan.unknown_type",
    Ieee8021ahHeaderTooSmall => Suricata "event.ieee8021ah.header_too_small",
    VntagHeaderTooSmall => Suricata "event.vntag.header_too_small",
    EtagHeaderTooSmall => Suricata "event.etag.header_too_small",
    MplsHeaderTooSmall => Suricata "event.mpls.header_too_small",
    MplsPktTooSmall => Suricata "event.mpls.pkt_too_small",
    MplsUnknownPayloadType => Suricata "event.mpls.unknown_payload_type",
    PppoePktTooSmall => Suricata "event.pppoe.pkt_too_small",
    PppPktTooSmall => Suricata "event.ppp.pkt_too_small",
    PppIp4PktTooSmall => Suricata "event.ppp.ip4_pkt_too_small",
    PppIp6PktTooSmall => Suricata "event.ppp.ip6_pkt_too_small",
    PppUnsupProto => Suricata "event.ppp.unsup_proto",
    SllPktTooSmall => Suricata "event.sll.pkt_too_small",
    Sll2PktTooSmall => Suricata "event.sll2.pkt_too_small",
    LtnullPktTooSmall => Suricata "event.ltnull.pkt_too_small",
    LtnullUnsupportedType => Suricata "event.ltnull.unsupported_type",
    ChdlcPktTooSmall => Suricata "event.chdlc.pkt_too_small",
    IprawInvalidIpVersion => Suricata "event.ipraw.invalid_ip_version",
    Ipv4PktTooSmall => Suricata "event.ipv4.pkt_too_small",
    Ipv4HlenTooSmall => Suricata "event.ipv4.hlen_too_small",
    Ipv4IplenSmallerThanHlen => Suricata "event.ipv4.iplen_smaller_than_hlen",
    Ipv4TruncPkt => Suricata "event.ipv4.trunc_pkt",
    Ipv4WrongIpVersion => Suricata "event.ipv4.wrong_ip_version",
    Ipv4Icmpv6 => Suricata "event.ipv4.icmpv6",
    Ipv4FragOverlap => Suricata "event.ipv4.frag_overlap",
    Ipv4FragPktTooLarge => Suricata "event.ipv4.frag_pkt_too_large",
    Ipv4FragIgnored => Suricata "event.ipv4.frag_ignored",
    Ipv6PktTooSmall => Suricata "event.ipv6.pkt_too_small",
    Ipv6TruncPkt => Suricata "event.ipv6.trunc_pkt",
    Ipv6TruncExthdr => Suricata "event.ipv6.trunc_exthdr",
    Ipv6WrongIpVersion => Suricata "event.ipv6.wrong_ip_version",
    Ipv6Icmpv4 => Suricata "event.ipv6.icmpv4",
    Ipv6FragOverlap => Suricata "event.ipv6.frag_overlap",
    Ipv6FragPktTooLarge => Suricata "event.ipv6.frag_pkt_too_large",
    Ipv6FragIgnored => Suricata "event.ipv6.frag_ignored",
    Ipv6FragInvalidLength => Suricata "event.ipv6.frag_invalid_length",
    Ipv6DataAfterNoneHeader => Suricata "event.ipv6.data_after_none_header",
    Ipv4InIpv6TooSmall => Suricata "event.ipv6.ipv4_in_ipv6_too_small",
    Ipv4InIpv6WrongVersion => Suricata "event.ipv6.ipv4_in_ipv6_wrong_version",
    Ipv6InIpv6TooSmall => Suricata "event.ipv6.ipv6_in_ipv6_too_small",
    Ipv6InIpv6WrongVersion => Suricata "event.ipv6.ipv6_in_ipv6_wrong_version",
    TcpPktTooSmall => Suricata "event.tcp.pkt_too_small",
    TcpHlenTooSmall => Suricata "event.tcp.hlen_too_small",
    UdpHlenTooSmall => Suricata "event.udp.hlen_too_small",
    UdpPktTooSmall => Suricata "event.udp.pkt_too_small",
    UdpLenInvalid => Suricata "event.udp.len_invalid",
    Icmpv4PktTooSmall => Suricata "event.icmpv4.pkt_too_small",
    Icmpv6PktTooSmall => Suricata "event.icmpv6.pkt_too_small",
    GrePktTooSmall => Suricata "event.gre.pkt_too_small",
    GreWrongVersion => Suricata "event.gre.wrong_version",
    GreV0Recur => Suricata "event.gre.version0_recur",
    GreV0Flags => Suricata "event.gre.version0_flags",
    GreV0HdrTooBig => Suricata "event.gre.version0_hdr_too_big",
    GreV0MalformedSreHdr => Suricata "event.gre.version0_malformed_sre_hdr",
    GreV1Chksum => Suricata "event.gre.version1_chksum",
    GreV1Route => Suricata "event.gre.version1_route",
    GreV1Ssr => Suricata "event.gre.version1_ssr",
    GreV1Recur => Suricata "event.gre.version1_recur",
    GreV1Flags => Suricata "event.gre.version1_flags",
    GreV1WrongProtocol => Suricata "event.gre.version1_wrong_protocol",
    GreV1NoKey => Suricata "event.gre.version1_no_key",
    GreV1HdrTooBig => Suricata "event.gre.version1_hdr_too_big",
    ErspanHeaderTooSmall => Suricata "event.erspan.header_too_small",
    ErspanUnsupportedVersion => Suricata "event.erspan.unsupported_version",
    VxlanUnknownPayloadType => Suricata "event.vxlan.unknown_payload_type",
    GeneveUnknownPayloadType => Suricata "event.geneve.unknown_payload_type",

    // Layers and events Suricata has no name for.
    Nflog => Phonehome "nflog",
    Pktap => Phonehome "pktap",
    FabricPath => Phonehome "fabricpath",
    Ieee80211 => Phonehome "ieee80211",
    LlcSnap => Phonehome "llc_snap",
    Gtpu => Phonehome "gtpu",
    Ayiya => Phonehome "ayiya",
    MplsOverUdp => Phonehome "mpls_over_udp",
    GreOverUdp => Phonehome "gre_over_udp",
    MplsInIp => Phonehome "mpls_in_ip",
    NflogPktTooSmall => Phonehome "event.nflog.pkt_too_small",
    PktapPktTooSmall => Phonehome "event.pktap.pkt_too_small",
    FabricPathPktTooSmall => Phonehome "event.fabricpath.pkt_too_small",
    Ieee80211PktTooSmall => Phonehome "event.ieee80211.pkt_too_small",
    VxlanHeaderTooSmall => Phonehome "event.vxlan.header_too_small",
    GeneveHeaderTooSmall => Phonehome "event.geneve.header_too_small",
    GtpuHeaderTooSmall => Phonehome "event.gtpu.header_too_small",
    AyiyaHeaderTooSmall => Phonehome "event.ayiya.header_too_small",
    ErspanUnknownFrameType => Phonehome "event.erspan.unknown_frame_type",
    Ipv4TsoZeroLength => Phonehome "event.ipv4.tso_zero_length",
    Ipv6ZeroPayloadLength => Phonehome "event.ipv6.zero_payload_length",
    TunnelNotIp => Phonehome "tunnel_not_ip",
    IprawLinktypeMismatch => Phonehome "event.ipraw.linktype_version_mismatch",
    TunnelIpWrongVersion => Phonehome "event.tunnel.ip_wrong_version",

    // Reassembly (Suricata `stats.defrag`).
    DefragIpv4Fragments => Defrag "ipv4.fragments",
    DefragIpv4Reassembled => Defrag "ipv4.reassembled",
    DefragIpv4Timeouts => Defrag "ipv4.timeouts",
    DefragIpv6Fragments => Defrag "ipv6.fragments",
    DefragIpv6Reassembled => Defrag "ipv6.reassembled",
    DefragIpv6Timeouts => Defrag "ipv6.timeouts",
    DefragMaxTrackersReached => Defrag "max_trackers_reached",
    DefragMaxFragsReached => Defrag "max_frags_reached",
    // Reassembly drops Suricata has no counter for.
    DefragConflictingEnd => Phonehome "defrag.conflicting_end",
    DefragUnalignedLength => Phonehome "defrag.unaligned_length",
    DefragBeyondEnd => Phonehome "defrag.beyond_end",
    DefragMemcap => Phonehome "defrag.memcap_reached",
    DefragNotAFragment => Phonehome "defrag.not_a_fragment",
    DefragDroppedFragments => Phonehome "defrag.dropped_fragments",
    DefragDroppedBytes => Phonehome "defrag.dropped_bytes",
}

const N: usize = Counter::ALL.len();

/// Distinct unsupported link types remembered by number; the rest are summed.
const MAX_LINK_TYPES: usize = 32;

/// Counters of one decoding thread. Merge them with [`DecodeStats::merge`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeStats {
    counts: [u64; N],
    /// Packets of each unsupported link type, by number (bounded).
    unsupported_link: Vec<(u16, u64)>,
    /// Unsupported-link packets whose type did not fit in `unsupported_link`.
    unsupported_link_other: u64,
}

impl Default for DecodeStats {
    fn default() -> Self {
        Self::new()
    }
}

impl DecodeStats {
    pub fn new() -> Self {
        DecodeStats {
            counts: [0; N],
            unsupported_link: Vec::new(),
            unsupported_link_other: 0,
        }
    }

    /// Value of one counter.
    pub fn get(&self, c: Counter) -> u64 {
        self.counts.get(c as usize).copied().unwrap_or(0)
    }

    /// Packets seen with unsupported link type `lt`.
    pub fn unsupported_link(&self, lt: u16) -> u64 {
        self.unsupported_link
            .iter()
            .find(|(t, _)| *t == lt)
            .map_or(0, |(_, n)| *n)
    }

    #[inline]
    pub(crate) fn inc(&mut self, c: Counter) {
        self.add(c, 1);
    }

    #[inline]
    pub(crate) fn add(&mut self, c: Counter, n: u64) {
        if let Some(v) = self.counts.get_mut(c as usize) {
            *v = v.wrapping_add(n);
        }
    }

    pub(crate) fn count_unsupported_link(&mut self, lt: u16, n: u64) {
        if let Some(e) = self.unsupported_link.iter_mut().find(|(t, _)| *t == lt) {
            e.1 += n;
        } else if self.unsupported_link.len() < MAX_LINK_TYPES {
            self.unsupported_link.push((lt, n));
        } else {
            self.unsupported_link_other += n;
        }
    }

    pub fn merge(&mut self, other: &DecodeStats) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.wrapping_add(*b);
        }
        for &(lt, n) in &other.unsupported_link {
            self.count_unsupported_link(lt, n);
        }
        self.unsupported_link_other += other.unsupported_link_other;
    }

    /// `(stats.decoder, stats.phonehome.decoder)`.
    ///
    /// The first holds only names from Suricata's EVE schema (`pkts`, `bytes`,
    /// `avg_pkt_size` and `max_pkt_size` are the engine's to add). The second
    /// holds the rest: unsupported link types by number, layers and reasons
    /// Suricata has no name for, and reassembly drops without a Suricata counter.
    pub fn to_eve(&self) -> (Value, Value) {
        let mut sur = Map::new();
        let mut ph = Map::new();
        for (&c, &(dest, path)) in Counter::ALL.iter().zip(META.iter()) {
            match dest {
                Dest::Suricata => insert_path(&mut sur, path, self.get(c)),
                Dest::Phonehome => insert_path(&mut ph, path, self.get(c)),
                Dest::Defrag => {}
            }
        }
        let mut links = Map::new();
        let mut sorted = self.unsupported_link.clone();
        sorted.sort_unstable();
        for (lt, n) in sorted {
            links.insert(lt.to_string(), Value::from(n));
        }
        if self.unsupported_link_other > 0 {
            links.insert("other".into(), Value::from(self.unsupported_link_other));
        }
        ph.insert("unsupported_link_type".into(), Value::Object(links));
        (Value::Object(sur), Value::Object(ph))
    }

    /// `stats.defrag` (Suricata names; `memuse` and the manager counters are not kept).
    pub fn to_eve_defrag(&self) -> Value {
        let mut m = Map::new();
        for (&c, &(dest, path)) in Counter::ALL.iter().zip(META.iter()) {
            if dest == Dest::Defrag {
                insert_path(&mut m, path, self.get(c));
            }
        }
        Value::Object(m)
    }
}

/// Inserts `v` at the dotted `path` below `m`, creating objects on the way.
fn insert_path(m: &mut Map<String, Value>, path: &str, v: u64) {
    match path.split_once('.') {
        None => {
            m.insert(path.to_string(), Value::from(v));
        }
        Some((head, rest)) => {
            let child = m
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(cm) = child {
                insert_path(cm, rest, v);
            }
        }
    }
}

/// Why a frame was rejected. Each maps to the counter it increments (see
/// [`Invalid::counter`]), named after Suricata's decoder event when it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("ethernet header truncated")]
    EthernetPktTooSmall,
    #[error("VLAN header truncated")]
    VlanHeaderTooSmall,
    #[error("more than 3 VLAN tags")]
    VlanTooManyLayers,
    #[error("802.1ah header truncated")]
    Ieee8021ahHeaderTooSmall,
    #[error("VN-Tag header truncated")]
    VntagHeaderTooSmall,
    #[error("E-Tag header truncated")]
    EtagHeaderTooSmall,
    #[error("Cisco FabricPath header truncated")]
    FabricPathPktTooSmall,
    #[error("MPLS label stack truncated")]
    MplsHeaderTooSmall,
    #[error("MPLS payload too small")]
    MplsPktTooSmall,
    #[error("MPLS payload of unknown type")]
    MplsUnknownPayloadType,
    #[error("PPPoE header truncated")]
    PppoePktTooSmall,
    #[error("PPP header truncated")]
    PppPktTooSmall,
    #[error("PPP IPv4 payload too small")]
    PppIp4PktTooSmall,
    #[error("PPP IPv6 payload too small")]
    PppIp6PktTooSmall,
    #[error("Linux cooked (SLL) header truncated")]
    SllPktTooSmall,
    #[error("Linux cooked (SLL2) header truncated")]
    Sll2PktTooSmall,
    #[error("BSD loopback header truncated")]
    LtnullPktTooSmall,
    #[error("Cisco HDLC header truncated")]
    ChdlcPktTooSmall,
    #[error("NFLOG header or TLV truncated")]
    NflogPktTooSmall,
    #[error("PKTAP header truncated")]
    PktapPktTooSmall,
    #[error("802.11 header truncated")]
    Ieee80211PktTooSmall,
    #[error("raw IP with a version other than 4 or 6")]
    IprawInvalidIpVersion,
    #[error("IPv4 header truncated")]
    Ipv4PktTooSmall,
    #[error("IPv4 header length too small or beyond the data")]
    Ipv4HlenTooSmall,
    #[error("IPv4 total length smaller than its header")]
    Ipv4IplenSmallerThanHlen,
    #[error("not an IPv4 header")]
    Ipv4WrongIpVersion,
    #[error("IPv6 header truncated")]
    Ipv6PktTooSmall,
    #[error("IPv6 extension header truncated")]
    Ipv6TruncExthdr,
    #[error("not an IPv6 header")]
    Ipv6WrongIpVersion,
    #[error("IPv4-in-IPv6 payload too small")]
    Ipv4InIpv6TooSmall,
    #[error("IPv4-in-IPv6 payload is not IPv4")]
    Ipv4InIpv6WrongVersion,
    #[error("IPv6-in-IPv6 payload too small")]
    Ipv6InIpv6TooSmall,
    #[error("IPv6-in-IPv6 payload is not IPv6")]
    Ipv6InIpv6WrongVersion,
    #[error("tunnelled IP packet of an unexpected version")]
    TunnelIpWrongVersion,
    #[error("TCP header truncated")]
    TcpPktTooSmall,
    #[error("TCP header length too small or beyond the data")]
    TcpHlenTooSmall,
    #[error("UDP header truncated")]
    UdpHlenTooSmall,
    #[error("UDP length smaller than its header")]
    UdpLenInvalid,
    #[error("ICMPv4 header truncated")]
    Icmpv4PktTooSmall,
    #[error("ICMPv6 header truncated")]
    Icmpv6PktTooSmall,
    #[error("GRE header truncated")]
    GrePktTooSmall,
    #[error("GRE version other than 0 or 1")]
    GreWrongVersion,
    #[error("GRE v0 with recursion control")]
    GreV0Recur,
    #[error("GRE v0 with reserved flags")]
    GreV0Flags,
    #[error("GRE v0 header beyond the data")]
    GreV0HdrTooBig,
    #[error("GRE v0 malformed source route entry")]
    GreV0MalformedSreHdr,
    #[error("GRE v1 with checksum flag")]
    GreV1Chksum,
    #[error("GRE v1 with routing flag")]
    GreV1Route,
    #[error("GRE v1 with strict source route flag")]
    GreV1Ssr,
    #[error("GRE v1 with recursion control")]
    GreV1Recur,
    #[error("GRE v1 with reserved flags")]
    GreV1Flags,
    #[error("GRE v1 not carrying PPP")]
    GreV1WrongProtocol,
    #[error("GRE v1 without key")]
    GreV1NoKey,
    #[error("GRE v1 header beyond the data")]
    GreV1HdrTooBig,
    #[error("ERSPAN header truncated")]
    ErspanHeaderTooSmall,
    #[error("ERSPAN version not supported")]
    ErspanUnsupportedVersion,
    #[error("ERSPAN frame type not supported")]
    ErspanUnknownFrameType,
    #[error("VXLAN header truncated")]
    VxlanHeaderTooSmall,
    #[error("Geneve header or options truncated")]
    GeneveHeaderTooSmall,
    #[error("GTP-U header truncated")]
    GtpuHeaderTooSmall,
    #[error("AYIYA header truncated")]
    AyiyaHeaderTooSmall,
    #[error("too many nested layers")]
    TooManyLayers,
}

impl Invalid {
    /// The counter this reason increments (besides `invalid`).
    pub fn counter(self) -> Counter {
        use Invalid as I;
        match self {
            I::EthernetPktTooSmall => Counter::EthernetPktTooSmall,
            I::VlanHeaderTooSmall => Counter::VlanHeaderTooSmall,
            I::VlanTooManyLayers => Counter::VlanTooManyLayers,
            I::Ieee8021ahHeaderTooSmall => Counter::Ieee8021ahHeaderTooSmall,
            I::VntagHeaderTooSmall => Counter::VntagHeaderTooSmall,
            I::EtagHeaderTooSmall => Counter::EtagHeaderTooSmall,
            I::FabricPathPktTooSmall => Counter::FabricPathPktTooSmall,
            I::MplsHeaderTooSmall => Counter::MplsHeaderTooSmall,
            I::MplsPktTooSmall => Counter::MplsPktTooSmall,
            I::MplsUnknownPayloadType => Counter::MplsUnknownPayloadType,
            I::PppoePktTooSmall => Counter::PppoePktTooSmall,
            I::PppPktTooSmall => Counter::PppPktTooSmall,
            I::PppIp4PktTooSmall => Counter::PppIp4PktTooSmall,
            I::PppIp6PktTooSmall => Counter::PppIp6PktTooSmall,
            I::SllPktTooSmall => Counter::SllPktTooSmall,
            I::Sll2PktTooSmall => Counter::Sll2PktTooSmall,
            I::LtnullPktTooSmall => Counter::LtnullPktTooSmall,
            I::ChdlcPktTooSmall => Counter::ChdlcPktTooSmall,
            I::NflogPktTooSmall => Counter::NflogPktTooSmall,
            I::PktapPktTooSmall => Counter::PktapPktTooSmall,
            I::Ieee80211PktTooSmall => Counter::Ieee80211PktTooSmall,
            I::IprawInvalidIpVersion => Counter::IprawInvalidIpVersion,
            I::Ipv4PktTooSmall => Counter::Ipv4PktTooSmall,
            I::Ipv4HlenTooSmall => Counter::Ipv4HlenTooSmall,
            I::Ipv4IplenSmallerThanHlen => Counter::Ipv4IplenSmallerThanHlen,
            I::Ipv4WrongIpVersion => Counter::Ipv4WrongIpVersion,
            I::Ipv6PktTooSmall => Counter::Ipv6PktTooSmall,
            I::Ipv6TruncExthdr => Counter::Ipv6TruncExthdr,
            I::Ipv6WrongIpVersion => Counter::Ipv6WrongIpVersion,
            I::Ipv4InIpv6TooSmall => Counter::Ipv4InIpv6TooSmall,
            I::Ipv4InIpv6WrongVersion => Counter::Ipv4InIpv6WrongVersion,
            I::Ipv6InIpv6TooSmall => Counter::Ipv6InIpv6TooSmall,
            I::Ipv6InIpv6WrongVersion => Counter::Ipv6InIpv6WrongVersion,
            I::TunnelIpWrongVersion => Counter::TunnelIpWrongVersion,
            I::TcpPktTooSmall => Counter::TcpPktTooSmall,
            I::TcpHlenTooSmall => Counter::TcpHlenTooSmall,
            I::UdpHlenTooSmall => Counter::UdpHlenTooSmall,
            I::UdpLenInvalid => Counter::UdpLenInvalid,
            I::Icmpv4PktTooSmall => Counter::Icmpv4PktTooSmall,
            I::Icmpv6PktTooSmall => Counter::Icmpv6PktTooSmall,
            I::GrePktTooSmall => Counter::GrePktTooSmall,
            I::GreWrongVersion => Counter::GreWrongVersion,
            I::GreV0Recur => Counter::GreV0Recur,
            I::GreV0Flags => Counter::GreV0Flags,
            I::GreV0HdrTooBig => Counter::GreV0HdrTooBig,
            I::GreV0MalformedSreHdr => Counter::GreV0MalformedSreHdr,
            I::GreV1Chksum => Counter::GreV1Chksum,
            I::GreV1Route => Counter::GreV1Route,
            I::GreV1Ssr => Counter::GreV1Ssr,
            I::GreV1Recur => Counter::GreV1Recur,
            I::GreV1Flags => Counter::GreV1Flags,
            I::GreV1WrongProtocol => Counter::GreV1WrongProtocol,
            I::GreV1NoKey => Counter::GreV1NoKey,
            I::GreV1HdrTooBig => Counter::GreV1HdrTooBig,
            I::ErspanHeaderTooSmall => Counter::ErspanHeaderTooSmall,
            I::ErspanUnsupportedVersion => Counter::ErspanUnsupportedVersion,
            I::ErspanUnknownFrameType => Counter::ErspanUnknownFrameType,
            I::VxlanHeaderTooSmall => Counter::VxlanHeaderTooSmall,
            I::GeneveHeaderTooSmall => Counter::GeneveHeaderTooSmall,
            I::GtpuHeaderTooSmall => Counter::GtpuHeaderTooSmall,
            I::AyiyaHeaderTooSmall => Counter::AyiyaHeaderTooSmall,
            I::TooManyLayers => Counter::TooManyLayers,
        }
    }

    /// Counter name, e.g. `event.ipv4.hlen_too_small` (relative to
    /// `stats.decoder` or, for reasons Suricata has no name for,
    /// `stats.phonehome.decoder`).
    pub fn name(self) -> &'static str {
        META.get(self.counter() as usize).map_or("", |m| m.1)
    }

    /// True when the name is Suricata's (reported under `stats.decoder`).
    pub fn is_suricata_name(self) -> bool {
        META.get(self.counter() as usize)
            .is_some_and(|m| m.0 == Dest::Suricata)
    }
}

/// Something that takes counts: [`DecodeStats`] for decoding, a no-op for
/// sharding (which must not count and must not pay for counting).
pub(crate) trait Sink {
    fn inc(&mut self, c: Counter);
}

impl Sink for DecodeStats {
    #[inline(always)]
    fn inc(&mut self, c: Counter) {
        DecodeStats::inc(self, c);
    }
}

/// Counts nothing.
pub(crate) struct NoSink;

impl Sink for NoSink {
    #[inline(always)]
    fn inc(&mut self, _: Counter) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_matches_counters() {
        assert_eq!(META.len(), Counter::ALL.len());
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        assert_eq!(Invalid::TcpHlenTooSmall.name(), "event.tcp.hlen_too_small");
        assert!(Invalid::TcpHlenTooSmall.is_suricata_name());
        assert_eq!(
            Invalid::VxlanHeaderTooSmall.name(),
            "event.vxlan.header_too_small"
        );
        assert!(!Invalid::VxlanHeaderTooSmall.is_suricata_name());
    }

    #[test]
    fn merge_and_eve_shape() {
        let mut a = DecodeStats::new();
        a.inc(Counter::Ipv4);
        a.inc(Counter::TcpHlenTooSmall);
        a.count_unsupported_link(147, 2);
        let mut b = DecodeStats::new();
        b.inc(Counter::Ipv4);
        b.inc(Counter::Nflog);
        b.count_unsupported_link(147, 1);
        b.count_unsupported_link(160, 1);
        b.inc(Counter::DefragIpv6Reassembled);
        a.merge(&b);
        assert_eq!(a.get(Counter::Ipv4), 2);
        assert_eq!(a.unsupported_link(147), 3);
        let (sur, ph) = a.to_eve();
        assert_eq!(sur["ipv4"], 2);
        assert_eq!(sur["event"]["tcp"]["hlen_too_small"], 1);
        assert!(sur.get("nflog").is_none());
        assert_eq!(ph["nflog"], 1);
        assert_eq!(ph["unsupported_link_type"]["147"], 3);
        assert_eq!(ph["unsupported_link_type"]["160"], 1);
        assert_eq!(a.to_eve_defrag()["ipv6"]["reassembled"], 1);
    }

    #[test]
    fn unsupported_link_types_are_bounded() {
        let mut s = DecodeStats::new();
        for lt in 0..100u16 {
            s.count_unsupported_link(1000 + lt, 1);
        }
        assert_eq!(s.unsupported_link.len(), MAX_LINK_TYPES);
        assert_eq!(s.unsupported_link_other, 100 - MAX_LINK_TYPES as u64);
        let (_, ph) = s.to_eve();
        assert_eq!(ph["unsupported_link_type"]["other"], 68);
    }
}
