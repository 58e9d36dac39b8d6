//! JA3 (Salesforce) and JA4 (FoxIO, TLS client) fingerprints of the ClientHellos the generator
//! builds, computed from the typed hello so the expected values are independent of any parser.

use crate::tls::{is_grease, ClientHello, Ext};
use md5::{Digest, Md5};

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn join_dec(v: impl Iterator<Item = u16>) -> String {
    v.map(|x| x.to_string()).collect::<Vec<_>>().join("-")
}

/// JA3 string: `SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats`, decimal,
/// GREASE values removed, extensions in wire order.
pub fn ja3_string(ch: &ClientHello) -> String {
    let groups = ch
        .extensions
        .iter()
        .find_map(|e| match e {
            Ext::SupportedGroups(g) => Some(g.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let formats = ch
        .extensions
        .iter()
        .find_map(|e| match e {
            Ext::EcPointFormats(f) => Some(f.clone()),
            _ => None,
        })
        .unwrap_or_default();
    format!(
        "{},{},{},{},{}",
        ch.legacy_version,
        join_dec(ch.ciphers.iter().copied().filter(|c| !is_grease(*c))),
        join_dec(
            ch.extensions
                .iter()
                .map(Ext::typ)
                .filter(|t| !is_grease(*t))
        ),
        join_dec(groups.into_iter().filter(|g| !is_grease(*g))),
        join_dec(formats.into_iter().map(u16::from)),
    )
}

pub fn ja3_md5(ja3: &str) -> String {
    hex(&Md5::digest(ja3.as_bytes()))
}

fn sha256_12(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let mut h = hex(d.as_ref());
    h.truncate(12);
    h
}

fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The JA4 ALPN part: first and last character of the first ALPN value, "00" without one; if
/// either end is not ASCII alphanumeric, the first and last hex digit of the value instead.
fn alpn_code(first: Option<&str>) -> String {
    let Some(v) = first.map(str::as_bytes).filter(|v| !v.is_empty()) else {
        return "00".to_string();
    };
    let (Some(&a), Some(&b)) = (v.first(), v.last()) else {
        return "00".to_string();
    };
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        format!("{}{}", a as char, b as char)
    } else {
        let h = hex(&[a, b]);
        let mut cs = h.chars();
        let first = cs.next().unwrap_or('0');
        let last = cs.last().unwrap_or('0');
        format!("{first}{last}")
    }
}

/// The three parts of JA4 in raw form (for `ja4_r`) and hashed.
pub struct Ja4 {
    pub ja4: String,
    pub ja4_r: String,
}

pub fn ja4(ch: &ClientHello) -> Ja4 {
    let proto = if ch.quic { 'q' } else { 't' };
    let version = ch
        .extensions
        .iter()
        .find_map(|e| match e {
            Ext::SupportedVersions(v) => v.iter().copied().filter(|x| !is_grease(*x)).max(),
            _ => None,
        })
        .unwrap_or(ch.legacy_version);
    let sni = if ch
        .extensions
        .iter()
        .any(|e| matches!(e, Ext::ServerName(_)))
    {
        'd'
    } else {
        'i'
    };
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .map(Ext::typ)
        .filter(|t| !is_grease(*t))
        .collect();
    let alpn = ch.alpn();
    let a = format!(
        "{proto}{}{sni}{:02}{:02}{}",
        version_code(version),
        ciphers.len().min(99),
        exts.len().min(99),
        alpn_code(alpn.first().map(String::as_str))
    );
    ciphers.sort_unstable();
    let cipher_list = ciphers
        .iter()
        .map(|c| format!("{c:04x}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut sorted_exts: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|t| *t != 0x0000 && *t != 0x0010)
        .collect();
    sorted_exts.sort_unstable();
    let ext_list = sorted_exts
        .iter()
        .map(|t| format!("{t:04x}"))
        .collect::<Vec<_>>()
        .join(",");
    let sigalgs = ch
        .extensions
        .iter()
        .find_map(|e| match e {
            Ext::SignatureAlgorithms(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let sig_list = sigalgs
        .iter()
        .filter(|s| !is_grease(**s))
        .map(|s| format!("{s:04x}"))
        .collect::<Vec<_>>()
        .join(",");
    let c_raw = if sig_list.is_empty() {
        ext_list.clone()
    } else {
        format!("{ext_list}_{sig_list}")
    };
    let b_hash = if cipher_list.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&cipher_list)
    };
    let c_hash = if ext_list.is_empty() {
        "000000000000".to_string()
    } else {
        sha256_12(&c_raw)
    };
    Ja4 {
        ja4: format!("{a}_{b_hash}_{c_hash}"),
        ja4_r: format!("{a}_{cipher_list}_{c_raw}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::tls::{client_hello, HelloParams, Profile, CHROME_143_ORDER};

    // Published reference values: a real Chrome 143 hello with this extension order has
    // JA3 md5 98487aa16281980e7d1120d399efb6a4 and JA4 t13d1516h2_8daaf6152771_d8a2da3f94cd;
    // WinINET on Windows 10/11 is t12d190800_d83cc789557e_7af1ed941c26 (FoxIO mapping).
    #[test]
    fn chrome_143_matches_published_fingerprints() {
        let mut r = Rng::new(42);
        let mut p = HelloParams::new(Some("tls.example"), &["h2", "http/1.1"]);
        p.fixed_order = Some(&CHROME_143_ORDER);
        let ch = client_hello(Profile::Chrome, &p, &mut r);
        let j = ja3_string(&ch);
        assert_eq!(
            j,
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
             45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
        );
        assert_eq!(ja3_md5(&j), "98487aa16281980e7d1120d399efb6a4");
        assert_eq!(ja4(&ch).ja4, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
    }

    #[test]
    fn wininet_matches_published_ja4() {
        let mut r = Rng::new(1);
        let ch = client_hello(
            Profile::SchannelWinInet,
            &HelloParams::new(Some("x.example"), &[]),
            &mut r,
        );
        assert_eq!(ja4(&ch).ja4, "t12d190800_d83cc789557e_7af1ed941c26");
    }

    #[test]
    fn no_sni_and_quic_prefixes() {
        let mut r = Rng::new(5);
        let ch = client_hello(
            Profile::CurlOpenssl,
            &HelloParams::new(None, &["http/1.1"]),
            &mut r,
        );
        let f = ja4(&ch).ja4;
        assert!(f.starts_with("t13i3110h1_"), "{f}");
        let q = client_hello(
            Profile::ChromeQuic,
            &HelloParams::new(Some("q.example"), &["h3"]),
            &mut r,
        );
        assert!(ja4(&q).ja4.starts_with("q13d03"), "{}", ja4(&q).ja4);
    }

    #[test]
    fn alpn_code_edge_cases() {
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some("")), "00");
        assert_eq!(alpn_code(Some("h2")), "h2");
        assert_eq!(alpn_code(Some("http/1.1")), "h1");
        assert_eq!(alpn_code(Some("\u{1}x")), "08"); // bytes 01 78: first and last hex digit
    }

    #[test]
    fn md5_known_answer() {
        assert_eq!(ja3_md5(""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
