//! Name normalisation and pattern validation.

/// Longest DNS name in presentation form without the trailing dot.
pub(crate) const MAX_NAME: usize = 253;

/// Lower-cases `name` into `buf` and drops one trailing dot. `None` when the
/// name is empty or longer than a DNS name can be (it cannot be in the catalog).
/// No allocation: this runs per flow.
pub(crate) fn normalize_into<'b>(name: &str, buf: &'b mut [u8; 256]) -> Option<&'b str> {
    let b = name.as_bytes();
    let b = b.strip_suffix(b".").unwrap_or(b);
    if b.is_empty() || b.len() > MAX_NAME {
        return None;
    }
    let dst = buf.get_mut(..b.len())?;
    for (d, s) in dst.iter_mut().zip(b) {
        *d = s.to_ascii_lowercase();
    }
    // Lower-casing ASCII bytes keeps UTF-8 valid; this cannot fail.
    std::str::from_utf8(dst).ok()
}

/// Iterates `name` and each parent on label boundaries: `a.b.c`, `b.c`, `c`.
pub(crate) fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(name);
    std::iter::from_fn(move || {
        let cur = next?;
        next = cur.find('.').and_then(|i| cur.get(i + 1..));
        Some(cur)
    })
}

/// Why a host/suffix/cert pattern is malformed, or `None` if it is fine.
/// `allow_leading_wildcard`: certificate names may start with `*.`.
pub(crate) fn name_problem(p: &str, allow_leading_wildcard: bool) -> Option<String> {
    if p.is_empty() {
        return Some("empty name".into());
    }
    if p.contains("://") {
        return Some("has a URL scheme; give the bare host name".into());
    }
    if p.contains('/') {
        return Some("has a path; give the bare host name".into());
    }
    if p.contains(':') {
        return Some("has a port; put ports in `ports`".into());
    }
    if p.ends_with('.') {
        return Some("trailing dot".into());
    }
    if p.len() > MAX_NAME {
        return Some(format!("longer than {MAX_NAME} characters"));
    }
    let body = match p.strip_prefix("*.") {
        Some(rest) if allow_leading_wildcard => rest,
        Some(_) => {
            return Some(
                "`*.` is not allowed here: a `suffix` already matches every subdomain".into(),
            )
        }
        None => p,
    };
    if body.contains('*') {
        return Some("wildcard in the middle of a name".into());
    }
    if let Some(c) = body
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')))
    {
        return Some(if c.is_ascii_uppercase() {
            "upper-case letters; write names in lower case".into()
        } else {
            format!("bad character {c:?}")
        });
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Some("empty label".into());
        }
        if label.len() > 63 {
            return Some("label longer than 63 characters".into());
        }
    }
    None
}

/// Domains of shared clouds and CDNs. A suffix on one of these (or above one)
/// would attribute everybody's traffic to one vendor; a host below one must be
/// flagged `shared_cloud = true` so that it is never matched by IP.
pub(crate) const SHARED_CLOUD_DOMAINS: &[&str] = &[
    "akadns.net",
    "akamai.net",
    "akamaiedge.net",
    "akamaihd.net",
    "akamaized.net",
    "amazonaws.com",
    "appspot.com",
    "azure-devices.net",
    "azure.com",
    "azure.net",
    "azurecr.io",
    "azureedge.net",
    "azurefd.net",
    "azurewebsites.net",
    "cloudapp.net",
    "cloudflare.net",
    "cloudfront.net",
    "core.windows.net",
    "edgekey.net",
    "edgesuite.net",
    "elasticbeanstalk.com",
    "fastly.net",
    "fastlylb.net",
    "googleapis.com",
    "googleusercontent.com",
    "gstatic.com",
    "herokuapp.com",
    "msecnd.net",
    "trafficmanager.net",
    "visualstudio.com",
    "windows.net",
];

/// The shared-cloud domain `name` is at or below, if any.
pub(crate) fn shared_cloud_domain(name: &str) -> Option<&'static str> {
    suffixes(name).find_map(|s| SHARED_CLOUD_DOMAINS.iter().copied().find(|d| *d == s))
}

/// Whether `s` looks like a JA4 (TLS/QUIC/DTLS client) fingerprint:
/// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub(crate) fn is_ja4(s: &str) -> bool {
    let mut parts = s.split('_');
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let hex12 =
        |x: &str| x.len() == 12 && x.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    let ab = a.as_bytes();
    a.len() == 10
        && matches!(ab.first(), Some(b't' | b'q' | b'd'))
        && ab
            .get(1..3)
            .is_some_and(|v| v.iter().all(u8::is_ascii_alphanumeric))
        && matches!(ab.get(3), Some(b'd' | b'i'))
        && ab
            .get(4..8)
            .is_some_and(|v| v.iter().all(u8::is_ascii_digit))
        && ab
            .get(8..10)
            .is_some_and(|v| v.iter().all(u8::is_ascii_alphanumeric))
        && hex12(b)
        && hex12(c)
}

/// Whether `u` is an absolute http(s) URL with a plausible host.
pub(crate) fn url_problem(u: &str) -> Option<&'static str> {
    let rest = match u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
    {
        Some(r) => r,
        None => return Some("not an http(s) URL"),
    };
    if u.chars().any(char::is_whitespace) {
        return Some("contains white space");
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or("");
    if !host.contains('.')
        || host.starts_with('.')
        || host.ends_with('.')
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Some("no valid host name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_drops_one_trailing_dot() {
        let mut b = [0u8; 256];
        assert_eq!(
            normalize_into("WDCP.Microsoft.COM.", &mut b),
            Some("wdcp.microsoft.com")
        );
        assert_eq!(normalize_into(".", &mut b), None);
        assert_eq!(normalize_into("", &mut b), None);
        let long = "a".repeat(254);
        assert_eq!(normalize_into(&long, &mut b), None);
        let ok = "a".repeat(253);
        assert_eq!(normalize_into(&ok, &mut b).map(str::len), Some(253));
    }

    #[test]
    fn suffixes_walk_label_boundaries() {
        let v: Vec<&str> = suffixes("a.bb.c").collect();
        assert_eq!(v, ["a.bb.c", "bb.c", "c"]);
        let v: Vec<&str> = suffixes("x").collect();
        assert_eq!(v, ["x"]);
    }

    #[test]
    fn name_problems() {
        assert_eq!(name_problem("ts01-b.cloudsink.net", false), None);
        assert_eq!(name_problem("mgmt_lb.goskope.com", false), None);
        assert!(name_problem("https://x.com", false)
            .unwrap()
            .contains("scheme"));
        assert!(name_problem("x.com:443", false).unwrap().contains("port"));
        assert!(name_problem("x.com/a", false).unwrap().contains("path"));
        assert!(name_problem("a.*.com", false).unwrap().contains("middle"));
        assert!(name_problem("a.*.com", true).unwrap().contains("middle"));
        assert!(name_problem("*.x.com", false).is_some());
        assert_eq!(name_problem("*.x.com", true), None);
        assert!(name_problem("X.com", false).unwrap().contains("lower case"));
        assert!(name_problem("a..com", false)
            .unwrap()
            .contains("empty label"));
        assert!(name_problem("a.com.", false)
            .unwrap()
            .contains("trailing dot"));
        assert!(name_problem("a b.com", false)
            .unwrap()
            .contains("bad character"));
    }

    #[test]
    fn ja4_shape() {
        assert!(is_ja4("t13d1516h2_8daaf6152771_e5627efa2ab1"));
        assert!(is_ja4("q13d0310h3_55b375c5d22e_cd85d2d88918"));
        assert!(!is_ja4("t13d1516h2_8daaf6152771"));
        assert!(!is_ja4("x13d1516h2_8daaf6152771_e5627efa2ab1"));
        assert!(!is_ja4("t13d1516h2_8daaf615277Z_e5627efa2ab1"));
    }

    #[test]
    fn url_checks() {
        assert_eq!(
            url_problem("https://docs.sophos.com/central/x.html#y"),
            None
        );
        assert_eq!(url_problem("http://example.com:8080/a"), None);
        assert!(url_problem("public GitHub code: foo").is_some());
        assert!(url_problem("https://localhost/x").is_some());
        assert!(url_problem("https://a.com/x y").is_some());
    }

    #[test]
    fn shared_cloud_detection() {
        assert_eq!(
            shared_cloud_domain("x.s3.amazonaws.com"),
            Some("amazonaws.com")
        );
        assert_eq!(
            shared_cloud_domain("a.blob.core.windows.net"),
            Some("core.windows.net")
        );
        assert_eq!(shared_cloud_domain("sophosxl.net"), None);
    }
}
