//! DNS answer bindings: which names a resolver answer bound to an address,
//! for flows that carry no usable name themselves (no SNI, ECH, plain TCP).
//!
//! Only answers to queries this cache saw are used: a response must match a
//! pending query on the same flow (same client, DNS id, question type and
//! name, case-insensitively) or it is counted as unsolicited and ignored, so a
//! spoofed or stray answer cannot attribute a flow. Only the answer section
//! is read; authority and additional records are not bindings.
//!
//! Time is packet time in nanoseconds, never the wall clock. Everything is
//! bounded (bindings, history per address, pending queries) and what is
//! dropped is counted in [`DnsCacheStats`]. Results never depend on hash
//! iteration order: the hash maps are only probed, and every "oldest" or
//! "most recent" choice goes through a heap or an explicit key, with an
//! insertion sequence number as the tie-break.
//!
//! Lookups answer "as of" a time: history is kept per address, so a flow
//! looked up late still gets the binding that was valid when it started.

use crate::dissect::dns::{DnsMessage, RData};
use hashbrown::HashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;

/// CNAME hops followed from a question name. Resolvers give up well before
/// this (Unbound restarts at most 11 times); a longer chain is an anomaly.
pub const MAX_CHAIN: usize = 16;

const NS_PER_SEC: u64 = 1_000_000_000;

/// Limits and timings of a [`DnsCache`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsCacheConfig {
    /// Bindings held in total; the oldest-bound is evicted first (counted).
    pub max_bindings: usize,
    /// Bindings kept per address (its most recent ones).
    pub max_per_address: usize,
    /// Outstanding query questions; the oldest is dropped first (counted).
    pub max_pending: usize,
    /// Lowest TTL used: clients and OS caches keep answers longer than a
    /// TTL of a few seconds suggests.
    pub min_ttl_secs: u32,
    /// Highest TTL used, so a bogus huge TTL cannot pin a binding.
    pub max_ttl_secs: u32,
    /// A binding is still used this long after its TTL ran out: clients
    /// connect to addresses they resolved a while ago.
    pub grace_secs: u32,
    /// A query unanswered for this long is forgotten.
    pub pending_timeout_secs: u32,
    /// A binding is kept in memory this long after it stopped being valid, so
    /// a flow reported late can still be looked up as of its start. Memory
    /// only: validity is always checked against the lookup time.
    pub retain_secs: u32,
}

impl Default for DnsCacheConfig {
    fn default() -> Self {
        DnsCacheConfig {
            max_bindings: 262_144,
            max_per_address: 4,
            max_pending: 65_536,
            min_ttl_secs: 30,
            max_ttl_secs: 86_400,
            grace_secs: 300,
            pending_timeout_secs: 30,
            retain_secs: 3_600,
        }
    }
}

/// Names a DNS answer bound to one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Lower case, no trailing dot: the question name first, then each CNAME
    /// target in chain order, ending with the owner of the address record.
    pub names: Vec<String>,
    pub addr: IpAddr,
    /// The client the answer was sent to.
    pub client: IpAddr,
    /// The flow that carried the first answer.
    pub flow_id: u64,
    /// Packet time of the first answer.
    pub bound_ns: u64,
    /// Packet time of the latest identical answer (same client, names and
    /// address, while the binding was still valid); `bound_ns` if none.
    pub refreshed_ns: u64,
    /// TTL of the latest answer, clamped to the configured range.
    pub ttl_secs: u32,
    /// Last packet time at which the binding is used: the latest answer's
    /// expiry plus the grace period (never earlier than a previous answer's).
    pub valid_until_ns: u64,
}

impl Binding {
    /// The name the client asked for.
    pub fn question(&self) -> &str {
        self.names.first().map_or("", String::as_str)
    }

    /// Whether the binding may be used for a flow at `ts_ns`.
    pub fn valid_at(&self, ts_ns: u64) -> bool {
        self.bound_ns <= ts_ns && ts_ns <= self.valid_until_ns
    }
}

/// Counters; `bindings` and `pending` are current sizes, the rest totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsCacheStats {
    /// Bindings held now.
    pub bindings: u64,
    /// Pending query questions held now.
    pub pending: u64,
    /// Query questions recorded as pending.
    pub queries: u64,
    /// Responses that matched a pending query.
    pub solicited: u64,
    /// Responses with no matching pending query, ignored.
    pub unsolicited: u64,
    /// Bindings created.
    pub added: u64,
    /// Identical answers that extended an existing binding.
    pub refreshed: u64,
    /// Bindings evicted to stay within `max_bindings`.
    pub evicted: u64,
    /// Of those, protected bindings (names the caller asked to keep, e.g.
    /// catalogued ones): evicted only when nothing else is left to evict.
    pub protected_evicted: u64,
    /// Bindings pushed out of an address's history by newer ones.
    pub history_dropped: u64,
    /// Bindings removed `retain_secs` after they stopped being valid.
    pub expired: u64,
    /// Pending questions dropped to stay within `max_pending`.
    pub pending_dropped: u64,
    /// Pending questions that timed out unanswered.
    pub pending_expired: u64,
    /// CNAME chains cut at [`MAX_CHAIN`] hops.
    pub chains_truncated: u64,
    /// CNAME chains that looped back to a name already in the chain.
    pub loops: u64,
}

/// What [`DnsCache::response`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseOutcome {
    /// The message has the QR bit clear: it is a query, nothing done.
    NotResponse,
    /// No pending query matched: ignored (counted in `unsolicited`).
    Unsolicited,
    /// Matched `questions` pending questions.
    Answered {
        questions: u32,
        /// New bindings.
        bound: u32,
        /// Existing bindings extended by an identical answer.
        refreshed: u32,
        /// A CNAME chain was longer than [`MAX_CHAIN`]; addresses past the
        /// cut are not bound.
        chain_truncated: bool,
        /// A CNAME chain looped.
        chain_loop: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PendingKey {
    flow_id: u64,
    client: IpAddr,
    id: u16,
    qtype: u16,
    name: Box<str>,
}

#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    /// Evicted only after every unprotected binding.
    protected: bool,
    b: Binding,
}

/// Bounded, deterministic table of DNS answer bindings.
#[derive(Debug)]
pub struct DnsCache {
    cfg: DnsCacheConfig,
    /// Per address: its history, unordered, at most `max_per_address`.
    by_addr: HashMap<IpAddr, Vec<Entry>>,
    /// Bindings held (the entries of `by_addr`).
    live: usize,
    /// (protected, refreshed_ns), seq, address: capacity eviction, the
    /// oldest unprotected first, then the oldest protected.
    by_age: LazyHeap<(bool, u64)>,
    /// valid_until_ns, seq, address: removal after `retain_secs`.
    by_expiry: LazyHeap<u64>,
    /// Pending question → (packet time, seq).
    pending: HashMap<PendingKey, (u64, u64)>,
    /// (packet time, seq, question), oldest first; kept in step lazily
    /// (an entry is live while `pending` holds its question with its time
    /// and seq), as the bindings' heaps are ([`LazyHeap`]).
    pending_by_age: BinaryHeap<Reverse<(u64, u64, PendingKey)>>,
    /// Latest packet time seen.
    now_ns: u64,
    next_seq: u64,
    stats: DnsCacheStats,
}

fn secs(s: u32) -> u64 {
    u64::from(s).saturating_mul(NS_PER_SEC)
}

/// Lower case, one trailing dot dropped; `None` for the root (empty) name.
fn normalize(name: &str) -> Option<String> {
    let n = name.strip_suffix('.').unwrap_or(name);
    (!n.is_empty()).then(|| n.to_ascii_lowercase())
}

/// [`normalize`]d, the root name as empty.
pub fn normalized(name: &str) -> String {
    normalize(name).unwrap_or_default()
}

/// Compares a wire name with a normalized one without allocating.
fn same_name(wire: &str, normalized: &str) -> bool {
    wire.strip_suffix('.')
        .unwrap_or(wire)
        .eq_ignore_ascii_case(normalized)
}

/// Why a [`ChainWalk`] ended before running out of CNAMEs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChainEnd {
    /// The last name owns no CNAME (or the question was empty).
    #[default]
    Done,
    /// The next target was already in the chain.
    Loop,
    /// The chain already held [`MAX_CHAIN`] hops.
    Truncated,
}

/// The CNAME chain of a question in a response's answer section, walked
/// without allocating: the question first, then the target of the first
/// CNAME owned by the current name (a second one is illegal; answer order
/// keeps the choice deterministic), at most [`MAX_CHAIN`] hops, stopping at
/// a loop. Names come as on the wire less one trailing dot: what
/// [`normalize`] does but for case. The one walk that `response` binds by,
/// [`cname_chain`] lists and [`find_in_chain`] searches.
pub struct ChainWalk<'a> {
    msg: &'a DnsMessage,
    seen: [&'a str; MAX_CHAIN + 1],
    len: usize,
    next: Option<&'a str>,
    /// Why the walk ended (read once it has).
    pub end: ChainEnd,
}

fn without_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

impl<'a> ChainWalk<'a> {
    pub fn new(msg: &'a DnsMessage, question: &'a str) -> Self {
        let first = without_dot(question);
        ChainWalk {
            msg,
            seen: [""; MAX_CHAIN + 1],
            len: 0,
            next: (!first.is_empty()).then_some(first),
            end: ChainEnd::Done,
        }
    }
}

impl<'a> Iterator for ChainWalk<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let owner = self.next.take()?;
        if let Some(slot) = self.seen.get_mut(self.len) {
            *slot = owner;
        }
        self.len += 1;
        let target = self.msg.answers.iter().find_map(|r| match &r.rdata {
            RData::Cname(t) if same_name(&r.rrname, owner) => {
                Some(without_dot(t)).filter(|t| !t.is_empty())
            }
            _ => None,
        });
        if let Some(t) = target {
            let seen = self.seen.get(..self.len).unwrap_or(&[]);
            if seen.iter().any(|n| n.eq_ignore_ascii_case(t)) {
                self.end = ChainEnd::Loop;
            } else if self.len > MAX_CHAIN {
                self.end = ChainEnd::Truncated;
            } else {
                self.next = Some(t);
            }
        }
        Some(owner)
    }
}

/// The CNAME chain of `question` ([`ChainWalk`]), normalised.
pub fn cname_chain(msg: &DnsMessage, question: &str) -> Vec<String> {
    ChainWalk::new(msg, question)
        .map(|n| n.to_ascii_lowercase())
        .collect()
}

/// The first name of `question`'s CNAME chain ([`ChainWalk`]) for which
/// `hit` gives something, with its place in the chain; without allocating.
/// Names go to `hit` not lower-cased (catalog matching ignores case).
pub fn find_in_chain<T>(
    msg: &DnsMessage,
    question: &str,
    mut hit: impl FnMut(&str) -> Option<T>,
) -> Option<(usize, T)> {
    ChainWalk::new(msg, question)
        .enumerate()
        .find_map(|(at, n)| hit(n).map(|t| (at, t)))
}

/// IPv4-mapped IPv6 addresses are the IPv4 address they carry.
fn canonical(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

impl DnsCache {
    /// A cache with `cfg`; zero limits are raised to one.
    pub fn new(cfg: DnsCacheConfig) -> Self {
        let cfg = DnsCacheConfig {
            max_bindings: cfg.max_bindings.max(1),
            max_per_address: cfg.max_per_address.max(1),
            max_pending: cfg.max_pending.max(1),
            ..cfg
        };
        DnsCache {
            cfg,
            by_addr: HashMap::new(),
            live: 0,
            by_age: LazyHeap::default(),
            by_expiry: LazyHeap::default(),
            pending: HashMap::new(),
            pending_by_age: BinaryHeap::new(),
            now_ns: 0,
            next_seq: 0,
            stats: DnsCacheStats::default(),
        }
    }

    pub fn config(&self) -> &DnsCacheConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &DnsCacheStats {
        &self.stats
    }

    /// A query message seen on flow `flow_id` from `client`: each question is
    /// recorded as pending. Messages with the QR bit set or an opcode other
    /// than QUERY are ignored; a repeated question (retransmission) restarts
    /// its timeout.
    pub fn query(&mut self, flow_id: u64, client: IpAddr, msg: &DnsMessage, ts_ns: u64) {
        self.advance(ts_ns);
        if msg.is_response() || msg.flags.opcode != 0 {
            return;
        }
        let client = canonical(client);
        for q in &msg.queries {
            let Some(name) = normalize(&q.rrname) else {
                continue;
            };
            let key = PendingKey {
                flow_id,
                client,
                id: msg.id,
                qtype: q.rrtype,
                name: name.into_boxed_str(),
            };
            let seq = self.seq();
            // A retransmission's earlier entry goes stale.
            if self.pending.insert(key.clone(), (ts_ns, seq)).is_none() {
                self.stats.queries += 1;
            }
            self.pending_by_age.push(Reverse((ts_ns, seq, key)));
            while self.pending.len() > self.cfg.max_pending {
                let Some(oldest) = self.pop_oldest_pending() else {
                    break;
                };
                self.pending.remove(&oldest);
                self.stats.pending_dropped += 1;
            }
        }
        self.stats.pending = self.pending.len() as u64;
        if self.pending_by_age.len()
            > self
                .pending
                .len()
                .saturating_mul(2)
                .saturating_add(HEAP_SLACK)
        {
            let pending = &self.pending;
            self.pending_by_age
                .retain(|Reverse((t, seq, k))| pending.get(k) == Some(&(*t, *seq)));
        }
    }

    /// Takes the oldest pending question's entry off `pending_by_age`
    /// (and the stale entries above it).
    fn pop_oldest_pending(&mut self) -> Option<PendingKey> {
        while let Some(Reverse((t, seq, k))) = self.pending_by_age.pop() {
            if self.pending.get(&k) == Some(&(t, seq)) {
                return Some(k);
            }
        }
        None
    }

    /// A response on flow `flow_id` to `client`. Used only if it answers a
    /// pending query (same flow, client, DNS id, question type and name);
    /// the matched questions stop being pending. Each A/AAAA answer reachable
    /// from a question through the CNAME chain (followed by owner name, in any
    /// answer order, at most [`MAX_CHAIN`] hops, loops stopped) is bound to
    /// the chain up to its owner, with its TTL clamped to the configured range.
    pub fn response(
        &mut self,
        flow_id: u64,
        client: IpAddr,
        msg: &DnsMessage,
        ts_ns: u64,
    ) -> ResponseOutcome {
        self.response_protecting(flow_id, client, msg, ts_ns, &|_| false)
    }

    /// [`Self::response`], where a binding whose chain holds a name for
    /// which `protect` is true is evicted only after every other binding:
    /// a flood of other names cannot push out the bindings that matter.
    pub fn response_protecting(
        &mut self,
        flow_id: u64,
        client: IpAddr,
        msg: &DnsMessage,
        ts_ns: u64,
        protect: &dyn Fn(&str) -> bool,
    ) -> ResponseOutcome {
        self.advance(ts_ns);
        if !msg.is_response() {
            return ResponseOutcome::NotResponse;
        }
        let client = canonical(client);
        let mut questions: Vec<String> = Vec::new();
        for q in &msg.queries {
            let Some(name) = normalize(&q.rrname) else {
                continue;
            };
            let key = PendingKey {
                flow_id,
                client,
                id: msg.id,
                qtype: q.rrtype,
                name: name.into_boxed_str(),
            };
            // Its entry in `pending_by_age` goes stale.
            if self.pending.remove(&key).is_some() {
                let name = key.name.into_string();
                if !questions.contains(&name) {
                    questions.push(name);
                }
            }
        }
        self.stats.pending = self.pending.len() as u64;
        if questions.is_empty() {
            self.stats.unsolicited += 1;
            return ResponseOutcome::Unsolicited;
        }
        self.stats.solicited += 1;

        let (mut bound, mut refreshed) = (0u32, 0u32);
        let (mut chain_truncated, mut chain_loop) = (false, false);
        for question in questions.iter() {
            let mut walk = ChainWalk::new(msg, question);
            let mut names: Vec<String> = Vec::new();
            for owner in walk.by_ref() {
                names.push(owner.to_ascii_lowercase());
                let addrs = msg
                    .answers
                    .iter()
                    .filter(|r| same_name(&r.rrname, owner))
                    .filter_map(|r| match r.rdata {
                        RData::A(a) => Some((IpAddr::V4(a), r.ttl)),
                        RData::Aaaa(a) => Some((IpAddr::V6(a), r.ttl)),
                        _ => None,
                    });
                // Asked once per owner that has addresses.
                let mut protected = None;
                for (addr, ttl) in addrs {
                    let protected =
                        *protected.get_or_insert_with(|| names.iter().any(|n| protect(n)));
                    if self.bind(addr, &names, client, flow_id, ts_ns, ttl, protected) {
                        refreshed += 1;
                    } else {
                        bound += 1;
                    }
                }
            }
            match walk.end {
                ChainEnd::Done => {}
                ChainEnd::Loop => {
                    self.stats.loops += 1;
                    chain_loop = true;
                }
                ChainEnd::Truncated => {
                    self.stats.chains_truncated += 1;
                    chain_truncated = true;
                }
            }
        }
        ResponseOutcome::Answered {
            questions: u32::try_from(questions.len()).unwrap_or(u32::MAX),
            bound,
            refreshed,
            chain_truncated,
            chain_loop,
        }
    }

    /// The binding for `addr` valid at `ts_ns` (bound at or before it, and
    /// `ts_ns` within TTL plus grace of its latest answer). Bindings made for
    /// `client` are preferred; among equals the most recently answered as of
    /// `ts_ns` wins, so a later binding never hides the one in force then.
    pub fn lookup(&self, addr: IpAddr, client: IpAddr, ts_ns: u64) -> Option<&Binding> {
        let list = self.by_addr.get(&canonical(addr))?;
        let client = canonical(client);
        // A refresh after ts_ns says nothing about ts_ns: rank by first answer then.
        let recency = |e: &&Entry| {
            let t = if e.b.refreshed_ns <= ts_ns {
                e.b.refreshed_ns
            } else {
                e.b.bound_ns
            };
            (t, e.seq)
        };
        let valid = |e: &&Entry| e.b.valid_at(ts_ns);
        list.iter()
            .filter(valid)
            .filter(|e| e.b.client == client)
            .max_by_key(recency)
            .or_else(|| list.iter().filter(valid).max_by_key(recency))
            .map(|e| &e.b)
    }

    /// Every binding held for `addr`, valid or not, in no particular order
    /// (for evidence: other names that shared the address).
    pub fn history(&self, addr: IpAddr) -> impl Iterator<Item = &Binding> {
        self.by_addr
            .get(&canonical(addr))
            .into_iter()
            .flatten()
            .map(|e| &e.b)
    }

    fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        s
    }

    /// Moves packet time forward and drops what timed out.
    fn advance(&mut self, ts_ns: u64) {
        self.now_ns = self.now_ns.max(ts_ns);
        let timeout = secs(self.cfg.pending_timeout_secs);
        // Entries come off in time order, stale or not: a question still
        // pending at its time is dropped; the first one not timed out ends
        // it (all after it are as recent). Liveness is checked only then.
        while let Some(Reverse((t, _, _))) = self.pending_by_age.peek() {
            if t.saturating_add(timeout) >= self.now_ns {
                break;
            }
            let Some(Reverse((t, seq, key))) = self.pending_by_age.pop() else {
                break;
            };
            if self.pending.get(&key) == Some(&(t, seq)) {
                self.pending.remove(&key);
                self.stats.pending_expired += 1;
            }
        }
        self.stats.pending = self.pending.len() as u64;
        let retain = secs(self.cfg.retain_secs);
        let now = self.now_ns;
        while let Some((until, seq, addr)) = self
            .by_expiry
            .pop_if(|&until| until.saturating_add(retain) < now)
        {
            let live =
                entry_of(&self.by_addr, addr, seq).is_some_and(|e| e.b.valid_until_ns == until);
            if live {
                self.remove(addr, seq);
                self.stats.expired += 1;
            }
        }
    }

    /// Removes binding `seq` of `addr` from every index.
    fn remove(&mut self, addr: IpAddr, seq: u64) {
        if let Some(list) = self.by_addr.get_mut(&addr) {
            // Its heap entries go stale: dropped when they come to the top.
            if let Some(i) = list.iter().position(|e| e.seq == seq) {
                list.swap_remove(i);
                self.live = self.live.saturating_sub(1);
            }
            if list.is_empty() {
                self.by_addr.remove(&addr);
            }
        }
        self.stats.bindings = self.live as u64;
    }

    /// Binds `addr` to `names`; true if an identical valid binding was
    /// extended instead of a new one made.
    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        addr: IpAddr,
        names: &[String],
        client: IpAddr,
        flow_id: u64,
        ts_ns: u64,
        ttl: u32,
        protected: bool,
    ) -> bool {
        let addr = canonical(addr);
        // max then min: no panic if the configured range is inverted.
        let ttl_secs = ttl.max(self.cfg.min_ttl_secs).min(self.cfg.max_ttl_secs);
        let until = ts_ns.saturating_add(secs(ttl_secs).saturating_add(secs(self.cfg.grace_secs)));
        let list = self.by_addr.entry(addr).or_default();

        if let Some(e) = list
            .iter_mut()
            .find(|e| e.b.client == client && e.b.names == names && e.b.valid_at(ts_ns))
        {
            // A changed key is pushed anew; the old entry goes stale.
            let (refreshed, valid_until) = (e.b.refreshed_ns, e.b.valid_until_ns);
            e.b.refreshed_ns = e.b.refreshed_ns.max(ts_ns);
            e.b.ttl_secs = ttl_secs;
            e.b.valid_until_ns = e.b.valid_until_ns.max(until);
            if e.b.refreshed_ns != refreshed {
                self.by_age
                    .push((e.protected, e.b.refreshed_ns), e.seq, addr);
            }
            if e.b.valid_until_ns != valid_until {
                self.by_expiry.push(e.b.valid_until_ns, e.seq, addr);
            }
            self.stats.refreshed += 1;
            self.compact();
            return true;
        }

        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        list.push(Entry {
            seq,
            protected,
            b: Binding {
                names: names.to_vec(),
                addr,
                client,
                flow_id,
                bound_ns: ts_ns,
                refreshed_ns: ts_ns,
                ttl_secs,
                valid_until_ns: until,
            },
        });
        self.live += 1;
        self.by_age.push((protected, ts_ns), seq, addr);
        self.by_expiry.push(until, seq, addr);
        self.stats.added += 1;

        if list.len() > self.cfg.max_per_address {
            let oldest = list
                .iter()
                .min_by_key(|e| (e.b.refreshed_ns, e.seq))
                .map(|e| e.seq);
            if let Some(old) = oldest {
                self.remove(addr, old);
                self.stats.history_dropped += 1;
            }
        }
        while self.live > self.cfg.max_bindings {
            let by_addr = &self.by_addr;
            let Some(((was_protected, _), old, old_addr)) =
                self.by_age.first(|&((p, r), seq, a)| {
                    entry_of(by_addr, a, seq)
                        .is_some_and(|e| e.protected == p && e.b.refreshed_ns == r)
                })
            else {
                break;
            };
            self.remove(old_addr, old);
            self.stats.evicted += 1;
            self.stats.protected_evicted += u64::from(was_protected);
        }
        self.stats.bindings = self.live as u64;
        self.compact();
        false
    }

    /// Drops the heaps' stale entries once they outnumber the live ones,
    /// so the heaps stay within a small multiple of the bindings held.
    fn compact(&mut self) {
        let by_addr = &self.by_addr;
        self.by_age.compact(self.live, |&((p, r), seq, a)| {
            entry_of(by_addr, a, seq).is_some_and(|e| e.protected == p && e.b.refreshed_ns == r)
        });
        self.by_expiry.compact(self.live, |&(u, seq, a)| {
            entry_of(by_addr, a, seq).is_some_and(|e| e.b.valid_until_ns == u)
        });
    }
}

/// Binding `seq` of `addr`, if still held.
fn entry_of(by_addr: &HashMap<IpAddr, Vec<Entry>>, addr: IpAddr, seq: u64) -> Option<&Entry> {
    by_addr.get(&addr)?.iter().find(|e| e.seq == seq)
}

/// A min-heap of (key, seq, address) over the bindings, kept in step
/// lazily: a removed or re-keyed binding leaves its entry behind, stale,
/// and an entry is checked against the binding only when it comes to the
/// top (or at a compaction). The order is the key's then the seq's, as a
/// `BTreeMap` would give, at a push's cost instead of a tree insert and
/// removal per change (callgrind, bench capture: ~450 instructions each).
#[derive(Debug)]
struct LazyHeap<K: Ord> {
    heap: BinaryHeap<Reverse<(K, u64, IpAddr)>>,
}

impl<K: Ord> Default for LazyHeap<K> {
    fn default() -> Self {
        LazyHeap {
            heap: Default::default(),
        }
    }
}

/// Stale heap entries tolerated beyond the live ones before a compaction.
const HEAP_SLACK: usize = 1024;

impl<K: Ord + Copy> LazyHeap<K> {
    fn push(&mut self, key: K, seq: u64, addr: IpAddr) {
        self.heap.push(Reverse((key, seq, addr)));
    }

    /// The smallest live entry (`live` tells), dropping stale ones above it.
    fn first(&mut self, live: impl Fn(&(K, u64, IpAddr)) -> bool) -> Option<(K, u64, IpAddr)> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if live(top) {
                return Some(*top);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes the smallest entry, stale or not, if its key passes `due`.
    fn pop_if(&mut self, due: impl Fn(&K) -> bool) -> Option<(K, u64, IpAddr)> {
        let Reverse(top) = self.heap.peek()?;
        if !due(&top.0) {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| e)
    }

    /// Keeps only the live entries once the stale ones outnumber them.
    fn compact(&mut self, held: usize, live: impl Fn(&(K, u64, IpAddr)) -> bool) {
        if self.heap.len() > held.saturating_mul(2).saturating_add(HEAP_SLACK) {
            self.heap.retain(|Reverse(e)| live(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dns::{parse_message, DnsFlags, DnsQuery, DnsRecord};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const S: u64 = NS_PER_SEC;
    const A: u16 = 1;
    const AAAA: u16 = 28;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn question(name: &str, qtype: u16) -> DnsQuery {
        DnsQuery {
            rrname: name.into(),
            rrname_truncated: false,
            rrtype: qtype,
            rrclass: 1,
        }
    }

    fn rec(owner: &str, ttl: u32, rdata: RData) -> DnsRecord {
        let rrtype = match rdata {
            RData::A(_) => 1,
            RData::Aaaa(_) => 28,
            RData::Cname(_) => 5,
            _ => 16,
        };
        DnsRecord {
            rrname: owner.into(),
            rrname_truncated: false,
            rrtype,
            rrclass: 1,
            ttl,
            rdata,
        }
    }

    fn a(owner: &str, addr: &str, ttl: u32) -> DnsRecord {
        rec(owner, ttl, RData::A(addr.parse::<Ipv4Addr>().unwrap()))
    }

    fn aaaa(owner: &str, addr: &str, ttl: u32) -> DnsRecord {
        rec(owner, ttl, RData::Aaaa(addr.parse::<Ipv6Addr>().unwrap()))
    }

    fn cname(owner: &str, target: &str) -> DnsRecord {
        rec(owner, 300, RData::Cname(target.into()))
    }

    fn message(id: u16, qr: bool, queries: Vec<DnsQuery>, answers: Vec<DnsRecord>) -> DnsMessage {
        let raw = if qr { 0x8180 } else { 0x0100 };
        DnsMessage {
            id,
            flags: DnsFlags::from_raw(raw),
            rcode: 0,
            counts: [queries.len() as u16, answers.len() as u16, 0, 0],
            queries,
            answers,
            authorities: Vec::new(),
            additionals: Vec::new(),
            anomalies: Default::default(),
        }
    }

    fn q(id: u16, name: &str) -> DnsMessage {
        message(id, false, vec![question(name, A)], Vec::new())
    }

    fn r(id: u16, name: &str, answers: Vec<DnsRecord>) -> DnsMessage {
        message(id, true, vec![question(name, A)], answers)
    }

    const CLIENT: &str = "10.0.0.5";
    const FLOW: u64 = 7;

    fn cache() -> DnsCache {
        DnsCache::new(DnsCacheConfig::default())
    }

    /// Query then response on FLOW from CLIENT at `t` seconds.
    fn resolve(
        c: &mut DnsCache,
        id: u16,
        name: &str,
        answers: Vec<DnsRecord>,
        t: u64,
    ) -> ResponseOutcome {
        c.query(FLOW, ip(CLIENT), &q(id, name), t * S);
        c.response(FLOW, ip(CLIENT), &r(id, name, answers), t * S)
    }

    fn names_at(c: &DnsCache, addr: &str, client: &str, ts: u64) -> Option<Vec<String>> {
        c.lookup(ip(addr), ip(client), ts).map(|b| b.names.clone())
    }

    #[test]
    fn solicited_answer_is_bound_case_insensitively() {
        let mut c = cache();
        c.query(FLOW, ip(CLIENT), &q(0x1234, "WWW.Example.COM."), 10 * S);
        assert_eq!(c.stats().pending, 1);
        let out = c.response(
            FLOW,
            ip(CLIENT),
            &r(
                0x1234,
                "www.EXAMPLE.com",
                vec![a("wWw.example.com", "93.184.216.34", 300)],
            ),
            10 * S + 20_000_000,
        );
        assert_eq!(
            out,
            ResponseOutcome::Answered {
                questions: 1,
                bound: 1,
                refreshed: 0,
                chain_truncated: false,
                chain_loop: false
            }
        );
        let b = c.lookup(ip("93.184.216.34"), ip(CLIENT), 11 * S).unwrap();
        assert_eq!(b.names, ["www.example.com"]);
        assert_eq!(b.question(), "www.example.com");
        assert_eq!(b.client, ip(CLIENT));
        assert_eq!(b.flow_id, FLOW);
        assert_eq!(b.bound_ns, 10 * S + 20_000_000);
        assert_eq!(b.ttl_secs, 300);
        assert_eq!(b.valid_until_ns, 10 * S + 20_000_000 + 600 * S);
        let st = c.stats();
        assert_eq!((st.queries, st.solicited, st.unsolicited), (1, 1, 0));
        assert_eq!((st.added, st.bindings, st.pending), (1, 1, 0));
    }

    #[test]
    fn unsolicited_answers_are_ignored_and_counted() {
        let mut c = cache();
        let resp = r(1, "evil.example", vec![a("evil.example", "6.6.6.6", 300)]);
        assert_eq!(
            c.response(FLOW, ip(CLIENT), &resp, S),
            ResponseOutcome::Unsolicited
        );
        assert_eq!(c.lookup(ip("6.6.6.6"), ip(CLIENT), S), None);
        assert_eq!(c.stats().unsolicited, 1);
        assert_eq!(c.stats().added, 0);
    }

    #[test]
    fn id_name_type_flow_and_client_must_all_match() {
        let mut c = cache();
        c.query(FLOW, ip(CLIENT), &q(42, "a.example"), S);
        let ans = || vec![a("a.example", "1.1.1.1", 300)];
        // Wrong id, wrong name, wrong flow, wrong client, wrong type.
        assert_eq!(
            c.response(FLOW, ip(CLIENT), &r(43, "a.example", ans()), S),
            ResponseOutcome::Unsolicited
        );
        assert_eq!(
            c.response(FLOW, ip(CLIENT), &r(42, "b.example", ans()), S),
            ResponseOutcome::Unsolicited
        );
        assert_eq!(
            c.response(FLOW + 1, ip(CLIENT), &r(42, "a.example", ans()), S),
            ResponseOutcome::Unsolicited
        );
        assert_eq!(
            c.response(FLOW, ip("10.0.0.6"), &r(42, "a.example", ans()), S),
            ResponseOutcome::Unsolicited
        );
        let aaaa_resp = message(42, true, vec![question("a.example", AAAA)], ans());
        assert_eq!(
            c.response(FLOW, ip(CLIENT), &aaaa_resp, S),
            ResponseOutcome::Unsolicited
        );
        // A response with no question section cannot be matched either.
        let bare = message(42, true, Vec::new(), ans());
        assert_eq!(
            c.response(FLOW, ip(CLIENT), &bare, S),
            ResponseOutcome::Unsolicited
        );
        assert_eq!(c.stats().unsolicited, 6);
        assert_eq!(c.lookup(ip("1.1.1.1"), ip(CLIENT), S), None);
        // The query is still pending: the right answer is used...
        assert!(matches!(
            c.response(FLOW, ip(CLIENT), &r(42, "a.example", ans()), S),
            ResponseOutcome::Answered { bound: 1, .. }
        ));
        // ...once: a duplicate response no longer matches anything.
        assert_eq!(
            c.response(FLOW, ip(CLIENT), &r(42, "a.example", ans()), S),
            ResponseOutcome::Unsolicited
        );
        assert_eq!(c.stats().solicited, 1);
        assert_eq!(c.stats().unsolicited, 7);
    }

    #[test]
    fn query_and_response_of_the_wrong_direction_do_nothing() {
        let mut c = cache();
        c.query(FLOW, ip(CLIENT), &r(1, "a.example", Vec::new()), S);
        assert_eq!(c.stats().queries, 0);
        assert_eq!(
            c.response(FLOW, ip(CLIENT), &q(1, "a.example"), S),
            ResponseOutcome::NotResponse
        );
        // Non-QUERY opcodes (e.g. UPDATE, opcode 5) are not recorded.
        let mut update = q(2, "zone.example");
        update.flags = DnsFlags::from_raw(5 << 11);
        c.query(FLOW, ip(CLIENT), &update, S);
        assert_eq!(c.stats().queries, 0);
        // The root name is never pending.
        c.query(FLOW, ip(CLIENT), &q(3, ""), S);
        assert_eq!(c.stats().queries, 0);
    }

    #[test]
    fn cname_chain_in_order() {
        let mut c = cache();
        let out = resolve(
            &mut c,
            9,
            "Telemetry.Vendor.example",
            vec![
                cname("telemetry.vendor.example", "tel.vendor.cdn.example."),
                cname("tel.vendor.cdn.example", "e1234.a.cdn.example"),
                a("e1234.a.cdn.example", "203.0.113.7", 60),
                aaaa("e1234.a.cdn.example", "2001:db8::7", 120),
            ],
            1,
        );
        assert!(matches!(
            out,
            ResponseOutcome::Answered {
                bound: 2,
                chain_loop: false,
                chain_truncated: false,
                ..
            }
        ));
        let want = [
            "telemetry.vendor.example",
            "tel.vendor.cdn.example",
            "e1234.a.cdn.example",
        ];
        assert_eq!(names_at(&c, "203.0.113.7", CLIENT, 2 * S).unwrap(), want);
        let v6 = c.lookup(ip("2001:db8::7"), ip(CLIENT), 2 * S).unwrap();
        assert_eq!(v6.names, want);
        assert_eq!(v6.ttl_secs, 120);
    }

    #[test]
    fn cname_chain_out_of_order_and_unrelated_records_ignored() {
        let mut c = cache();
        resolve(
            &mut c,
            9,
            "a.example",
            vec![
                a("unrelated.example", "198.51.100.9", 60),
                a("c.example", "198.51.100.1", 60),
                cname("b.example", "c.example"),
                cname("A.EXAMPLE", "B.example"),
            ],
            1,
        );
        assert_eq!(
            names_at(&c, "198.51.100.1", CLIENT, 2 * S).unwrap(),
            ["a.example", "b.example", "c.example"]
        );
        assert_eq!(c.lookup(ip("198.51.100.9"), ip(CLIENT), 2 * S), None);
        assert_eq!(c.stats().bindings, 1);
    }

    /// The walk without allocation visits the names `cname_chain` lists,
    /// in order (so a worker matching them finds what the ordered stage
    /// would): case, trailing dots, root targets, loops, long chains,
    /// second CNAMEs of one owner, unrelated records.
    #[test]
    fn find_in_chain_walks_the_chain_cname_chain_lists() {
        let long: Vec<DnsRecord> = (0..40)
            .map(|i| cname(&format!("n{i}.example"), &format!("N{}.example.", i + 1)))
            .collect();
        let cases: Vec<(&str, Vec<DnsRecord>)> = vec![
            ("a.example", vec![]),
            (
                "A.Example.",
                vec![
                    cname("a.EXAMPLE", "b.example."),
                    cname("B.example", "c.example"),
                ],
            ),
            (
                "a.example",
                vec![
                    cname("b.example", "c.example"),
                    cname("a.example.", "B.example"),
                ],
            ),
            (
                "a.example",
                vec![
                    cname("a.example", "b.example"),
                    cname("b.example", "A.example."),
                ],
            ),
            (
                "a.example",
                vec![cname("a.example", "."), cname("a.example", "z.example")],
            ),
            (
                "a.example",
                vec![cname("a.example", ""), a("a.example", "192.0.2.1", 1)],
            ),
            ("a.example..", vec![cname("a.example.", "b.example")]),
            (".", vec![cname("", "b.example")]),
            ("", vec![]),
            ("n0.example", long),
            (
                "a.example",
                vec![
                    cname("a.example", "b.example"),
                    cname("a.example", "c.example"),
                ],
            ),
        ];
        for (question, answers) in cases {
            let msg = r(1, question, answers);
            let listed = cname_chain(&msg, question);
            let mut seen = Vec::new();
            let none: Option<(usize, ())> = find_in_chain(&msg, question, |n| {
                seen.push(n.to_ascii_lowercase());
                None
            });
            assert!(none.is_none());
            assert_eq!(seen, listed, "{question:?}");
            // Stopping at each name gives its place.
            for (at, name) in listed.iter().enumerate() {
                let found = find_in_chain(&msg, question, |n| {
                    n.eq_ignore_ascii_case(name).then_some(n.len())
                });
                assert_eq!(found, Some((at, name.len())), "{question:?} {name}");
            }
        }
    }

    #[test]
    fn cname_loop_is_stopped_and_counted() {
        let mut c = cache();
        let out = resolve(
            &mut c,
            9,
            "a.example",
            vec![
                cname("a.example", "b.example"),
                cname("b.example", "A.example"),
                // Illegal next to a CNAME, but reachable: bound with the chain so far.
                a("b.example", "192.0.2.1", 60),
            ],
            1,
        );
        assert!(matches!(
            out,
            ResponseOutcome::Answered {
                bound: 1,
                chain_loop: true,
                ..
            }
        ));
        assert_eq!(c.stats().loops, 1);
        assert_eq!(
            names_at(&c, "192.0.2.1", CLIENT, 2 * S).unwrap(),
            ["a.example", "b.example"]
        );
        // A self-loop too.
        let out = resolve(
            &mut c,
            10,
            "s.example",
            vec![cname("s.example", "s.example")],
            2,
        );
        assert!(matches!(
            out,
            ResponseOutcome::Answered {
                bound: 0,
                chain_loop: true,
                ..
            }
        ));
        assert_eq!(c.stats().loops, 2);
    }

    fn chain(hops: usize) -> Vec<DnsRecord> {
        // Out of order on purpose: the address first, then the CNAMEs backwards.
        let mut v = vec![a(&format!("n{hops}.example"), "192.0.2.99", 60)];
        for i in (0..hops).rev() {
            v.push(cname(
                &format!("n{i}.example"),
                &format!("n{}.example", i + 1),
            ));
        }
        v
    }

    #[test]
    fn longest_allowed_chain_is_followed() {
        let mut c = cache();
        let out = resolve(&mut c, 1, "n0.example", chain(MAX_CHAIN), 1);
        assert!(matches!(
            out,
            ResponseOutcome::Answered {
                bound: 1,
                chain_truncated: false,
                ..
            }
        ));
        let b = c.lookup(ip("192.0.2.99"), ip(CLIENT), 2 * S).unwrap();
        assert_eq!(b.names.len(), MAX_CHAIN + 1);
        assert_eq!(b.names.first().unwrap(), "n0.example");
        assert_eq!(b.names.last().unwrap(), &format!("n{MAX_CHAIN}.example"));
        assert_eq!(c.stats().chains_truncated, 0);
    }

    #[test]
    fn over_long_chain_is_cut_and_counted() {
        let mut c = cache();
        let out = resolve(&mut c, 1, "n0.example", chain(MAX_CHAIN + 1), 1);
        assert!(matches!(
            out,
            ResponseOutcome::Answered {
                bound: 0,
                chain_truncated: true,
                ..
            }
        ));
        assert_eq!(c.lookup(ip("192.0.2.99"), ip(CLIENT), 2 * S), None);
        assert_eq!(c.stats().chains_truncated, 1);
    }

    #[test]
    fn only_the_answer_section_binds() {
        let mut c = cache();
        c.query(FLOW, ip(CLIENT), &q(5, "ns.example"), S);
        let mut resp = r(5, "ns.example", Vec::new());
        resp.authorities.push(a("ns.example", "192.0.2.53", 60));
        resp.additionals.push(a("ns.example", "192.0.2.54", 60));
        assert!(matches!(
            c.response(FLOW, ip(CLIENT), &resp, S),
            ResponseOutcome::Answered {
                questions: 1,
                bound: 0,
                ..
            }
        ));
        assert_eq!(c.lookup(ip("192.0.2.53"), ip(CLIENT), S), None);
        assert_eq!(c.lookup(ip("192.0.2.54"), ip(CLIENT), S), None);
    }

    #[test]
    fn ttl_is_clamped_and_grace_ends_validity() {
        let mut c = cache();
        resolve(
            &mut c,
            1,
            "short.example",
            vec![a("short.example", "192.0.2.1", 5)],
            100,
        );
        resolve(
            &mut c,
            2,
            "long.example",
            vec![a("long.example", "192.0.2.2", u32::MAX)],
            100,
        );
        let short = c.lookup(ip("192.0.2.1"), ip(CLIENT), 100 * S).unwrap();
        assert_eq!(short.ttl_secs, 30);
        assert_eq!(
            c.lookup(ip("192.0.2.2"), ip(CLIENT), 100 * S)
                .unwrap()
                .ttl_secs,
            86_400
        );
        // Valid from the answer to TTL + grace after it, inclusive.
        let end = (100 + 30 + 300) * S;
        assert!(c.lookup(ip("192.0.2.1"), ip(CLIENT), end).is_some());
        assert_eq!(c.lookup(ip("192.0.2.1"), ip(CLIENT), end + 1), None);
        assert_eq!(c.lookup(ip("192.0.2.1"), ip(CLIENT), 100 * S - 1), None);
        let long_end = (100 + 86_400 + 300) * S;
        assert!(c.lookup(ip("192.0.2.2"), ip(CLIENT), long_end).is_some());
        assert_eq!(c.lookup(ip("192.0.2.2"), ip(CLIENT), long_end + 1), None);
    }

    #[test]
    fn inverted_ttl_range_does_not_panic() {
        let mut c = DnsCache::new(DnsCacheConfig {
            min_ttl_secs: 100,
            max_ttl_secs: 10,
            ..DnsCacheConfig::default()
        });
        resolve(
            &mut c,
            1,
            "x.example",
            vec![a("x.example", "192.0.2.1", 50)],
            1,
        );
        assert_eq!(
            c.lookup(ip("192.0.2.1"), ip(CLIENT), S).unwrap().ttl_secs,
            10
        );
    }

    #[test]
    fn lookup_answers_as_of_the_given_time() {
        let mut c = cache();
        resolve(
            &mut c,
            1,
            "first.example",
            vec![a("first.example", "192.0.2.1", 3600)],
            0,
        );
        resolve(
            &mut c,
            2,
            "second.example",
            vec![a("second.example", "192.0.2.1", 3600)],
            100,
        );
        assert_eq!(
            names_at(&c, "192.0.2.1", CLIENT, 0).unwrap(),
            ["first.example"]
        );
        assert_eq!(
            names_at(&c, "192.0.2.1", CLIENT, 50 * S).unwrap(),
            ["first.example"]
        );
        assert_eq!(
            names_at(&c, "192.0.2.1", CLIENT, 100 * S).unwrap(),
            ["second.example"]
        );
        assert_eq!(
            names_at(&c, "192.0.2.1", CLIENT, 200 * S).unwrap(),
            ["second.example"]
        );
        // After the second expired, nothing (the first expired earlier).
        assert_eq!(
            names_at(&c, "192.0.2.1", CLIENT, (100 + 3900) * S + 1),
            None
        );
        assert_eq!(c.history(ip("192.0.2.1")).count(), 2);
    }

    #[test]
    fn bindings_for_the_client_are_preferred() {
        let mut c = cache();
        let (ca, cb) = ("10.0.0.1", "10.0.0.2");
        c.query(1, ip(ca), &q(1, "mine.example"), 0);
        c.response(
            1,
            ip(ca),
            &r(1, "mine.example", vec![a("mine.example", "192.0.2.1", 600)]),
            0,
        );
        c.query(2, ip(cb), &q(1, "theirs.example"), 10 * S);
        c.response(
            2,
            ip(cb),
            &r(
                1,
                "theirs.example",
                vec![a("theirs.example", "192.0.2.1", 600)],
            ),
            10 * S,
        );
        assert_eq!(
            names_at(&c, "192.0.2.1", ca, 20 * S).unwrap(),
            ["mine.example"]
        );
        assert_eq!(
            names_at(&c, "192.0.2.1", cb, 20 * S).unwrap(),
            ["theirs.example"]
        );
        // A host behind a forwarding resolver: the most recent binding of anyone.
        assert_eq!(
            names_at(&c, "192.0.2.1", "10.0.0.3", 20 * S).unwrap(),
            ["theirs.example"]
        );
        // The client's own binding only while it is valid: outside it, another's.
        assert_eq!(c.lookup(ip("192.0.2.1"), ip(cb), 5 * S).unwrap().flow_id, 1);
        assert_eq!(
            c.lookup(ip("192.0.2.1"), ip(ca), 905 * S).unwrap().flow_id,
            2
        );
        assert_eq!(c.lookup(ip("192.0.2.1"), ip(ca), 911 * S), None);
    }

    #[test]
    fn identical_answer_refreshes_instead_of_adding() {
        let mut c = cache();
        resolve(
            &mut c,
            1,
            "poll.example",
            vec![a("poll.example", "192.0.2.1", 60)],
            0,
        );
        let out = resolve(
            &mut c,
            2,
            "poll.example",
            vec![a("poll.example", "192.0.2.1", 60)],
            300,
        );
        assert!(matches!(
            out,
            ResponseOutcome::Answered {
                bound: 0,
                refreshed: 1,
                ..
            }
        ));
        let b = c.lookup(ip("192.0.2.1"), ip(CLIENT), 300 * S).unwrap();
        assert_eq!((b.bound_ns, b.refreshed_ns), (0, 300 * S));
        assert_eq!(b.valid_until_ns, (300 + 60 + 300) * S);
        // Still valid from the first answer on.
        assert!(c.lookup(ip("192.0.2.1"), ip(CLIENT), 10 * S).is_some());
        assert_eq!(
            (c.stats().added, c.stats().refreshed, c.stats().bindings),
            (1, 1, 1)
        );
        // Once it ran out, the same answer makes a new binding.
        resolve(
            &mut c,
            3,
            "poll.example",
            vec![a("poll.example", "192.0.2.1", 60)],
            1000,
        );
        assert_eq!(
            (c.stats().added, c.stats().refreshed, c.stats().bindings),
            (2, 1, 2)
        );
        assert_eq!(
            c.lookup(ip("192.0.2.1"), ip(CLIENT), 1000 * S)
                .unwrap()
                .bound_ns,
            1000 * S
        );
    }

    #[test]
    fn capacity_evicts_the_oldest_bound() {
        let mut c = DnsCache::new(DnsCacheConfig {
            max_bindings: 3,
            ..DnsCacheConfig::default()
        });
        for i in 1..=4u8 {
            let name = format!("h{i}.example");
            resolve(
                &mut c,
                u16::from(i),
                &name,
                vec![a(&name, &format!("192.0.2.{i}"), 600)],
                u64::from(i),
            );
        }
        assert_eq!(c.lookup(ip("192.0.2.1"), ip(CLIENT), 5 * S), None);
        for i in 2..=4 {
            assert_eq!(
                names_at(&c, &format!("192.0.2.{i}"), CLIENT, 5 * S).unwrap(),
                [format!("h{i}.example")]
            );
        }
        assert_eq!(
            (c.stats().added, c.stats().evicted, c.stats().bindings),
            (4, 1, 3)
        );
    }

    #[test]
    fn a_flood_of_other_names_does_not_evict_protected_bindings() {
        let mut c = DnsCache::new(DnsCacheConfig {
            max_bindings: 8,
            ..DnsCacheConfig::default()
        });
        let vendor = |n: &str| n.ends_with(".cloudsink.example");
        let answer = |c: &mut DnsCache, i: u16, name: &str, addr: &str, t: u64| {
            c.query(FLOW, ip(CLIENT), &q(i, name), t * S);
            c.response_protecting(
                FLOW,
                ip(CLIENT),
                &r(i, name, vec![a(name, addr, 3600)]),
                t * S,
                &vendor,
            )
        };
        answer(&mut c, 1, "ts01.cloudsink.example", "198.51.100.7", 1);
        for i in 0..500u16 {
            let name = format!("flood{i}.example");
            let addr = format!("10.{}.{}.1", i / 250, i % 250);
            answer(&mut c, 2 + i, &name, &addr, 2);
        }
        assert_eq!(
            names_at(&c, "198.51.100.7", CLIENT, 3 * S).unwrap(),
            ["ts01.cloudsink.example"]
        );
        let st = c.stats();
        assert_eq!((st.bindings, st.evicted, st.protected_evicted), (8, 493, 0));
        // Protected bindings still have a bound: past it, the oldest protected go.
        for i in 0..10u16 {
            let name = format!("t{i}.cloudsink.example");
            answer(&mut c, 600 + i, &name, &format!("198.51.101.{i}"), 3);
        }
        assert_eq!(c.stats().bindings, 8);
        assert_eq!(c.lookup(ip("198.51.100.7"), ip(CLIENT), 4 * S), None);
        assert_eq!(c.stats().protected_evicted, 3);
    }

    #[test]
    fn history_per_address_keeps_the_most_recent() {
        let mut c = DnsCache::new(DnsCacheConfig {
            max_per_address: 2,
            ..DnsCacheConfig::default()
        });
        for i in 0..3u16 {
            let name = format!("n{i}.example");
            resolve(
                &mut c,
                i,
                &name,
                vec![a(&name, "192.0.2.1", 3600)],
                u64::from(i) * 10,
            );
        }
        let mut held: Vec<String> = c
            .history(ip("192.0.2.1"))
            .map(|b| b.names[0].clone())
            .collect();
        held.sort();
        assert_eq!(held, ["n1.example", "n2.example"]);
        assert_eq!(names_at(&c, "192.0.2.1", CLIENT, 5 * S), None);
        assert_eq!((c.stats().history_dropped, c.stats().bindings), (1, 2));
    }

    #[test]
    fn pending_queries_time_out_on_packet_time() {
        let mut c = cache();
        c.query(FLOW, ip(CLIENT), &q(1, "slow.example"), 0);
        c.query(FLOW, ip(CLIENT), &q(2, "ok.example"), 0);
        // 30 s later exactly is still in time.
        let ok = c.response(
            FLOW,
            ip(CLIENT),
            &r(2, "ok.example", vec![a("ok.example", "192.0.2.2", 60)]),
            30 * S,
        );
        assert!(matches!(ok, ResponseOutcome::Answered { bound: 1, .. }));
        let late = c.response(
            FLOW,
            ip(CLIENT),
            &r(1, "slow.example", vec![a("slow.example", "192.0.2.1", 60)]),
            30 * S + 1,
        );
        assert_eq!(late, ResponseOutcome::Unsolicited);
        assert_eq!((c.stats().pending_expired, c.stats().pending), (1, 0));
        // A retransmission restarts the timeout.
        c.query(FLOW, ip(CLIENT), &q(3, "retry.example"), 100 * S);
        c.query(FLOW, ip(CLIENT), &q(3, "retry.example"), 125 * S);
        assert_eq!((c.stats().queries, c.stats().pending), (3, 1));
        let out = c.response(
            FLOW,
            ip(CLIENT),
            &r(
                3,
                "retry.example",
                vec![a("retry.example", "192.0.2.3", 60)],
            ),
            150 * S,
        );
        assert!(matches!(out, ResponseOutcome::Answered { bound: 1, .. }));
    }

    #[test]
    fn pending_capacity_drops_the_oldest() {
        let mut c = DnsCache::new(DnsCacheConfig {
            max_pending: 2,
            ..DnsCacheConfig::default()
        });
        for (i, n) in ["a.example", "b.example", "c.example"]
            .into_iter()
            .enumerate()
        {
            c.query(FLOW, ip(CLIENT), &q(i as u16, n), i as u64);
        }
        assert_eq!((c.stats().pending, c.stats().pending_dropped), (2, 1));
        let first = c.response(
            FLOW,
            ip(CLIENT),
            &r(0, "a.example", vec![a("a.example", "192.0.2.1", 60)]),
            5,
        );
        assert_eq!(first, ResponseOutcome::Unsolicited);
        let second = c.response(
            FLOW,
            ip(CLIENT),
            &r(1, "b.example", vec![a("b.example", "192.0.2.2", 60)]),
            5,
        );
        assert!(matches!(second, ResponseOutcome::Answered { bound: 1, .. }));
    }

    #[test]
    fn bindings_leave_memory_after_retention() {
        let mut c = cache();
        resolve(
            &mut c,
            1,
            "x.example",
            vec![a("x.example", "192.0.2.1", 60)],
            0,
        );
        let until = (60 + 300) * S;
        // Still held (but no longer valid) within the retention period.
        c.query(FLOW, ip(CLIENT), &q(9, "tick.example"), until + 3600 * S);
        assert_eq!(c.stats().bindings, 1);
        assert_eq!(c.lookup(ip("192.0.2.1"), ip(CLIENT), until + 1), None);
        assert!(c.lookup(ip("192.0.2.1"), ip(CLIENT), until).is_some());
        c.query(
            FLOW,
            ip(CLIENT),
            &q(10, "tick.example"),
            until + 3600 * S + 1,
        );
        assert_eq!((c.stats().bindings, c.stats().expired), (0, 1));
        assert_eq!(c.history(ip("192.0.2.1")).count(), 0);
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_ipv4_address() {
        let mut c = cache();
        resolve(
            &mut c,
            1,
            "x.example",
            vec![a("x.example", "192.0.2.1", 60)],
            0,
        );
        assert!(c
            .lookup(ip("::ffff:192.0.2.1"), ip("::ffff:10.0.0.5"), S)
            .is_some());
    }

    #[test]
    fn parsed_wire_messages_with_compression() {
        // Query: id 0xBEEF, "Api.Vendor.EXAMPLE" A, RD.
        let mut qb = vec![0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        qb.extend_from_slice(b"\x03Api\x06Vendor\x07EXAMPLE\x00\x00\x01\x00\x01");
        let query = parse_message(&qb).unwrap();
        // Response (0x20 case differs): question, then
        // api.vendor.example CNAME edge.cdn.example, edge.cdn.example A 192.0.2.77.
        let mut rb = vec![0xBE, 0xEF, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        rb.extend_from_slice(b"\x03aPI\x06vENDOR\x07example\x00\x00\x01\x00\x01");
        // CNAME: owner = pointer to 12; rdata "edge" + "cdn" + pointer to "example" (offset 12+4+7=23).
        rb.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 11]);
        let cname_rdata_at = rb.len();
        rb.extend_from_slice(b"\x04edge\x03cdn\xC0\x17");
        // A: owner = pointer to the CNAME target.
        rb.extend_from_slice(&[
            0xC0,
            cname_rdata_at as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            45,
            0,
            4,
            192,
            0,
            2,
            77,
        ]);
        let resp = parse_message(&rb).unwrap();
        assert!(resp.anomalies.is_empty(), "{:?}", resp.anomalies);

        let mut c = cache();
        c.query(3, ip("192.168.1.10"), &query, S);
        let out = c.response(3, ip("192.168.1.10"), &resp, S + 5_000_000);
        assert!(matches!(
            out,
            ResponseOutcome::Answered {
                questions: 1,
                bound: 1,
                ..
            }
        ));
        let b = c
            .lookup(ip("192.0.2.77"), ip("192.168.1.10"), 2 * S)
            .unwrap();
        assert_eq!(b.names, ["api.vendor.example", "edge.cdn.example"]);
        assert_eq!(b.ttl_secs, 45);
    }
}
