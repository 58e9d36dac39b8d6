//! Who holds an address when: the address → identity history built from
//! host identity claims (DHCP, NBNS, mDNS; see `dissect::hostid`).
//!
//! An identity is a MAC address when one is known, else a host name. A
//! `Bind` claim opens a binding of an address to an identity (closing the
//! previous holder's); a `Release` closes it; a `Describe` only adds names.
//! [`HostTable::identity_at`] answers which identity held an address at a
//! packet time, so findings can key on the host rather than on an address
//! that DHCP moves. Everything is bounded; what is shed is counted.

use crate::dissect::dns::DnsFlavor;
use crate::dissect::hostid::{self, ClaimAction, IdentityClaim, IdentitySource, Mac};
use crate::dissect::{AppBody, AppRecord, HostIdEvent};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Identities kept.
pub const MAX_IDENTITIES: usize = 65_536;
/// Addresses with a history.
pub const MAX_ADDRESSES: usize = 131_072;
/// Bindings kept per address (the oldest go first).
pub const MAX_BINDINGS_PER_ADDRESS: usize = 16;
/// Names indexed (to find a name-only identity again).
pub const MAX_NAMES: usize = 2 * MAX_IDENTITIES;
/// Addresses remembered per identity, for [`HostTable::host_at`].
pub const MAX_ADDRESSES_PER_IDENTITY: usize = 16;

/// A host as findings and alerts name it: its identity and the addresses
/// it held, with the packet times of the claims that bound them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostRecord {
    pub key: String,
    pub name: Option<String>,
    pub fqdn: Option<String>,
    pub mac: Option<String>,
    /// By first claim time.
    pub addresses: Vec<HostAddress>,
}

/// One address an identity held: the first claim that bound it, and the
/// last claim that confirmed it or the time it was released or taken over.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostAddress {
    pub ip: IpAddr,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// A host as its claims describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostIdentity {
    /// `mac:aa:bb:…` when a MAC is known, else `name:<lower-case name>`.
    pub key: String,
    pub mac: Option<Mac>,
    /// The latest host name claimed.
    pub name: Option<String>,
    pub fqdn: Option<String>,
}

/// One address held by one identity over a span of packet time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Index into the identities.
    identity: usize,
    pub source: IdentitySource,
    pub from_ns: u64,
    /// The last claim that confirmed it.
    pub last_ns: u64,
    /// Released or taken over; none while held.
    pub until_ns: Option<u64>,
}

/// What the table shed to stay bounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostTableStats {
    pub claims: u64,
    pub identities_dropped: u64,
    pub names_dropped: u64,
    pub addresses_dropped: u64,
    pub bindings_dropped: u64,
    /// Addresses not remembered for an identity that held too many.
    pub held_dropped: u64,
}

#[derive(Debug, Default)]
pub struct HostTable {
    identities: Vec<HostIdentity>,
    by_mac: HashMap<Mac, usize>,
    by_name: HashMap<String, usize>,
    history: BTreeMap<IpAddr, Vec<Binding>>,
    /// The address of each identity's current DHCP lease: a new lease of the
    /// same family ends the old one (one lease per client hardware address).
    leases: HashMap<(usize, bool), IpAddr>,
    /// The addresses each identity was bound to (bounded per identity).
    held: HashMap<usize, Vec<IpAddr>>,
    pub stats: HostTableStats,
}

impl HostTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns the identity claims of one application record: DHCP and NBNS
    /// messages, mDNS announcements (the one place claims are read, for the
    /// inventory and the output stage alike).
    pub fn observe_app(&mut self, a: &AppRecord) {
        let sender = if a.to_server { a.meta.src } else { a.meta.dst };
        match &a.body {
            AppBody::HostId(h) => match h.as_ref() {
                HostIdEvent::Dhcp(m) => {
                    if let Some(c) = hostid::from_dhcp(m) {
                        self.observe(a.ts_ns, &c);
                    }
                }
                HostIdEvent::Nbns(m) => {
                    for c in hostid::from_nbns(m, sender) {
                        self.observe(a.ts_ns, &c);
                    }
                }
            },
            AppBody::Dns(d) if d.flavor == DnsFlavor::Mdns => {
                if let Some(c) = hostid::from_mdns(&d.msg, sender) {
                    self.observe(a.ts_ns, &c);
                }
            }
            _ => {}
        }
    }

    /// Applies one claim made at packet time `ts_ns`.
    pub fn observe(&mut self, ts_ns: u64, claim: &IdentityClaim) {
        self.stats.claims += 1;
        let Some(id) = self.identity_for(claim) else {
            return;
        };
        let Some(addr) = claim.address else { return };
        match claim.action {
            ClaimAction::Describe => {}
            ClaimAction::Bind => self.bind(addr, id, claim.source, ts_ns),
            ClaimAction::Release => self.release(addr, id, ts_ns),
        }
    }

    /// Ends `id`'s open binding of `addr`, if it holds it.
    fn release(&mut self, addr: IpAddr, id: usize, ts_ns: u64) {
        if let Some(b) = self
            .history
            .get_mut(&addr)
            .and_then(|h| h.last_mut())
            .filter(|b| b.identity == id && b.until_ns.is_none())
        {
            b.until_ns = Some(ts_ns);
        }
    }

    /// Finds or creates the identity a claim speaks for, and records its names.
    fn identity_for(&mut self, claim: &IdentityClaim) -> Option<usize> {
        let name = claim.hostname.as_ref().or(claim.fqdn.as_ref());
        let name_key = name.map(|n| n.to_lowercase());
        let mac = claim.mac.filter(|m| !m.is_group() && !m.is_zero());
        let found = mac.and_then(|m| self.by_mac.get(&m).copied()).or_else(|| {
            // A name-only identity that gains its MAC becomes that MAC's,
            // unless it already has another MAC (two hosts, one name).
            let i = *self.by_name.get(name_key.as_ref()?)?;
            let other_mac = self.identities.get(i)?.mac.is_some_and(|m| Some(m) != mac);
            (!other_mac).then_some(i)
        });
        let id = match found {
            Some(i) => i,
            None => {
                let key = match (mac, &name_key) {
                    (Some(m), _) => format!("mac:{m}"),
                    (None, Some(n)) => format!("name:{n}"),
                    (None, None) => return None,
                };
                if self.identities.len() >= MAX_IDENTITIES {
                    self.stats.identities_dropped += 1;
                    return None;
                }
                self.identities.push(HostIdentity {
                    key,
                    mac: None,
                    name: None,
                    fqdn: None,
                });
                self.identities.len() - 1
            }
        };
        let ident = self.identities.get_mut(id)?;
        if let (Some(m), None) = (mac, ident.mac) {
            ident.mac = Some(m);
            ident.key = format!("mac:{m}");
            self.by_mac.insert(m, id);
        }
        if let Some(h) = &claim.hostname {
            ident.name = Some(h.clone());
        }
        if let Some(f) = &claim.fqdn {
            ident.fqdn = Some(f.clone());
        }
        if let Some(n) = name_key {
            // One MAC can claim a new name in every packet: the name index
            // is bounded on its own.
            if self.by_name.len() < MAX_NAMES || self.by_name.contains_key(&n) {
                self.by_name.insert(n, id);
            } else {
                self.stats.names_dropped += 1;
            }
        }
        Some(id)
    }

    fn bind(&mut self, addr: IpAddr, id: usize, source: IdentitySource, ts_ns: u64) {
        if !self.history.contains_key(&addr) && self.history.len() >= MAX_ADDRESSES {
            self.stats.addresses_dropped += 1;
            return;
        }
        if source == IdentitySource::Dhcp {
            if let Some(old) = self.leases.insert((id, addr.is_ipv4()), addr) {
                if old != addr {
                    self.release(old, id, ts_ns);
                }
            }
        }
        let h = self.history.entry(addr).or_default();
        if let Some(last) = h.last_mut() {
            if last.identity == id && last.until_ns.is_none() {
                last.last_ns = last.last_ns.max(ts_ns);
                return;
            }
            if last.until_ns.is_none() {
                last.until_ns = Some(ts_ns);
            }
        }
        if h.len() >= MAX_BINDINGS_PER_ADDRESS {
            h.remove(0);
            self.stats.bindings_dropped += 1;
        }
        h.push(Binding {
            identity: id,
            source,
            from_ns: ts_ns,
            last_ns: ts_ns,
            until_ns: None,
        });
        let held = self.held.entry(id).or_default();
        if !held.contains(&addr) {
            if held.len() < MAX_ADDRESSES_PER_IDENTITY {
                held.push(addr);
            } else {
                self.stats.held_dropped += 1;
            }
        }
    }

    /// The identity that held `addr` at `ts_ns`: the binding covering that
    /// time; before the address's first binding (traffic before the first
    /// claim, e.g. a lease renewed after the capture began), its first holder;
    /// in a gap between holders, nobody.
    pub fn identity_at(&self, addr: IpAddr, ts_ns: u64) -> Option<&HostIdentity> {
        self.identities.get(self.index_at(addr, ts_ns)?)
    }

    fn index_at(&self, addr: IpAddr, ts_ns: u64) -> Option<usize> {
        let h = self.history.get(&addr)?;
        let covering = h
            .iter()
            .rev()
            .find(|b| b.from_ns <= ts_ns && b.until_ns.is_none_or(|u| ts_ns < u));
        let b = covering.or_else(|| h.first().filter(|b| ts_ns < b.from_ns))?;
        Some(b.identity)
    }

    /// The host that held `addr` at `ts_ns` (as [`HostTable::identity_at`]),
    /// with every address it was bound to.
    pub fn host_at(&self, addr: IpAddr, ts_ns: u64) -> Option<HostRecord> {
        let id = self.index_at(addr, ts_ns)?;
        let ident = self.identities.get(id)?;
        let mut addresses: Vec<HostAddress> = self
            .held
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|ip| {
                let mut own = self.history.get(ip)?.iter().filter(|b| b.identity == id);
                let first = own.next()?;
                let span = own.fold(
                    (first.from_ns, first.until_ns.unwrap_or(first.last_ns)),
                    |(f, l), b| (f.min(b.from_ns), l.max(b.until_ns.unwrap_or(b.last_ns))),
                );
                Some(HostAddress {
                    ip: *ip,
                    first_ns: span.0,
                    last_ns: span.1,
                })
            })
            .collect();
        addresses.sort_by_key(|a| (a.first_ns, a.ip));
        Some(HostRecord {
            key: ident.key.clone(),
            name: ident.name.clone(),
            fqdn: ident.fqdn.clone(),
            mac: ident.mac.map(|m| m.to_string()),
            addresses,
        })
    }

    /// The identity with this MAC, if any claim named it.
    pub fn by_mac(&self, mac: Mac) -> Option<&HostIdentity> {
        self.identities.get(*self.by_mac.get(&mac)?)
    }

    /// Every binding, by address then time, with its identity.
    pub fn bindings(&self) -> impl Iterator<Item = (IpAddr, &Binding, &HostIdentity)> {
        self.history.iter().flat_map(move |(a, h)| {
            h.iter()
                .filter_map(move |b| Some((*a, b, self.identities.get(b.identity)?)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(
        action: ClaimAction,
        mac: Option<&str>,
        addr: Option<&str>,
        name: Option<&str>,
    ) -> IdentityClaim {
        IdentityClaim {
            source: IdentitySource::Dhcp,
            action,
            mac: mac.and_then(Mac::parse),
            address: addr.map(|a| a.parse().unwrap()),
            hostname: name.map(Into::into),
            fqdn: None,
            ttl: None,
        }
    }

    const MAC_A: &str = "02:00:00:00:00:0a";
    const MAC_B: &str = "02:00:00:00:00:0b";

    #[test]
    fn dhcp_move_keeps_the_identity_and_hands_the_address_on() {
        let mut t = HostTable::new();
        let ip1: IpAddr = "10.0.0.5".parse().unwrap();
        let ip2: IpAddr = "10.0.0.9".parse().unwrap();
        t.observe(
            10,
            &claim(ClaimAction::Describe, Some(MAC_A), None, Some("PC-A")),
        );
        t.observe(
            11,
            &claim(ClaimAction::Bind, Some(MAC_A), Some("10.0.0.5"), None),
        );
        // A moves to .9; B gets .5.
        t.observe(
            100,
            &claim(ClaimAction::Bind, Some(MAC_A), Some("10.0.0.9"), None),
        );
        t.observe(
            120,
            &claim(
                ClaimAction::Bind,
                Some(MAC_B),
                Some("10.0.0.5"),
                Some("PC-B"),
            ),
        );
        let at = |ip, ts| {
            t.identity_at(ip, ts)
                .map(|i| (i.key.clone(), i.name.clone()))
        };
        let a = Some((format!("mac:{MAC_A}"), Some("PC-A".to_owned())));
        let b = Some((format!("mac:{MAC_B}"), Some("PC-B".to_owned())));
        assert_eq!(at(ip1, 50), a);
        // A's new lease ended the old one: between the move and B, nobody.
        assert_eq!(at(ip1, 110), None);
        assert_eq!(at(ip1, 130), b);
        assert_eq!(at(ip2, 130), a);
        // Before any claim for .9: its first holder.
        assert_eq!(at(ip2, 5), a);
        assert_eq!(t.bindings().count(), 3);
        // A's record lists both addresses, the old one ended by the move.
        let h = t.host_at(ip2, 130).unwrap();
        assert_eq!(
            (h.name.as_deref(), h.mac.as_deref()),
            (Some("PC-A"), Some(MAC_A))
        );
        let spans: Vec<_> = h
            .addresses
            .iter()
            .map(|a| (a.ip, a.first_ns, a.last_ns))
            .collect();
        assert_eq!(spans, [(ip1, 11, 100), (ip2, 100, 100)]);
        assert_eq!(t.host_at(ip1, 110), None);
    }

    #[test]
    fn a_name_only_identity_takes_its_mac_when_dhcp_tells_it() {
        let mut t = HostTable::new();
        let mut nb = claim(ClaimAction::Bind, None, Some("10.0.0.7"), Some("WS-7"));
        nb.source = IdentitySource::Nbns;
        t.observe(1, &nb);
        assert_eq!(
            t.identity_at("10.0.0.7".parse().unwrap(), 2).unwrap().key,
            "name:ws-7"
        );
        t.observe(
            3,
            &claim(ClaimAction::Describe, Some(MAC_A), None, Some("ws-7")),
        );
        let i = t.identity_at("10.0.0.7".parse().unwrap(), 4).unwrap();
        assert_eq!(i.key, format!("mac:{MAC_A}"));
        assert_eq!(
            t.by_mac(Mac::parse(MAC_A).unwrap())
                .unwrap()
                .name
                .as_deref(),
            Some("ws-7")
        );
    }

    #[test]
    fn release_ends_the_binding_and_tables_stay_bounded() {
        let mut t = HostTable::new();
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        t.observe(
            1,
            &claim(ClaimAction::Bind, Some(MAC_A), Some("10.0.0.5"), None),
        );
        t.observe(
            5,
            &claim(ClaimAction::Release, Some(MAC_A), Some("10.0.0.5"), None),
        );
        assert!(t.identity_at(ip, 3).is_some());
        assert!(t.identity_at(ip, 6).is_none());
        for i in 0..(MAX_BINDINGS_PER_ADDRESS as u64 + 4) {
            let mac = format!("02:00:00:00:01:{:02x}", i);
            t.observe(
                10 + i,
                &claim(ClaimAction::Bind, Some(&mac), Some("10.0.0.5"), None),
            );
        }
        assert_eq!(t.history.get(&ip).unwrap().len(), MAX_BINDINGS_PER_ADDRESS);
        assert_eq!(t.stats.bindings_dropped, 5);
        // One MAC renaming itself in every claim does not grow the name index.
        for i in 0..(MAX_NAMES as u64 + 10) {
            let name = format!("n{i}");
            t.observe(
                100 + i,
                &claim(ClaimAction::Describe, Some(MAC_B), None, Some(&name)),
            );
        }
        assert_eq!(t.by_name.len(), MAX_NAMES);
        assert!(t.stats.names_dropped >= 10);
        assert_eq!(t.identities.len(), 1 + MAX_BINDINGS_PER_ADDRESS + 4 + 1);
    }
}
