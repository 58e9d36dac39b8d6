//! Per-flow dissection: which parser a flow gets, what it has seen, and
//! when inspection ends.
//!
//! A flow starts [`AppState::Fresh`]. Its first packet picks a protocol
//! (Retina-style: probe first, then parse): TCP streams are reassembled in
//! order and handed to the TLS, HTTP or DNS-over-TCP parser; UDP datagrams go
//! to DNS or to the QUIC Initial tracker. Once the flow's names are known the
//! state becomes [`AppState::Done`] and later packets cost nothing here.

use super::stream::{Delivery, Piece, Stream};
use super::{
    dhcp, dns, http, nbns, quic, tls, AppBody, DnsEvent, HostIdEvent, HttpEvent, QuicEvent,
    TlsEvent,
};
use crate::decode::{Packet, L4};
use crate::flow::tcp::{ACK, SYN};
use crate::flow::{FlowAnomalies, FlowNames};

/// Client-side bytes inspected per TCP flow before giving up on finding a protocol.
const MAX_STREAM_BYTES: u64 = 256 * 1024;
/// HTTP requests parsed per flow (a keep-alive proxy connection carries many
/// hosts; a scanner pipelines dozens): as many as DNS messages over TCP.
const MAX_HTTP_REQUESTS: u32 = 1024;
/// A request line and headers larger than this are not waited for.
const MAX_HTTP_HEAD: usize = 16 * 1024;
/// DNS messages parsed per TCP flow.
const MAX_TCP_DNS_MESSAGES: u32 = 1024;

/// The dissect stage's state of one flow.
#[derive(Debug, Default)]
pub enum AppState {
    /// No packet inspected yet.
    #[default]
    Fresh,
    Active(Box<Session>),
    /// Nothing more to learn from this flow.
    Done,
}

/// What a flow's packets go to.
#[derive(Debug)]
pub struct Session {
    /// TCP: client → server, server → client.
    streams: [Stream; 2],
    proto: Proto,
    ports: (u16, u16),
    /// TCP events waiting for the peer's acknowledgement, oldest first.
    held: Vec<Held>,
    /// Inspection is over; only held events are still to go out.
    inspected: bool,
}

/// A TCP application event held until the other side acknowledges the bytes
/// that completed it. Suricata (IDS mode) parses a direction's stream when
/// the peer's ACK covers it, so its events carry the acknowledging packet's
/// `pcap_cnt` and time (a certificate is logged on the client's ACK after it).
#[derive(Debug)]
struct Held {
    /// The bytes came from the client.
    from_client: bool,
    /// Sequence number after them.
    end: u32,
    body: AppBody,
}

/// DHCP or NBNS messages read per flow (a lease renewed every few minutes
/// for a week is ~2 000); beyond, the flow is not inspected further.
const MAX_HOSTID_MESSAGES: u32 = 4096;

/// Events held per flow at most; beyond, they go out on their own packet.
const MAX_HELD_EVENTS: usize = 64;

#[derive(Debug)]
enum Proto {
    /// TCP, no payload seen yet.
    TcpUnknown,
    Tls(Box<TlsSession>),
    Http(Box<HttpSession>),
    DnsTcp(Box<DnsTcpSession>),
    /// UDP, first datagram not seen yet.
    UdpUnknown,
    DnsUdp(dns::DnsFlavor),
    Quic(Box<quic::QuicClientTracker>),
    /// DHCP (UDP 67/68) or NBNS (UDP 137): messages read so far.
    Dhcp(u32),
    Nbns(u32),
    Finished,
}

/// Fields of the flow the dissectors fill in.
pub struct FlowFacts<'a> {
    pub names: &'a mut Option<Box<FlowNames>>,
    pub app_proto: &'a mut Option<&'static str>,
    pub anomalies: &'a mut FlowAnomalies,
}

impl FlowFacts<'_> {
    fn names(&mut self) -> &mut FlowNames {
        self.names.get_or_insert_with(Default::default)
    }
}

/// Application events produced by a packet, with the direction of the packet.
pub type Emitted = Vec<AppBody>;

impl AppState {
    /// Inspects one packet of the flow. `to_server` is its direction.
    pub fn on_packet(
        &mut self,
        p: &Packet<'_>,
        to_server: bool,
        facts: &mut FlowFacts<'_>,
        out: &mut Emitted,
    ) {
        if let AppState::Fresh = self {
            let proto = match p.l4 {
                L4::Tcp(_) => Proto::TcpUnknown,
                L4::Udp => Proto::UdpUnknown,
                _ => {
                    *self = AppState::Done;
                    return;
                }
            };
            let (client_port, server_port) = if to_server {
                (p.sport, p.dport)
            } else {
                (p.dport, p.sport)
            };
            *self = AppState::Active(Box::new(Session {
                streams: Default::default(),
                proto,
                ports: (client_port, server_port),
                held: Vec::new(),
                inspected: false,
            }));
        }
        let AppState::Active(s) = self else {
            return;
        };
        if s.on_packet(p, to_server, facts, out) {
            s.inspected = true;
            if s.held.is_empty() {
                *self = AppState::Done;
            }
        }
    }

    /// Heap bytes this state holds (the bench's bytes per flow): the
    /// session, its stream buffers and held events; a parser's own box is
    /// counted by its size, not what it points to.
    pub fn heap_bytes(&self) -> usize {
        let AppState::Active(s) = self else {
            return 0;
        };
        let proto = match &s.proto {
            Proto::Tls(_) => std::mem::size_of::<TlsSession>(),
            Proto::Http(_) => std::mem::size_of::<HttpSession>(),
            Proto::DnsTcp(_) => std::mem::size_of::<DnsTcpSession>(),
            Proto::Quic(_) => std::mem::size_of::<quic::QuicClientTracker>(),
            _ => 0,
        };
        std::mem::size_of::<Session>()
            + proto
            + s.streams.iter().map(Stream::heap_bytes).sum::<usize>()
            + s.held.capacity() * std::mem::size_of::<Held>()
    }

    /// The flow ended: whatever was seen but not yet reported is reported now.
    pub fn finish(self, facts: &mut FlowFacts<'_>, out: &mut Emitted) {
        if let AppState::Active(s) = self {
            if s.streams.iter().any(Stream::has_pending) {
                *facts.anomalies |= FlowAnomalies::STREAM_GAP_AT_END;
            }
            out.extend(s.held.into_iter().map(|h| h.body));
            match s.proto {
                Proto::Tls(t) => t.finish(out),
                Proto::Http(h) => h.finish(facts, out),
                _ => {}
            }
        }
    }
}

impl Session {
    /// Returns true when inspection of this flow is over.
    fn on_packet(
        &mut self,
        p: &Packet<'_>,
        to_server: bool,
        facts: &mut FlowFacts<'_>,
        out: &mut Emitted,
    ) -> bool {
        match p.l4 {
            L4::Tcp(t) => {
                if t.flags & ACK != 0 {
                    self.release_acked(!to_server, t.ack, out);
                }
                if self.inspected {
                    return true;
                }
                let dir = usize::from(!to_server);
                let Session {
                    streams,
                    proto,
                    ports,
                    held,
                    ..
                } = self;
                if t.flags & ACK != 0 {
                    if let Some(other) = streams.get_mut(1 - dir) {
                        other.peer_acked(t.ack);
                    }
                }
                let Some(stream) = streams.get_mut(dir) else {
                    return true;
                };
                if t.flags & SYN != 0 {
                    stream.syn(t.seq);
                }
                stream.set_named(facts.names.is_some());
                let mut fresh = Emitted::new();
                // After a hole only DNS picks up again (at the next length
                // prefix); other protocols stop at it, as at any gap.
                let mut cut = false;
                let delivery = stream.segment(t.seq, p.payload, &mut |piece| match piece {
                    Piece::Data(_) if cut => {}
                    Piece::Data(bytes) => {
                        proto.tcp_bytes(to_server, *ports, bytes, facts, &mut fresh);
                    }
                    Piece::Hole => {
                        if let Proto::DnsTcp(d) = proto {
                            d.hole(to_server);
                        } else {
                            proto.tcp_gap(to_server);
                            cut = true;
                        }
                    }
                });
                *facts.anomalies |= stream.anomalies();
                if cut {
                    stream.give_up();
                }
                if delivery == Delivery::Gap {
                    proto.tcp_gap(to_server);
                }
                let end = stream
                    .next_seq()
                    .unwrap_or_else(|| t.seq.wrapping_add(p.payload.len() as u32));
                for body in fresh {
                    if held.len() < MAX_HELD_EVENTS {
                        held.push(Held {
                            from_client: to_server,
                            end,
                            body,
                        });
                    } else {
                        out.push(body);
                    }
                }
                let client_bytes = streams.first().map_or(0, Stream::delivered);
                matches!(proto, Proto::Finished) || client_bytes > MAX_STREAM_BYTES
            }
            L4::Udp => {
                let ports = self.ports;
                self.proto
                    .udp_datagram(to_server, ports, p.payload, facts, out);
                matches!(self.proto, Proto::Finished)
            }
            _ => true,
        }
    }
}

impl Session {
    /// Sends out, in order, the held events of one side's data that `ack`
    /// (from the other side) covers.
    fn release_acked(&mut self, from_client: bool, ack: u32, out: &mut Emitted) {
        if !self.held.iter().any(|h| h.from_client == from_client) {
            return;
        }
        let mut kept = Vec::with_capacity(self.held.len());
        for h in self.held.drain(..) {
            if h.from_client == from_client && ack.wrapping_sub(h.end) as i32 >= 0 {
                out.push(h.body);
            } else {
                kept.push(h);
            }
        }
        self.held = kept;
    }
}

impl Proto {
    fn tcp_bytes(
        &mut self,
        to_server: bool,
        ports: (u16, u16),
        bytes: &[u8],
        facts: &mut FlowFacts<'_>,
        out: &mut Emitted,
    ) {
        if let Proto::TcpUnknown = self {
            let dns_port = dns::DnsFlavor::from_ports(dns::Transport::Tcp, ports.0, ports.1);
            *self = if let Some(flavor) = dns_port {
                *facts.app_proto = Some(flavor.event_type());
                Proto::DnsTcp(Box::new(DnsTcpSession::new(flavor)))
            } else if !to_server && bytes.first() != Some(&0x16) {
                // A server speaking first (banner, or data before the request):
                // decide on the client's bytes.
                return;
            } else if to_server && http::is_http_request_start(bytes) {
                *facts.app_proto = Some("http");
                Proto::Http(Box::default())
            } else if to_server && looks_like_tcp_dns(bytes) {
                // DNS over TCP on another port (length-prefixed messages).
                *facts.app_proto = Some("dns");
                Proto::DnsTcp(Box::new(DnsTcpSession::new(dns::DnsFlavor::Dns)))
            } else {
                // TLS on any port (the reassembler skips a short clear-text
                // preamble such as a SOCKS or proxy exchange, and gives up otherwise).
                Proto::Tls(Box::new(TlsSession::new(tls::Transport::Tcp)))
            };
        }
        let mut tunnel: Option<Vec<u8>> = None;
        let finished = match self {
            Proto::Tls(t) => t.push(to_server, bytes, facts, out),
            Proto::Http(h) => match h.push(to_server, bytes, facts, out) {
                HttpNext::More => false,
                HttpNext::Stop => true,
                HttpNext::Tunnel(rest) | HttpNext::NotHttp(rest) => {
                    tunnel = Some(rest);
                    false
                }
            },
            Proto::DnsTcp(d) => d.push(to_server, bytes, out),
            _ => false,
        };
        if let Some(rest) = tunnel {
            // After a CONNECT, what follows is the tunnelled protocol, normally
            // TLS; a text protocol that only looked like HTTP (SMTP, FTP) may
            // upgrade to TLS too (STARTTLS): TLS skips its clear-text start.
            let mut t = Box::new(TlsSession::new(tls::Transport::Tcp));
            *self = if t.push(true, &rest, facts, out) {
                Proto::Finished
            } else {
                Proto::Tls(t)
            };
        } else if finished {
            *self = Proto::Finished;
        }
    }

    fn tcp_gap(&mut self, to_server: bool) {
        match self {
            Proto::Tls(t) => {
                t.gap(to_server);
                if t.client.is_done() && t.server.is_done() {
                    // Keep it: what was seen is reported when the flow ends.
                }
            }
            // HTTP reads only the client's bytes: a hole in the responses
            // (a lost body segment) leaves later requests readable.
            Proto::Http(_) if !to_server => {}
            Proto::TcpUnknown | Proto::Http(_) | Proto::DnsTcp(_) => *self = Proto::Finished,
            _ => {}
        }
    }

    fn udp_datagram(
        &mut self,
        to_server: bool,
        ports: (u16, u16),
        payload: &[u8],
        facts: &mut FlowFacts<'_>,
        out: &mut Emitted,
    ) {
        if let Proto::UdpUnknown = self {
            if payload.is_empty() {
                return;
            }
            *self = if let Some(flavor) =
                dns::DnsFlavor::from_ports(dns::Transport::Udp, ports.0, ports.1)
            {
                *facts.app_proto = Some(flavor.event_type());
                Proto::DnsUdp(flavor)
            } else if [dhcp::SERVER_PORT, dhcp::CLIENT_PORT].contains(&ports.0)
                && [dhcp::SERVER_PORT, dhcp::CLIENT_PORT].contains(&ports.1)
            {
                Proto::Dhcp(0)
            } else if ports.0 == nbns::PORT || ports.1 == nbns::PORT {
                Proto::Nbns(0)
            } else if payload.first().is_some_and(|b| b & 0x80 != 0) || ports.1 == 443 {
                Proto::Quic(Box::default())
            } else if !is_netbios(ports) && dns::looks_like_dns(payload) {
                // DNS on an unusual port (e.g. a vendor's resolver on UDP 443).
                *facts.app_proto = Some("dns");
                Proto::DnsUdp(dns::DnsFlavor::Dns)
            } else {
                Proto::Finished
            };
        }
        match self {
            Proto::Dhcp(n) | Proto::Nbns(n) => {
                *n += 1;
                let finished = *n >= MAX_HOSTID_MESSAGES;
                let body = if matches!(self, Proto::Dhcp(_)) {
                    dhcp::parse(payload).ok().map(HostIdEvent::Dhcp)
                } else {
                    nbns::parse(payload).ok().map(HostIdEvent::Nbns)
                };
                if let Some(b) = body {
                    out.push(AppBody::HostId(Box::new(b)));
                }
                if finished {
                    *self = Proto::Finished;
                }
            }
            Proto::DnsUdp(flavor) => {
                if let Ok(msg) = dns::parse_message(payload) {
                    out.push(AppBody::Dns(Box::new(DnsEvent {
                        flavor: *flavor,
                        transport: dns::Transport::Udp,
                        msg,
                    })));
                }
            }
            Proto::Quic(q) => {
                let progress = if to_server {
                    q.push_client_datagram(payload)
                } else {
                    q.push_server_datagram(payload)
                };
                match progress {
                    quic::Progress::NeedMore
                    | quic::Progress::VersionNegotiation { .. }
                    | quic::Progress::Retry { .. } => {}
                    quic::Progress::ClientHello { version, msg } => {
                        *facts.app_proto = Some("quic");
                        let client_hello = tls::parse_client_hello(&msg).ok();
                        if let Some(ch) = &client_hello {
                            let n = facts.names();
                            n.quic_sni.clone_from(&ch.sni);
                            n.ech |= ch.ech;
                            // A fingerprint only where no name attributes the flow.
                            if ch.sni.is_none() && n.ja4.is_none() {
                                n.ja4 = Some(tls::ja4(ch, tls::Transport::Quic));
                            }
                        }
                        out.push(AppBody::Quic(Box::new(QuicEvent {
                            version,
                            client_hello,
                            gquic: None,
                            anomalies: q.anomalies(),
                        })));
                        *self = Proto::Finished;
                    }
                    quic::Progress::GoogleChlo { version, chlo } => {
                        *facts.app_proto = Some("quic");
                        facts.names().quic_sni.clone_from(&chlo.sni);
                        out.push(AppBody::Quic(Box::new(QuicEvent {
                            version,
                            client_hello: None,
                            gquic: Some(chlo),
                            anomalies: q.anomalies(),
                        })));
                        *self = Proto::Finished;
                    }
                    quic::Progress::NotQuic => {
                        *self = if !is_netbios(ports) && dns::looks_like_dns(payload) {
                            *facts.app_proto = Some("dns");
                            let mut dns_state = Proto::DnsUdp(dns::DnsFlavor::Dns);
                            dns_state.udp_datagram(to_server, ports, payload, facts, out);
                            dns_state
                        } else {
                            Proto::Finished
                        };
                    }
                    quic::Progress::Failed(_) | quic::Progress::Finished => *self = Proto::Finished,
                }
            }
            _ => {}
        }
    }
}

/// A 2-byte length followed by a whole DNS message of that length (a DNS
/// client's first segment holds its whole query).
fn looks_like_tcp_dns(bytes: &[u8]) -> bool {
    let (Some(&hi), Some(&lo)) = (bytes.first(), bytes.get(1)) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    len >= 12 && bytes.get(2..2 + len).is_some_and(dns::looks_like_dns)
}

/// UDP ports that carry DNS-formatted messages that are not DNS (NetBIOS
/// name and datagram services).
fn is_netbios(ports: (u16, u16)) -> bool {
    matches!(ports.0, 137 | 138) || matches!(ports.1, 137 | 138)
}

/// One TLS session: both directions' handshakes.
#[derive(Debug)]
struct TlsSession {
    client: tls::HandshakeReassembler,
    server: tls::HandshakeReassembler,
    transport: tls::Transport,
    client_hello: Option<tls::ClientHello>,
    server_hello: Option<tls::ServerHello>,
    cert: Option<tls::CertInfo>,
    emitted: bool,
    /// Stream chunks handled since the (latest) ClientHello.
    since_hello: u32,
}

/// Chunks after a ClientHello to wait for the server's clear-text flight
/// (ServerHello, Certificate) before reporting what was seen.
const TLS_SERVER_WAIT: u32 = 12;

impl TlsSession {
    fn new(transport: tls::Transport) -> Self {
        TlsSession {
            client: tls::HandshakeReassembler::new(),
            server: tls::HandshakeReassembler::new(),
            transport,
            client_hello: None,
            server_hello: None,
            cert: None,
            emitted: false,
            since_hello: 0,
        }
    }

    /// Feeds stream bytes; returns true once the session is reported and done.
    fn push(
        &mut self,
        to_server: bool,
        bytes: &[u8],
        facts: &mut FlowFacts<'_>,
        out: &mut Emitted,
    ) -> bool {
        let mut hellos: Vec<tls::ClientHello> = Vec::new();
        let TlsSession {
            client,
            server,
            server_hello,
            cert,
            ..
        } = self;
        let r = if to_server { client } else { server };
        r.push(bytes, |h| match h.msg_type {
            tls::handshake_type::CLIENT_HELLO => {
                if let Some(Ok(ch)) = h.client_hello() {
                    hellos.push(ch);
                }
            }
            tls::handshake_type::SERVER_HELLO => {
                if let Ok(sh) = tls::parse_server_hello(h.message) {
                    *facts.app_proto = Some("tls");
                    // After a HelloRetryRequest the real ServerHello follows.
                    if server_hello
                        .as_ref()
                        .is_none_or(|s| s.is_hello_retry_request)
                    {
                        *server_hello = Some(sh);
                    }
                }
            }
            tls::handshake_type::CERTIFICATE if !to_server && cert.is_none() => {
                if let Ok(certs) = tls::parse_certificate(h.message) {
                    if let Some(c) = certs.certs.into_iter().next() {
                        let n = facts.names();
                        n.cert_names = c.subject_cn.iter().chain(&c.san_dns).cloned().collect();
                        n.cert_names.dedup();
                        *cert = Some(c);
                    }
                }
            }
            _ => {}
        });
        if self.client_hello.is_some() {
            self.since_hello += 1;
        }
        for ch in hellos {
            // A second hello on the connection (after a HelloRetryRequest, or
            // a client retrying): the first is reported with what it got, and
            // each hello gets its own event, as tshark and JA4 list them.
            if self.client_hello.is_some() {
                self.emit(out);
            }
            *facts.app_proto = Some("tls");
            let n = facts.names();
            if n.sni.is_none() {
                n.sni.clone_from(&ch.sni);
                n.ech = ch.ech;
            }
            // A fingerprint only where no name attributes the flow.
            if ch.sni.is_none() && n.ja4.is_none() {
                n.ja4 = Some(tls::ja4(&ch, tls::Transport::Tcp));
            }
            self.client_hello = Some(ch);
            self.emitted = false;
            self.since_hello = 0;
        }
        self.maybe_emit(out)
    }

    fn gap(&mut self, to_server: bool) {
        if to_server {
            self.client.gap();
        } else {
            self.server.gap();
        }
    }

    /// Reports the session once what can be seen in clear has been seen.
    fn maybe_emit(&mut self, out: &mut Emitted) -> bool {
        if self.emitted {
            return true;
        }
        let both_done = self.client.is_done() && self.server.is_done();
        let tls13 = self
            .server_hello
            .as_ref()
            .is_some_and(|s| s.version >= 0x0304 && !s.is_hello_retry_request);
        let complete = self.client_hello.is_some()
            && (self.cert.is_some()
                || tls13
                || self.server.is_done()
                || self.since_hello > TLS_SERVER_WAIT);
        if complete || both_done {
            self.emit(out);
            return true;
        }
        false
    }

    fn emit(&mut self, out: &mut Emitted) {
        if self.emitted || (self.client_hello.is_none() && self.server_hello.is_none()) {
            self.emitted = true;
            return;
        }
        self.emitted = true;
        out.push(AppBody::Tls(Box::new(TlsEvent {
            client_hello: self.client_hello.take(),
            server_hello: self.server_hello.take(),
            cert: self.cert.take(),
            transport: self.transport,
        })));
    }

    fn finish(mut self, out: &mut Emitted) {
        self.emit(out);
    }
}

enum HttpNext {
    More,
    Stop,
    /// The first "request" was not HTTP after all (e.g. SMTP's EHLO): the
    /// client bytes so far, to try as a clear-text preamble before TLS.
    NotHttp(Vec<u8>),
    /// A CONNECT succeeded (as far as the request goes): the rest of the client bytes.
    Tunnel(Vec<u8>),
}

#[derive(Debug, Default)]
struct HttpSession {
    buf: Vec<u8>,
    requests: u32,
    /// Body bytes of the current request still to skip.
    skip: u64,
}

impl HttpSession {
    fn push(
        &mut self,
        to_server: bool,
        bytes: &[u8],
        facts: &mut FlowFacts<'_>,
        out: &mut Emitted,
    ) -> HttpNext {
        if !to_server {
            return HttpNext::More;
        }
        let mut bytes = bytes;
        if self.skip > 0 {
            let n = (self.skip as usize).min(bytes.len());
            self.skip -= n as u64;
            bytes = bytes.get(n..).unwrap_or_default();
        }
        self.buf.extend_from_slice(bytes);
        loop {
            if self.skip > 0 {
                let n = (self.skip as usize).min(self.buf.len());
                self.skip -= n as u64;
                self.buf.drain(..n);
            }
            if self.buf.is_empty() {
                return HttpNext::More;
            }
            match http::parse_request(&self.buf) {
                http::Parse::Done { value, consumed } => {
                    self.requests += 1;
                    let n = facts.names();
                    if n.http_host.is_none() {
                        n.http_host = value.uri_host().or_else(|| value.host_name());
                    }
                    let connect = value.connect_target.clone();
                    let body = if value.chunked {
                        None
                    } else {
                        Some(value.content_length.unwrap_or(0))
                    };
                    out.push(AppBody::Http(Box::new(HttpEvent { request: value })));
                    let rest = self.buf.get(consumed..).unwrap_or_default().to_vec();
                    if let Some(target) = connect {
                        facts.names().connect_target = Some(target);
                        return HttpNext::Tunnel(rest);
                    }
                    self.buf = rest;
                    match body {
                        // Chunked bodies are not followed: later requests go unseen.
                        None => return HttpNext::Stop,
                        Some(len) => self.skip = len,
                    }
                    if self.requests >= MAX_HTTP_REQUESTS {
                        return HttpNext::Stop;
                    }
                }
                http::Parse::Incomplete => {
                    return if self.buf.len() > MAX_HTTP_HEAD {
                        HttpNext::Stop
                    } else {
                        HttpNext::More
                    };
                }
                http::Parse::NotHttp if self.requests == 0 => {
                    *facts.app_proto = None;
                    return HttpNext::NotHttp(std::mem::take(&mut self.buf));
                }
                http::Parse::NotHttp => return HttpNext::Stop,
            }
        }
    }
}

impl HttpSession {
    /// The stream ended: a request whose head was cut short (a reset right
    /// after `GET /`) is reported with what it had, as Suricata does.
    fn finish(self, facts: &mut FlowFacts<'_>, out: &mut Emitted) {
        if self.skip > 0 || self.requests >= MAX_HTTP_REQUESTS {
            return;
        }
        if let Some(request) = http::parse_unfinished_request(&self.buf) {
            let n = facts.names();
            if n.http_host.is_none() {
                n.http_host = request.uri_host().or_else(|| request.host_name());
            }
            out.push(AppBody::Http(Box::new(HttpEvent { request })));
        }
    }
}

#[derive(Debug)]
struct DnsTcpSession {
    flavor: dns::DnsFlavor,
    framers: [dns::TcpDnsFramer; 2],
    messages: u32,
}

impl DnsTcpSession {
    fn new(flavor: dns::DnsFlavor) -> Self {
        DnsTcpSession {
            flavor,
            framers: [dns::TcpDnsFramer::new(), dns::TcpDnsFramer::new()],
            messages: 0,
        }
    }

    /// Bytes of one direction were lost: the next byte starts a new message.
    fn hole(&mut self, to_server: bool) {
        if let Some(f) = self.framers.get_mut(usize::from(!to_server)) {
            f.reset();
        }
    }

    fn push(&mut self, to_server: bool, bytes: &[u8], out: &mut Emitted) -> bool {
        let flavor = self.flavor;
        let Some(f) = self.framers.get_mut(usize::from(!to_server)) else {
            return true;
        };
        let mut n = 0u32;
        f.feed(bytes, |m| {
            if let Ok(msg) = dns::parse_message(m) {
                n += 1;
                out.push(AppBody::Dns(Box::new(DnsEvent {
                    flavor,
                    transport: dns::Transport::Tcp,
                    msg,
                })));
            }
        });
        self.messages += n;
        self.messages >= MAX_TCP_DNS_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::decode::TcpInfo;
    use crate::flow::tcp::PSH;

    const CLIENT_ISN: u32 = 1000;
    const SERVER_ISN: u32 = 5000;

    /// A TCP packet of the flow 10.0.0.1:40000 -> 10.0.0.2:80.
    fn tcp(to_server: bool, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Packet<'_> {
        let (c, s) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let (src, dst, sport, dport) = if to_server {
            (c, s, 40000, 80)
        } else {
            (s, c, 80, 40000)
        };
        Packet {
            src,
            dst,
            sport,
            dport,
            proto: 6,
            ip_version: 4,
            vlan: [0; 3],
            vlan_len: 0,
            l4: L4::Tcp(TcpInfo {
                flags,
                seq,
                ack,
                window: 1000,
            }),
            payload,
            tunnel: None,
            truncated: false,
            inner_invalid: None,
        }
    }

    struct Flow {
        app: AppState,
        names: Option<Box<FlowNames>>,
        app_proto: Option<&'static str>,
        anomalies: FlowAnomalies,
    }

    impl Flow {
        fn new() -> Self {
            Flow {
                app: AppState::Fresh,
                names: None,
                app_proto: None,
                anomalies: FlowAnomalies::empty(),
            }
        }

        /// Events the packet released.
        fn packet(&mut self, p: &Packet<'_>, to_server: bool) -> Emitted {
            let mut out = Emitted::new();
            let mut facts = FlowFacts {
                names: &mut self.names,
                app_proto: &mut self.app_proto,
                anomalies: &mut self.anomalies,
            };
            self.app.on_packet(p, to_server, &mut facts, &mut out);
            out
        }

        fn finish(mut self) -> Emitted {
            let mut out = Emitted::new();
            let mut facts = FlowFacts {
                names: &mut self.names,
                app_proto: &mut self.app_proto,
                anomalies: &mut self.anomalies,
            };
            std::mem::take(&mut self.app).finish(&mut facts, &mut out);
            out
        }
    }

    fn urls(events: &[AppBody]) -> Vec<String> {
        events
            .iter()
            .filter_map(|b| match b {
                AppBody::Http(h) => Some(h.request.uri.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_pipelined_request_is_reported() {
        let mut f = Flow::new();
        let mut stream = Vec::new();
        for i in 0..40 {
            stream.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
        }
        let mut got = Vec::new();
        let mut seq = CLIENT_ISN + 1;
        for chunk in stream.chunks(500) {
            got.extend(f.packet(&tcp(true, ACK | PSH, seq, SERVER_ISN + 1, chunk), true));
            seq += chunk.len() as u32;
        }
        got.extend(f.finish());
        let want: Vec<String> = (0..40).map(|i| format!("/{i}")).collect();
        assert_eq!(urls(&got), want);
    }

    #[test]
    fn an_event_goes_out_on_the_packet_that_acknowledges_its_bytes() {
        let mut f = Flow::new();
        let req = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
        let c = CLIENT_ISN + 1;
        let s = SERVER_ISN + 1;
        let end = c + req.len() as u32;
        assert!(f
            .packet(&tcp(true, SYN, CLIENT_ISN, 0, b""), true)
            .is_empty());
        // The request is parsed, but held.
        assert!(f.packet(&tcp(true, ACK | PSH, c, s, req), true).is_empty());
        // The client's own later packet does not acknowledge it; a server ACK
        // short of its end does not either.
        assert!(f.packet(&tcp(true, ACK, end, s, b""), true).is_empty());
        assert!(f
            .packet(&tcp(false, ACK, s, end - 1, b""), false)
            .is_empty());
        assert_eq!(
            urls(&f.packet(&tcp(false, ACK, s, end, b""), false)),
            ["/x"]
        );
        assert!(f.finish().is_empty());
    }

    #[test]
    fn dns_over_tcp_picks_up_after_a_lost_query() {
        // Three length-prefixed queries; the capture lost the second, which
        // the server acknowledged.
        let query = |id: u8| {
            let mut m = vec![0, 29, 0, id, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
            m
        };
        let len = query(1).len() as u32;
        let mut f = Flow::new();
        let (c, s) = (CLIENT_ISN + 1, SERVER_ISN + 1);
        let mut got = Vec::new();
        got.extend(f.packet(&tcp(true, SYN, CLIENT_ISN, 0, b""), true));
        got.extend(f.packet(&tcp(false, SYN | ACK, SERVER_ISN, c, b""), false));
        got.extend(f.packet(&tcp(true, ACK | PSH, c, s, &query(1)), true));
        got.extend(f.packet(&tcp(false, ACK, s, c + 2 * len, b""), false));
        got.extend(f.packet(&tcp(true, ACK | PSH, c + 2 * len, s, &query(3)), true));
        got.extend(f.packet(&tcp(false, ACK, s, c + 3 * len, b""), false));
        let ids: Vec<u16> = got
            .iter()
            .filter_map(|b| match b {
                AppBody::Dns(d) => Some(d.msg.id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, [1, 3]);
    }

    #[test]
    fn http_requests_after_a_hole_in_the_responses_are_read() {
        let mut f = Flow::new();
        let c = CLIENT_ISN + 1;
        let s = SERVER_ISN + 1;
        let r1 = b"GET /1 HTTP/1.0\r\n\r\n";
        let r2 = b"GET /2 HTTP/1.0\r\n\r\n";
        let mut got = f.packet(&tcp(true, ACK | PSH, c, s, r1), true);
        let c2 = c + r1.len() as u32;
        // The client acknowledged 100 response bytes; 50 of them reached the capture.
        got.extend(f.packet(&tcp(true, ACK, c2, s + 100, b""), true));
        got.extend(f.packet(&tcp(false, ACK, s + 50, c2, &[b'x'; 50]), false));
        got.extend(f.packet(&tcp(true, ACK | PSH, c2, s + 100, r2), true));
        got.extend(f.finish());
        assert_eq!(urls(&got), ["/1", "/2"]);
    }

    #[test]
    fn a_request_cut_short_is_reported_when_the_flow_ends() {
        let mut f = Flow::new();
        let got = f.packet(
            &tcp(true, ACK | PSH, CLIENT_ISN + 1, SERVER_ISN + 1, b"GET /"),
            true,
        );
        assert!(got.is_empty());
        assert_eq!(urls(&f.finish()), ["/"]);
    }
}
