//! DNS-level blocking: a response policy zone (RPZ) and a hosts file.
//!
//! RPZ (BIND, Unbound, PowerDNS Recursor, Knot Resolver): a `host` is
//! `NAME CNAME .` (NXDOMAIN); a `suffix` or owned domain also `*.NAME`; a
//! `cidr` is a response-IP trigger (`PREFIX.REVERSED.rpz-ip CNAME .`: an
//! answer pointing into the network becomes NXDOMAIN). The web presence a
//! zone can name passes (`CNAME rpz-passthru.`): web presence entries under
//! an exported domain, and, under an owned domain whose apex is the vendor's
//! web site, each web label directly below it (`www.D`, `docs.D`, ...). RPZ
//! cannot say "a name whose first label is www" at any depth, so a deeper one
//! (`www.eu.D`) is blocked with the rest. Owner names are relative: the file
//! loads under any zone name.
//!
//! hosts: `0.0.0.0 NAME`, exact names only; a suffix or owned domain is
//! listed by its own name (the file cannot block subdomains), networks not
//! at all.

use super::{count, one_line, plain_name, vendor_count, Entry, Options, Summary, Tier};
use crate::resolve::catalog::{platforms, EndpointKind};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Owner names longer than this are left out, so that the name plus a zone
/// origin of up to 40 characters stays within DNS's 253.
const MAX_OWNER: usize = 213;

/// The comment line that says what an entry is; `subtree`: whether the
/// format blocks a suffix's subdomains too.
fn describe(e: &Entry<'_>, subtree: bool) -> String {
    let what = match (e.tier, e.kind, subtree) {
        (Tier::OwnedDomain, _, true) => "owned domain and its subdomains",
        (Tier::OwnedDomain, _, false) => "owned domain (this name only)",
        (_, EndpointKind::Suffix, true) => "suffix: the name and its subdomains",
        (_, EndpointKind::Suffix, false) => "suffix (this name only)",
        (_, EndpointKind::Cidr, _) => "network",
        _ => "host",
    };
    one_line(&format!(
        "{} / {}: {}; jurisdiction {}; {} {}; {}; id {}; {}",
        e.vendor.name,
        e.product,
        e.purpose,
        e.vendor.jurisdiction.join(","),
        e.tier,
        what,
        e.confidence,
        e.hex_id(),
        e.source
    ))
}

pub(super) fn write_rpz(
    entries: &[&Entry<'_>],
    opts: &Options<'_>,
    out: &mut Vec<u8>,
    summary: &mut Summary,
) {
    let mut s = String::new();
    let _ = write!(
        s,
        "; phonehome catalog export: DNS response policy zone (phonehome catalog export --format rpz)\n\
         ; Security products' cloud endpoints answer NXDOMAIN (CNAME .); a suffix or owned domain\n\
         ; also blocks every subdomain (*.NAME). Networks are response-IP triggers (rpz-ip). The\n\
         ; vendors' web presence that RPZ can name passes (CNAME rpz-passthru.); deeper web names\n\
         ; under an owned domain (www.eu.NAME) cannot be told apart and are blocked.\n\
         ; Load it as a response policy zone under any name, e.g. in BIND:\n\
         ;   zone \"phonehome.rpz\" {{ type primary; file \"phonehome.rpz.zone\"; }};\n\
         ;   options {{ response-policy {{ zone \"phonehome.rpz\"; }}; }};\n\
         $TTL 300\n\
         @\tIN\tSOA\tlocalhost. hostmaster.localhost. ( {} 3600 600 604800 300 )\n\
         @\tIN\tNS\tlocalhost.\n",
        opts.serial
    );
    // Blocked names first, over every entry, so that a passthru never
    // shadows a documented host of another entry (a documented host always
    // counts, even with a web label).
    let mut blocked: HashSet<String> = HashSet::new();
    for e in entries {
        for (owner, _) in block_owners(e) {
            blocked.insert(owner);
        }
    }
    let mut written: HashSet<String> = HashSet::new();
    let mut records = 0;
    let mut exported = Vec::new();
    for e in entries {
        let owners = block_owners(e);
        if owners.is_empty() {
            summary.not_expressible += 1;
            continue;
        }
        let _ = writeln!(s, "; {}", describe(e, true));
        for (owner, action) in owners {
            if written.insert(owner.clone()) {
                let _ = writeln!(s, "{owner}\tCNAME\t{action}");
                records += 1;
            }
        }
        for owner in pass_owners(e) {
            if !blocked.contains(&owner) && written.insert(owner.clone()) {
                let _ = writeln!(s, "{owner}\tCNAME\trpz-passthru.");
                records += 1;
            }
        }
        count(summary, e);
        exported.push(*e);
    }
    summary.items = records;
    summary.vendors = vendor_count(&exported);
    out.extend_from_slice(s.as_bytes());
}

/// The owner names that block `e`, with their action.
fn block_owners(e: &Entry<'_>) -> Vec<(String, &'static str)> {
    match e.kind {
        EndpointKind::Host if rpz_name(e.pattern) => vec![(e.pattern.to_string(), ".")],
        EndpointKind::Suffix if rpz_name(e.pattern) => {
            let mut v = Vec::with_capacity(2);
            if e.scope.apex {
                v.push((e.pattern.to_string(), "."));
            }
            v.push((format!("*.{}", e.pattern), "."));
            v
        }
        EndpointKind::Cidr => rpz_ip(e.pattern)
            .map(|owner| vec![(owner, ".")])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The owner names of the web presence inside a blocked subtree.
fn pass_owners(e: &Entry<'_>) -> Vec<String> {
    if e.kind != EndpointKind::Suffix || !rpz_name(e.pattern) {
        return Vec::new();
    }
    let mut v = Vec::new();
    if !e.scope.apex {
        // The apex is the vendor's web site: so are its web labels.
        for label in platforms::WEB_LABELS {
            v.push(format!("{label}.{}", e.pattern));
        }
    }
    for h in &e.scope.web_hosts {
        v.push((*h).to_string());
    }
    for w in &e.scope.web_suffixes {
        v.push((*w).to_string());
        v.push(format!("*.{w}"));
    }
    v.retain(|o| o.len() <= MAX_OWNER);
    v
}

fn rpz_name(name: &str) -> bool {
    plain_name(name) && name.len() + 2 <= MAX_OWNER
}

/// The RPZ response-IP trigger for a network: the prefix length, then the
/// address in reverse (IPv4 bytes; IPv6 16-bit words with `zz` for the
/// longest run of zero words), then `rpz-ip`.
pub(crate) fn rpz_ip(cidr: &str) -> Option<String> {
    let net: ipnet::IpNet = cidr.parse().ok()?;
    let len = net.prefix_len();
    let mut labels: Vec<String> = match net.network() {
        IpAddr::V4(a) => a.octets().iter().rev().map(|b| b.to_string()).collect(),
        IpAddr::V6(a) => {
            let seg = a.segments();
            // Longest run of at least two zero words, the first on a tie (RFC 5952).
            let (mut best, mut best_len, mut i) = (0usize, 0usize, 0usize);
            while i < seg.len() {
                let run = seg.iter().skip(i).take_while(|w| **w == 0).count();
                if run > best_len {
                    best = i;
                    best_len = run;
                }
                i += run.max(1);
            }
            let mut words: Vec<String> = Vec::with_capacity(8);
            let mut j = 0;
            while j < seg.len() {
                if best_len >= 2 && j == best {
                    words.push("zz".to_string());
                    j += best_len;
                } else {
                    words.push(format!("{:x}", seg.get(j).copied().unwrap_or(0)));
                    j += 1;
                }
            }
            words.reverse();
            words
        }
    };
    labels.insert(0, len.to_string());
    labels.push("rpz-ip".to_string());
    Some(labels.join("."))
}

pub(super) fn write_hosts(entries: &[&Entry<'_>], out: &mut Vec<u8>, summary: &mut Summary) {
    let mut s = String::from(
        "# phonehome catalog export: hosts file (phonehome catalog export --format hosts)\n\
         # Exact names only: a hosts file cannot block subdomains, so a suffix or owned domain is\n\
         # listed by its own name (use --format rpz to block whole subtrees); networks are left out.\n",
    );
    let mut written: HashSet<&str> = HashSet::new();
    let mut exported = Vec::new();
    for e in entries {
        let name_ok = plain_name(e.pattern);
        let listed = match e.kind {
            EndpointKind::Host => name_ok,
            EndpointKind::Suffix => name_ok && e.scope.apex,
            _ => false,
        };
        if !listed {
            summary.not_expressible += 1;
            continue;
        }
        if written.insert(e.pattern) {
            let _ = writeln!(s, "# {}", describe(e, false));
            let _ = writeln!(s, "0.0.0.0 {}", e.pattern);
            count(summary, e);
            exported.push(*e);
        }
    }
    summary.items = written.len();
    summary.vendors = vendor_count(&exported);
    out.extend_from_slice(s.as_bytes());
}
