//! TLS message construction: ClientHellos in the styles of real client stacks, server flights,
//! and the record layer. Extensions are typed so the fingerprints (see `fingerprint`) are
//! computed from what was built, not re-parsed.

use crate::rng::Rng;

pub const CT_CCS: u8 = 20;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPDATA: u8 = 23;

pub const GROUP_X25519: u16 = 0x001d;
pub const GROUP_X25519MLKEM768: u16 = 0x11ec;

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ..., 0xfafa.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn grease_value(rng: &mut Rng) -> u16 {
    let n = rng.below(16) as u16;
    (n << 12) | 0x0a00 | (n << 4) | 0x0a
}

/// One ClientHello extension, typed where a fingerprint needs to read it.
#[derive(Clone, Debug)]
pub enum Ext {
    Grease {
        typ: u16,
        data: Vec<u8>,
    },
    ServerName(String),
    StatusRequest,
    SupportedGroups(Vec<u16>),
    EcPointFormats(Vec<u8>),
    SignatureAlgorithms(Vec<u16>),
    Alpn(Vec<String>),
    Sct,
    Padding(usize),
    EncryptThenMac,
    ExtendedMasterSecret,
    CompressCertificate(Vec<u16>),
    SessionTicket,
    SupportedVersions(Vec<u16>),
    PskKeyExchangeModes(Vec<u8>),
    PostHandshakeAuth,
    KeyShare(Vec<(u16, Vec<u8>)>),
    QuicTransportParameters(Vec<u8>),
    /// ALPS; Chrome moved from codepoint 0x4469 to 0x44cd.
    ApplicationSettings {
        typ: u16,
        protocols: Vec<String>,
    },
    /// encrypted_client_hello (0xfe0d), outer form: opaque to an observer.
    EncryptedClientHello(Vec<u8>),
    RenegotiationInfo,
}

impl Ext {
    pub fn typ(&self) -> u16 {
        match self {
            Ext::Grease { typ, .. } => *typ,
            Ext::ServerName(_) => 0x0000,
            Ext::StatusRequest => 0x0005,
            Ext::SupportedGroups(_) => 0x000a,
            Ext::EcPointFormats(_) => 0x000b,
            Ext::SignatureAlgorithms(_) => 0x000d,
            Ext::Alpn(_) => 0x0010,
            Ext::Sct => 0x0012,
            Ext::Padding(_) => 0x0015,
            Ext::EncryptThenMac => 0x0016,
            Ext::ExtendedMasterSecret => 0x0017,
            Ext::CompressCertificate(_) => 0x001b,
            Ext::SessionTicket => 0x0023,
            Ext::SupportedVersions(_) => 0x002b,
            Ext::PskKeyExchangeModes(_) => 0x002d,
            Ext::PostHandshakeAuth => 0x0031,
            Ext::KeyShare(_) => 0x0033,
            Ext::QuicTransportParameters(_) => 0x0039,
            Ext::ApplicationSettings { typ, .. } => *typ,
            Ext::EncryptedClientHello(_) => 0xfe0d,
            Ext::RenegotiationInfo => 0xff01,
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Ext::Grease { data, .. } => b.extend_from_slice(data),
            Ext::ServerName(name) => {
                put_u16(&mut b, name.len() as u16 + 3);
                b.push(0); // host_name
                put_u16(&mut b, name.len() as u16);
                b.extend_from_slice(name.as_bytes());
            }
            Ext::StatusRequest => b.extend_from_slice(&[1, 0, 0, 0, 0]),
            Ext::SupportedGroups(g) | Ext::SignatureAlgorithms(g) => {
                put_u16(&mut b, (g.len() * 2) as u16);
                for v in g {
                    put_u16(&mut b, *v);
                }
            }
            Ext::EcPointFormats(f) | Ext::PskKeyExchangeModes(f) => {
                b.push(f.len() as u8);
                b.extend_from_slice(f);
            }
            Ext::Alpn(p) | Ext::ApplicationSettings { protocols: p, .. } => {
                let total: usize = p.iter().map(|s| s.len() + 1).sum();
                put_u16(&mut b, total as u16);
                for s in p {
                    b.push(s.len() as u8);
                    b.extend_from_slice(s.as_bytes());
                }
            }
            Ext::Padding(n) => b.resize(*n, 0),
            Ext::CompressCertificate(algs) => {
                b.push((algs.len() * 2) as u8);
                for a in algs {
                    put_u16(&mut b, *a);
                }
            }
            Ext::SupportedVersions(v) => {
                b.push((v.len() * 2) as u8);
                for x in v {
                    put_u16(&mut b, *x);
                }
            }
            Ext::KeyShare(shares) => {
                let total: usize = shares.iter().map(|(_, k)| k.len() + 4).sum();
                put_u16(&mut b, total as u16);
                for (g, k) in shares {
                    put_u16(&mut b, *g);
                    put_u16(&mut b, k.len() as u16);
                    b.extend_from_slice(k);
                }
            }
            Ext::QuicTransportParameters(d) | Ext::EncryptedClientHello(d) => {
                b.extend_from_slice(d)
            }
            Ext::RenegotiationInfo => b.push(0),
            Ext::Sct
            | Ext::EncryptThenMac
            | Ext::ExtendedMasterSecret
            | Ext::SessionTicket
            | Ext::PostHandshakeAuth => {}
        }
        b
    }
}

/// A ClientHello as built. `profile` names the client stack it imitates.
#[derive(Clone, Debug)]
pub struct ClientHello {
    pub profile: &'static str,
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub ciphers: Vec<u16>,
    pub extensions: Vec<Ext>,
    /// True for QUIC (JA4 "q"); the hello then travels in CRYPTO frames.
    pub quic: bool,
}

impl ClientHello {
    pub fn sni(&self) -> Option<&str> {
        self.extensions.iter().find_map(|e| match e {
            Ext::ServerName(n) => Some(n.as_str()),
            _ => None,
        })
    }

    pub fn alpn(&self) -> Vec<String> {
        self.extensions
            .iter()
            .find_map(|e| match e {
                Ext::Alpn(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    pub fn has_ech(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| matches!(e, Ext::EncryptedClientHello(_)))
    }

    /// The handshake message (type 1 + u24 length + body).
    pub fn handshake_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(2048);
        put_u16(&mut body, self.legacy_version);
        body.extend_from_slice(&self.random);
        body.push(self.session_id.len() as u8);
        body.extend_from_slice(&self.session_id);
        put_u16(&mut body, (self.ciphers.len() * 2) as u16);
        for c in &self.ciphers {
            put_u16(&mut body, *c);
        }
        body.extend_from_slice(&[1, 0]); // compression: null only
        let mut exts = Vec::with_capacity(1536);
        for e in &self.extensions {
            let d = e.body();
            put_u16(&mut exts, e.typ());
            put_u16(&mut exts, d.len() as u16);
            exts.extend_from_slice(&d);
        }
        put_u16(&mut body, exts.len() as u16);
        body.extend_from_slice(&exts);
        handshake(1, &body)
    }

    /// The ClientHello in TLS records (record version 0x0301, as real clients send it).
    pub fn record_bytes(&self) -> Vec<u8> {
        records(CT_HANDSHAKE, 0x0301, &self.handshake_bytes())
    }
}

/// Client stacks whose ClientHello layout we imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Chrome 131+ over TCP: GREASE, X25519MLKEM768, ALPS 0x44cd, GREASE ECH, permuted
    /// extension order (Chrome shuffles it per connection).
    Chrome,
    /// Chrome over QUIC (h3).
    ChromeQuic,
    /// curl 8 with OpenSSL 3: long cipher list, no GREASE, fixed order.
    CurlOpenssl,
    /// Windows 10/11 SChannel through WinINET/WinHTTP, TLS 1.2 only, no ALPN.
    SchannelWinInet,
    /// Windows 11 SChannel offering TLS 1.3 and ALPN h2/http/1.1.
    SchannelTls13,
    /// An agent linked against OpenSSL, TLS 1.2 only (pinned long-lived channel).
    OpensslTls12,
}

/// The extension order of a real Chrome 143 hello (GREASE ends excluded); used when a fixed
/// order is wanted so the fingerprints can be compared with published values.
pub const CHROME_143_ORDER: [u16; 16] = [
    0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a, 0x002b, 0xff01, 0x0023,
    0x0012, 0x0005, 0x000d, 0x001b,
];

/// What varies per connection.
pub struct HelloParams<'a> {
    pub sni: Option<&'a str>,
    pub alpn: &'a [&'a str],
    /// Chrome only: `Some(order)` pins the extension order, `None` shuffles it.
    pub fixed_order: Option<&'a [u16]>,
    /// Outer ECH payload length (Chrome): 0 = GREASE-sized default.
    pub ech_payload_len: usize,
    /// QUIC transport parameters (ChromeQuic only).
    pub quic_tp: Vec<u8>,
}

impl<'a> HelloParams<'a> {
    pub fn new(sni: Option<&'a str>, alpn: &'a [&'a str]) -> Self {
        Self {
            sni,
            alpn,
            fixed_order: None,
            ech_payload_len: 0,
            quic_tp: Vec::new(),
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

fn ech_outer(rng: &mut Rng, payload_len: usize) -> Vec<u8> {
    let mut d = vec![0u8]; // ECHClientHelloType outer
    put_u16(&mut d, 0x0001); // HKDF-SHA256
    put_u16(&mut d, 0x0001); // AES-128-GCM
    d.push(rng.next_u64() as u8); // config_id
    put_u16(&mut d, 32);
    d.extend_from_slice(&rng.bytes::<32>()); // enc (X25519 public key)
    put_u16(&mut d, payload_len as u16);
    d.extend_from_slice(&rng.vec(payload_len));
    d
}

const CHROME_CIPHERS: [u16; 15] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
    0x009d, 0x002f, 0x0035,
];
const CHROME_SIGALGS: [u16; 8] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
];
const OPENSSL3_CIPHERS: [u16; 31] = [
    0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f, 0x009e,
    0xc024, 0xc028, 0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033,
    0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
];
const OPENSSL3_SIGALGS: [u16; 23] = [
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081a, 0x081b, 0x081c, 0x0809, 0x080a, 0x080b, 0x0804,
    0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602,
];
const SCHANNEL_CIPHERS: [u16; 19] = [
    0xc02c, 0xc02b, 0xc030, 0xc02f, 0xc024, 0xc023, 0xc028, 0xc027, 0xc00a, 0xc009, 0xc014, 0xc013,
    0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x000a,
];
const SCHANNEL_SIGALGS: [u16; 12] = [
    0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503, 0x0203, 0x0202, 0x0601, 0x0603,
];

/// Builds a ClientHello in the style of `profile`. All randomness comes from `rng`.
pub fn client_hello(profile: Profile, p: &HelloParams<'_>, rng: &mut Rng) -> ClientHello {
    let random = rng.bytes::<32>();
    let sni = |v: &mut Vec<Ext>| {
        if let Some(n) = p.sni {
            v.push(Ext::ServerName(n.to_string()));
        }
    };
    match profile {
        Profile::Chrome | Profile::ChromeQuic => {
            let quic = profile == Profile::ChromeQuic;
            let g_cipher = grease_value(rng);
            let g_group = grease_value(rng);
            let g_version = grease_value(rng);
            let g_ext1 = grease_value(rng);
            let mut g_ext2 = grease_value(rng);
            if g_ext2 == g_ext1 {
                g_ext2 ^= 0x1010; // Chrome never repeats the GREASE extension value
            }
            let mlkem = rng.vec(1216);
            let x25519 = rng.vec(32);
            let ech_len = if p.ech_payload_len > 0 {
                p.ech_payload_len
            } else {
                144 + 32 * rng.below(4) as usize // Chrome's GREASE ECH sizes: 144..240
            };
            let mut pool: Vec<Ext> = Vec::new();
            // Everything Chrome may permute.
            let groups = vec![g_group, GROUP_X25519MLKEM768, GROUP_X25519, 0x0017, 0x0018];
            pool.push(Ext::SupportedGroups(if quic {
                groups.iter().skip(1).copied().collect()
            } else {
                groups
            }));
            if let Some(n) = p.sni {
                pool.push(Ext::ServerName(n.to_string()));
            }
            pool.push(Ext::SignatureAlgorithms(CHROME_SIGALGS.to_vec()));
            pool.push(Ext::Alpn(strings(p.alpn)));
            pool.push(Ext::CompressCertificate(vec![0x0002]));
            pool.push(Ext::SupportedVersions(if quic {
                vec![0x0304]
            } else {
                vec![g_version, 0x0304, 0x0303]
            }));
            pool.push(Ext::PskKeyExchangeModes(vec![1]));
            let mut shares = Vec::new();
            if !quic {
                shares.push((g_group, vec![0u8]));
            }
            shares.push((GROUP_X25519MLKEM768, mlkem));
            shares.push((GROUP_X25519, x25519));
            pool.push(Ext::KeyShare(shares));
            pool.push(Ext::ApplicationSettings {
                typ: 0x44cd,
                protocols: strings(p.alpn.get(..1).unwrap_or_default()),
            });
            pool.push(Ext::EncryptedClientHello(ech_outer(rng, ech_len)));
            if quic {
                pool.push(Ext::QuicTransportParameters(p.quic_tp.clone()));
            } else {
                pool.push(Ext::ExtendedMasterSecret);
                pool.push(Ext::RenegotiationInfo);
                pool.push(Ext::EcPointFormats(vec![0]));
                pool.push(Ext::SessionTicket);
                pool.push(Ext::Sct);
                pool.push(Ext::StatusRequest);
            }
            match p.fixed_order {
                Some(order) => pool.sort_by_key(|e| {
                    order
                        .iter()
                        .position(|t| *t == e.typ())
                        .unwrap_or(usize::MAX)
                }),
                None => rng.shuffle(&mut pool),
            }
            let mut extensions = Vec::new();
            if !quic {
                extensions.push(Ext::Grease {
                    typ: g_ext1,
                    data: Vec::new(),
                });
            }
            extensions.extend(pool);
            if !quic {
                extensions.push(Ext::Grease {
                    typ: g_ext2,
                    data: vec![0],
                });
            }
            let mut ciphers = Vec::new();
            if !quic {
                ciphers.push(g_cipher);
                ciphers.extend_from_slice(&CHROME_CIPHERS);
            } else {
                ciphers.extend_from_slice(&CHROME_CIPHERS[..3]);
            }
            ClientHello {
                profile: if quic { "chrome-quic" } else { "chrome" },
                legacy_version: 0x0303,
                random,
                session_id: if quic { Vec::new() } else { rng.vec(32) },
                ciphers,
                extensions,
                quic,
            }
        }
        Profile::CurlOpenssl => {
            let mut e = Vec::new();
            sni(&mut e);
            e.push(Ext::EcPointFormats(vec![0, 1, 2]));
            e.push(Ext::SupportedGroups(vec![
                0x001d, 0x0017, 0x001e, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
            ]));
            e.push(Ext::SessionTicket);
            if !p.alpn.is_empty() {
                e.push(Ext::Alpn(strings(p.alpn)));
            }
            e.push(Ext::EncryptThenMac);
            e.push(Ext::ExtendedMasterSecret);
            e.push(Ext::SignatureAlgorithms(OPENSSL3_SIGALGS.to_vec()));
            e.push(Ext::SupportedVersions(vec![0x0304, 0x0303]));
            e.push(Ext::PskKeyExchangeModes(vec![1]));
            e.push(Ext::KeyShare(vec![(GROUP_X25519, rng.vec(32))]));
            ClientHello {
                profile: "curl-openssl3",
                legacy_version: 0x0303,
                random,
                session_id: rng.vec(32),
                ciphers: OPENSSL3_CIPHERS.to_vec(),
                extensions: e,
                quic: false,
            }
        }
        Profile::OpensslTls12 => {
            let mut e = Vec::new();
            sni(&mut e);
            e.push(Ext::EcPointFormats(vec![0, 1, 2]));
            e.push(Ext::SupportedGroups(vec![0x001d, 0x0017, 0x0018]));
            e.push(Ext::SessionTicket);
            e.push(Ext::EncryptThenMac);
            e.push(Ext::ExtendedMasterSecret);
            e.push(Ext::SignatureAlgorithms(OPENSSL3_SIGALGS[..17].to_vec()));
            ClientHello {
                profile: "openssl-tls12",
                legacy_version: 0x0303,
                random,
                session_id: Vec::new(),
                ciphers: vec![0xc02c, 0xc02b, 0xc030, 0xc02f, 0xcca9, 0xcca8, 0x00ff],
                extensions: e,
                quic: false,
            }
        }
        Profile::SchannelWinInet | Profile::SchannelTls13 => {
            let tls13 = profile == Profile::SchannelTls13;
            let mut e = Vec::new();
            sni(&mut e);
            e.push(Ext::StatusRequest);
            e.push(Ext::SupportedGroups(vec![0x001d, 0x0017, 0x0018]));
            e.push(Ext::EcPointFormats(vec![0]));
            e.push(Ext::SignatureAlgorithms(SCHANNEL_SIGALGS.to_vec()));
            e.push(Ext::SessionTicket);
            if !p.alpn.is_empty() {
                e.push(Ext::Alpn(strings(p.alpn)));
            }
            e.push(Ext::ExtendedMasterSecret);
            if tls13 {
                e.push(Ext::SupportedVersions(vec![0x0304, 0x0303]));
                e.push(Ext::PskKeyExchangeModes(vec![1]));
                e.push(Ext::KeyShare(vec![(GROUP_X25519, rng.vec(32))]));
            }
            e.push(Ext::RenegotiationInfo);
            let mut ciphers = Vec::new();
            if tls13 {
                ciphers.extend_from_slice(&[0x1302, 0x1301]);
            }
            ciphers.extend_from_slice(&SCHANNEL_CIPHERS);
            ClientHello {
                profile: if tls13 {
                    "schannel-tls13"
                } else {
                    "schannel-wininet"
                },
                legacy_version: 0x0303,
                random,
                session_id: rng.vec(32),
                ciphers,
                extensions: e,
                quic: false,
            }
        }
    }
}

/// TLS version the server picks, for the server flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerVersion {
    Tls12,
    Tls13,
}

/// ServerHello handshake message.
pub fn server_hello(
    version: ServerVersion,
    cipher: u16,
    session_id: &[u8],
    alpn: Option<&str>,
    rng: &mut Rng,
) -> Vec<u8> {
    let mut body = Vec::new();
    put_u16(&mut body, 0x0303);
    body.extend_from_slice(&rng.bytes::<32>());
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    put_u16(&mut body, cipher);
    body.push(0);
    let mut exts = Vec::new();
    match version {
        ServerVersion::Tls13 => {
            put_u16(&mut exts, 0x0033);
            put_u16(&mut exts, 36);
            put_u16(&mut exts, GROUP_X25519);
            put_u16(&mut exts, 32);
            exts.extend_from_slice(&rng.bytes::<32>());
            put_u16(&mut exts, 0x002b);
            put_u16(&mut exts, 2);
            put_u16(&mut exts, 0x0304);
        }
        ServerVersion::Tls12 => {
            exts.extend_from_slice(&[0xff, 0x01, 0, 1, 0]); // renegotiation_info
            exts.extend_from_slice(&[0x00, 0x17, 0, 0]); // extended_master_secret
            exts.extend_from_slice(&[0x00, 0x0b, 0, 2, 1, 0]); // ec_point_formats
            if let Some(a) = alpn {
                put_u16(&mut exts, 0x0010);
                put_u16(&mut exts, a.len() as u16 + 3);
                put_u16(&mut exts, a.len() as u16 + 1);
                exts.push(a.len() as u8);
                exts.extend_from_slice(a.as_bytes());
            }
        }
    }
    put_u16(&mut body, exts.len() as u16);
    body.extend_from_slice(&exts);
    handshake(2, &body)
}

/// Certificate handshake message (TLS 1.2 form) carrying a DER chain.
pub fn certificate(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut list = Vec::new();
    for c in chain {
        put_u24(&mut list, c.len());
        list.extend_from_slice(c);
    }
    let mut body = Vec::new();
    put_u24(&mut body, list.len());
    body.extend_from_slice(&list);
    handshake(11, &body)
}

/// ServerKeyExchange (ECDHE x25519) signed with Ed25519 over client_random || server_random
/// || params, as RFC 8422 specifies.
pub fn server_key_exchange(
    client_random: &[u8; 32],
    server_random: &[u8],
    key: &ring::signature::Ed25519KeyPair,
    rng: &mut Rng,
) -> Vec<u8> {
    let mut params = vec![3u8]; // named_curve
    put_u16(&mut params, GROUP_X25519);
    params.push(32);
    params.extend_from_slice(&rng.bytes::<32>());
    let mut signed = Vec::new();
    signed.extend_from_slice(client_random);
    signed.extend_from_slice(server_random);
    signed.extend_from_slice(&params);
    let sig = key.sign(&signed);
    let mut body = params;
    put_u16(&mut body, 0x0807); // ed25519
    put_u16(&mut body, sig.as_ref().len() as u16);
    body.extend_from_slice(sig.as_ref());
    handshake(12, &body)
}

pub fn server_hello_done() -> Vec<u8> {
    handshake(14, &[])
}

pub fn client_key_exchange(rng: &mut Rng) -> Vec<u8> {
    let mut body = vec![32u8];
    body.extend_from_slice(&rng.bytes::<32>());
    handshake(16, &body)
}

/// Wraps a handshake body with its 4-byte header.
pub fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 4);
    m.push(typ);
    put_u24(&mut m, body.len());
    m.extend_from_slice(body);
    m
}

/// Splits `data` into TLS records of at most 16 KiB.
pub fn records(ct: u8, version: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 16384 + 1));
    for chunk in data.chunks(16384) {
        out.push(ct);
        put_u16(&mut out, version);
        put_u16(&mut out, chunk.len() as u16);
        out.extend_from_slice(chunk);
    }
    out
}

/// An opaque (encrypted-looking) record of `len` bytes of content.
pub fn opaque_record(ct: u8, len: usize, rng: &mut Rng) -> Vec<u8> {
    records(ct, 0x0303, &rng.vec(len))
}

pub fn put_u16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}

pub fn put_u24(v: &mut Vec<u8>, x: usize) {
    let b = (x as u32).to_be_bytes();
    v.extend_from_slice(&b[1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_detection() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
        let mut r = Rng::new(1);
        for _ in 0..100 {
            assert!(is_grease(grease_value(&mut r)));
        }
    }

    #[test]
    fn client_hello_wire_layout() {
        let mut r = Rng::new(3);
        let ch = client_hello(
            Profile::CurlOpenssl,
            &HelloParams::new(Some("a.example"), &["h2", "http/1.1"]),
            &mut r,
        );
        let rec = ch.record_bytes();
        assert_eq!(&rec[..3], &[22, 3, 1]);
        let rec_len = u16::from_be_bytes([rec[3], rec[4]]) as usize;
        assert_eq!(rec.len(), rec_len + 5);
        assert_eq!(rec[5], 1); // ClientHello
        let hs_len = u32::from_be_bytes([0, rec[6], rec[7], rec[8]]) as usize;
        assert_eq!(hs_len + 4, rec_len);
        // SNI bytes appear verbatim right after the extension header
        let needle = [&[0u8, 0, 0, 14, 0, 12, 0, 0, 9][..], b"a.example"].concat();
        assert!(rec.windows(needle.len()).any(|w| w == needle.as_slice()));
        assert_eq!(ch.sni(), Some("a.example"));
        assert_eq!(ch.alpn(), vec!["h2".to_string(), "http/1.1".to_string()]);
    }

    #[test]
    fn chrome_hello_is_big_enough_to_span_two_segments() {
        let mut r = Rng::new(9);
        let ch = client_hello(
            Profile::Chrome,
            &HelloParams::new(Some("www.google.com"), &["h2", "http/1.1"]),
            &mut r,
        );
        assert!(ch.record_bytes().len() > 1460);
        assert!(ch.has_ech());
        assert!(is_grease(ch.ciphers[0]));
        assert!(is_grease(ch.extensions[0].typ()));
        assert!(is_grease(ch.extensions.last().unwrap().typ()));
    }
}
