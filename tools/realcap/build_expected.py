#!/usr/bin/python3
"""Build captures/realstack.expected.json from scenes.toml, addrmap.tsv, catalog/*.toml and
tshark's reading of the capture, and check everything on the way:

  * every evidence item of every scene is visible to tshark WITHOUT the key log;
  * every flow in the capture belongs to exactly one scene (nothing unexplained);
  * every IP/TCP/UDP/ICMP checksum is good;
  * every vendor name matches the catalog file the scene names, and no name or address seen
    in a benign scene matches the catalog at all;
  * the country/ASN columns of addrmap.tsv agree with the GeoIP databases, when present.

Optionally rewrites the verification section of README.md with tshark commands and outputs.
Any failed check exits non-zero. Stdlib only, plus python3-maxminddb for the GeoIP check.
"""

import argparse
import datetime
import glob
import hashlib
import ipaddress
import json
import os
import subprocess
import sys
import tomllib

QTYPES = {"1": "A", "5": "CNAME", "28": "AAAA"}
LAN_NETS = [ipaddress.ip_network("10.20.0.0/24"), ipaddress.ip_network("2001:db8:20::/64")]
RESOLVER = "10.20.0.53"
GEOIP_SOURCE = "ip-location-db 2.3.2026061719: geo-whois-asn-country.mmdb, asn.mmdb"


class CheckError(Exception):
    pass


def fail(msg):
    raise CheckError(msg)


def is_lan(addr):
    return any(ipaddress.ip_address(addr) in n for n in LAN_NETS)


# ---------------------------------------------------------------------------------------------
# Catalog: the matching rules of catalog/README.md, re-implemented independently of the Rust
# matcher so the expected answers do not come from the code under test.
# ---------------------------------------------------------------------------------------------
# Web-presence first labels and depth (catalog/README.md, "Never evidence").
WEB_LABELS = set("""www www2 www3 web docs doc documentation support supportportal help helpcenter
kb knowledgebase community communities forum forums blog blogs news newsroom press media store
shop buy estore careers jobs investor investors ir partner partners partnerportal training academy
learn learning university education webinar webinars marketing go info pages resources static-www
status trust trustcenter legal privacy about contact developer developers dev-docs api-docs
answers ideas success customer customers""".split())
WEB_DEPTH = 2


class Catalog:
    def __init__(self, directory):
        self.hosts, self.suffixes, self.cidrs, self.cert_names = {}, {}, [], {}
        self.vendors = {}
        self.owned, self.web_hosts, self.web_suffixes, self.asns = {}, set(), set(), {}
        self.name_endpoints = {}  # vendor slug -> [(pattern, product)] of host/suffix entries
        for path in sorted(glob.glob(os.path.join(directory, "*.toml"))):
            slug = os.path.basename(path)[: -len(".toml")]
            with open(path, "rb") as f:
                doc = tomllib.load(f)
            self.vendors[slug] = {"vendor": doc["vendor"], "jurisdiction": doc["jurisdiction"]}
            base = {"catalog_file": f"catalog/{slug}.toml", "vendor_slug": slug,
                    "vendor": doc["vendor"], "jurisdiction": doc["jurisdiction"],
                    "purpose": "unspecified", "confidence": "documented", "shared_cloud": False}
            for d in doc.get("owned_domain", []):
                self.owned[d["domain"]] = dict(base, match="owned_domain", pattern=d["domain"],
                                               product=d.get("product"), tier="owned_domain")
                if d.get("website"):
                    self.web_hosts.add(d["domain"])
            for w in doc.get("web_presence", []):
                if "host" in w:
                    self.web_hosts.add(w["host"])
                else:
                    self.web_suffixes.add(w["suffix"])
            for a in doc.get("asn", []):
                self.asns[int(a["number"])] = dict(base, match="asn", pattern=f"AS{a['number']}",
                                                   product=a.get("product"), tier="owned_network")
            self.name_endpoints[slug] = [
                (ep.get("host") or ep.get("suffix"), product["name"])
                for product in doc.get("product", []) for ep in product.get("endpoint", [])
                if "host" in ep or "suffix" in ep]
            for product in doc.get("product", []):
                for ep in product.get("endpoint", []):
                    entry = {
                        "tier": "endpoint",
                        "catalog_file": f"catalog/{slug}.toml",
                        "vendor_slug": slug,
                        "vendor": doc["vendor"],
                        "jurisdiction": doc["jurisdiction"],
                        "product": product["name"],
                        "purpose": ep.get("purpose"),
                        "confidence": ep.get("confidence"),
                        "shared_cloud": ep.get("shared_cloud", False),
                    }
                    if "host" in ep:
                        self.hosts[ep["host"].lower()] = dict(entry, match="host", pattern=ep["host"])
                    elif "suffix" in ep:
                        self.suffixes[ep["suffix"].lower()] = dict(
                            entry, match="suffix", pattern=ep["suffix"]
                        )
                    elif "cidr" in ep:
                        net = ipaddress.ip_network(ep["cidr"])
                        self.cidrs.append((net, dict(entry, match="cidr", pattern=ep["cidr"])))
                    elif "cert_name" in ep:
                        self.cert_names[ep["cert_name"].lower()] = dict(
                            entry, match="cert_name", pattern=ep["cert_name"]
                        )

    def web(self, name, base):
        """Web presence: a web first label at most WEB_DEPTH labels above `base`, a website
        apex or [[web_presence]] host, or under a [[web_presence]] suffix."""
        labels = name.split(".")
        above = len(labels) - len(base.split(".")) if base else len(labels)
        if name != base and labels[0] in WEB_LABELS and above <= WEB_DEPTH:
            return True
        if name in self.web_hosts:
            return True
        return any(".".join(labels[i:]) in self.web_suffixes for i in range(len(labels)))

    def match_name(self, name):
        """Documented endpoint first (exact host, then longest suffix), then the longest owned
        domain; web presence never matches (except an exact host)."""
        name = name.lower().rstrip(".")
        if name in self.hosts:
            return self.hosts[name]
        labels = name.split(".")
        for i in range(len(labels) - 1):  # longest suffix first; needs two labels
            cand = ".".join(labels[i:])
            if cand in self.suffixes:
                return None if self.web(name, cand) else self.suffixes[cand]
        return self.match_owned(name, "owned_domain")

    def match_owned(self, name, tier):
        name = name.lower().rstrip(".")
        if name.startswith("*."):
            name = name[2:]
        labels = name.split(".")
        for i in range(len(labels) - 1):
            domain = ".".join(labels[i:])
            if domain not in self.owned:
                continue
            if self.web(name, domain):
                return None
            o = self.owned[domain]
            # The product whose endpoints share the longest suffix with the name (at least the
            # domain); on a tie, the domain's own product; else unidentified.
            best, products = -1, set()
            for pattern, product in self.name_endpoints[o["vendor_slug"]]:
                if not (pattern == domain or pattern.endswith("." + domain)):
                    continue
                shared = 0
                for a, b in zip(reversed(labels), reversed(pattern.split("."))):
                    if a != b:
                        break
                    shared += 1
                if shared > best:
                    best, products = shared, {product}
                elif shared == best:
                    products.add(product)
            product = (next(iter(products)) if len(products) == 1
                       else o["product"] or "unidentified product")
            return dict(o, product=product, tier=tier)
        return None

    def match_asn(self, asn):
        a = self.asns.get(int(asn)) if asn else None
        if a is None:
            return None
        return dict(a, product=a["product"] or "unidentified product")

    def match_ip(self, addr):
        ip = ipaddress.ip_address(addr)
        best = None
        for net, entry in self.cidrs:
            if ip.version == net.version and ip in net:
                if best is None or net.prefixlen > best[0].prefixlen:
                    best = (net, entry)
        return best[1] if best else None

    def match_cert(self, name):
        return self.cert_names.get(name.lower())


def vendor_match(catalog, s, by_real):
    """What attributes a vendor scene: its name, or for a flow without one, the server
    certificate's subject under an owned domain, or the server's AS."""
    if s.get("attribution") == "destination_as":
        return catalog.match_asn(by_real[s["server_ip"]]["asn"])
    if s.get("attribution") == "cert_name":
        cn = next(ev["subject_cn"] for ev in s["evidence"] if ev["kind"] == "tls_certificate")
        return catalog.match_owned(cn, "certificate")
    return catalog.match_name(s["name"])


def public(entry):
    if entry is None:
        return None
    keys = ["catalog_file", "vendor", "product", "purpose", "confidence", "match", "pattern", "tier"]
    out = {k: entry[k] for k in keys}
    if entry["shared_cloud"]:
        out["shared_cloud"] = True
    return out


# ---------------------------------------------------------------------------------------------
# tshark
# ---------------------------------------------------------------------------------------------
FIELDS = [
    "frame.number", "frame.time_epoch", "frame.len", "eth.src",
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "icmp.checksum.status",
    "tcp.stream", "udp.stream", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
    "icmp.type", "icmp.ident",
    "dns.flags.response", "dns.flags.rcode", "dns.qry.name", "dns.qry.type",
    "dns.cname", "dns.a", "dns.aaaa",
    "quic.version", "quic.long.packet_type",
    "tls.handshake.type", "tls.handshake.extensions_server_name",
    "tls.handshake.extensions.supported_version", "tls.handshake.version",
    "x509sat.uTF8String", "x509ce.dNSName",
    "http.request.method", "http.host", "http.request.uri", "http.response.code",
]


def tshark_rows(pcap):
    cmd = ["tshark", "-r", pcap, "-n",
           "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        vals = line.split("\t")
        row = {}
        for f, v in zip(FIELDS, vals):
            row[f] = v.split(";") if v else []
        rows.append(row)
    return rows


def one(row, field):
    v = row.get(field) or []
    return v[0] if v else None


def run_shell(cmd, cwd):
    p = subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"command failed ({p.returncode}): {cmd}\n{p.stderr}")
    return p.stdout


# ---------------------------------------------------------------------------------------------
# Flows
# ---------------------------------------------------------------------------------------------
def build_flows(rows, clients):
    flows = {}
    for r in rows:
        src = one(r, "ip.src") or one(r, "ipv6.src")
        dst = one(r, "ip.dst") or one(r, "ipv6.dst")
        if one(r, "tcp.stream") is not None:
            key = ("tcp", int(one(r, "tcp.stream")))
            sport, dport = int(one(r, "tcp.srcport")), int(one(r, "tcp.dstport"))
        elif one(r, "udp.stream") is not None:
            key = ("udp", int(one(r, "udp.stream")))
            sport, dport = int(one(r, "udp.srcport")), int(one(r, "udp.dstport"))
        elif one(r, "icmp.type") is not None:
            pair = tuple(sorted([src, dst]))
            key = ("icmp", pair, one(r, "icmp.ident"))
            sport = dport = None
        else:
            fail(f"frame {one(r, 'frame.number')}: neither TCP, UDP nor ICMP")
        fl = flows.get(key)
        if fl is None:
            # The client is the host that runs the agent; the other end is the server.
            if src in clients:
                client, cport, server, sport_ = src, sport, dst, dport
            elif dst in clients:
                client, cport, server, sport_ = dst, dport, src, sport
            else:
                fail(f"frame {one(r, 'frame.number')}: no client host in {src} -> {dst}")
            fl = {
                "transport": key[0], "client": client, "client_port": cport,
                "server_ip": server, "server_port": sport_, "packets": 0, "bytes": 0,
                "first_frame": int(one(r, "frame.number")), "rows": [],
            }
            flows[key] = fl
        fl["packets"] += 1
        fl["bytes"] += int(one(r, "frame.len"))
        fl["last_frame"] = int(one(r, "frame.number"))
        fl["rows"].append(r)
    return sorted(flows.values(), key=lambda f: f["first_frame"])


def dns_names(flow):
    names = set()
    for r in flow["rows"]:
        names.update(n.lower() for n in r.get("dns.qry.name", []))
    return names


# ---------------------------------------------------------------------------------------------
# Evidence checks (tshark's view without keys)
# ---------------------------------------------------------------------------------------------
def check_evidence(scene, ev, flows):
    kind = ev["kind"]
    dns_rows = [r for f in flows if f["transport"] == "udp" and f["server_port"] == 53 for r in f["rows"]]
    tcp_rows = [r for f in flows if f["transport"] == "tcp" for r in f["rows"]]
    udp_rows = [r for f in flows if f["transport"] == "udp" and f["server_port"] != 53 for r in f["rows"]]

    def responses(name, qtype):
        return [r for r in dns_rows
                if one(r, "dns.flags.response") in ("1", "True")
                and [n.lower() for n in r["dns.qry.name"]] == [name]
                and [QTYPES.get(t, t) for t in r["dns.qry.type"]] == [qtype]]

    if kind == "dns_answer":
        rs = responses(ev["name"], ev["qtype"])
        if len(rs) != 1:
            fail(f"{scene}: expected one {ev['qtype']} response for {ev['name']}, got {len(rs)}")
        r = rs[0]
        got = r["dns.a"] + r["dns.aaaa"]
        if one(r, "dns.flags.rcode") != "0" or got != ev["answers"]:
            fail(f"{scene}: {ev['name']} {ev['qtype']} answers {got}, expected {ev['answers']}")
        if r["dns.cname"] != ev.get("cnames", []):
            fail(f"{scene}: {ev['name']} CNAMEs {r['dns.cname']}, expected {ev.get('cnames', [])}")
        return {"frame": int(one(r, "frame.number"))}
    if kind == "dns_nxdomain":
        rs = responses(ev["name"], ev["qtype"])
        if len(rs) != 1 or one(rs[0], "dns.flags.rcode") != "3":
            fail(f"{scene}: expected NXDOMAIN for {ev['name']} {ev['qtype']}")
        return {"frame": int(one(rs[0], "frame.number"))}
    if kind in ("tls_sni", "tls_no_sni", "quic_sni"):
        rows = udp_rows if kind == "quic_sni" else tcp_rows
        hellos = [r for r in rows if "1" in r["tls.handshake.type"]]
        if len(hellos) != 1:
            fail(f"{scene}: expected one ClientHello, got {len(hellos)}")
        r = hellos[0]
        sni = r["tls.handshake.extensions_server_name"]
        if kind == "tls_no_sni":
            if sni:
                fail(f"{scene}: ClientHello has SNI {sni}, expected none")
        elif sni != [ev["value"]]:
            fail(f"{scene}: SNI {sni}, expected {ev['value']}")
        if kind == "quic_sni":
            if one(r, "quic.version") != "0x00000001" or one(r, "quic.long.packet_type") != "0":
                fail(f"{scene}: ClientHello not in a QUIC v1 Initial")
        return {"frame": int(one(r, "frame.number"))}
    if kind == "tls_version":
        hellos = [r for r in tcp_rows + udp_rows if "2" in r["tls.handshake.type"]]
        if len(hellos) != 1:
            fail(f"{scene}: expected one ServerHello, got {len(hellos)}")
        r = hellos[0]
        sv = r["tls.handshake.extensions.supported_version"]
        got = "1.3" if "0x0304" in sv else ("1.2" if "0x0303" in r["tls.handshake.version"] else "?")
        if got != ev["value"]:
            fail(f"{scene}: ServerHello version {got}, expected {ev['value']}")
        return {"frame": int(one(r, "frame.number"))}
    if kind == "tls_certificate":
        certs = [r for r in tcp_rows if "11" in r["tls.handshake.type"]]
        if len(certs) != 1:
            fail(f"{scene}: expected one Certificate message in clear, got {len(certs)}")
        r = certs[0]
        # One certificate (the leaf): issuer O, issuer CN, subject CN in that order.
        strings = r["x509sat.uTF8String"]
        if strings[-1:] != [ev["subject_cn"]] or ev["issuer_cn"] not in strings[:-1]:
            fail(f"{scene}: certificate names {strings}")
        if r["x509ce.dNSName"] != ev["san"]:
            fail(f"{scene}: SAN {r['x509ce.dNSName']}, expected {ev['san']}")
        return {"frame": int(one(r, "frame.number"))}
    if kind == "http_host":
        reqs = [r for r in tcp_rows if r["http.request.method"]]
        if len(reqs) != 1:
            fail(f"{scene}: expected one HTTP request, got {len(reqs)}")
        r = reqs[0]
        if (r["http.host"], r["http.request.method"], r["http.request.uri"]) != (
            [ev["value"]], [ev["method"]], [ev["uri"]]
        ):
            fail(f"{scene}: HTTP request {r['http.request.method']} {r['http.host']} {r['http.request.uri']}")
        return {"frame": int(one(r, "frame.number"))}
    if kind == "http_connect":
        reqs = [r for r in tcp_rows if r["http.request.method"]]
        if len(reqs) != 1 or reqs[0]["http.request.method"] != ["CONNECT"]:
            fail(f"{scene}: expected one CONNECT request")
        if reqs[0]["http.request.uri"] != [ev["value"]]:
            fail(f"{scene}: CONNECT {reqs[0]['http.request.uri']}, expected {ev['value']}")
        codes = [c for r in tcp_rows for c in r["http.response.code"]]
        if codes != ["200"]:
            fail(f"{scene}: CONNECT answered {codes}")
        return {"frame": int(one(reqs[0], "frame.number"))}
    if kind == "icmp_echo":
        types = [one(r, "icmp.type") for f in flows if f["transport"] == "icmp" for r in f["rows"]]
        if types.count("8") != ev["count"] or types.count("0") != ev["count"]:
            fail(f"{scene}: ICMP types {types}")
        return {}
    fail(f"{scene}: unknown evidence kind {kind}")


# ---------------------------------------------------------------------------------------------
def load_addrmap(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            c = line.rstrip("\n").split("\t")
            rows.append({
                "lab": c[0], "real": c[1], "country": c[2] or None,
                "asn": int(c[3]) if c[3] else None, "as_org": c[4] or None,
                "names": [n for n in c[5].split(",") if n], "role": c[6],
            })
    return rows


def geoip_check(addrmap, geoip_dir):
    cpath = os.path.join(geoip_dir or "", "geo-whois-asn-country.mmdb")
    apath = os.path.join(geoip_dir or "", "asn.mmdb")
    if not geoip_dir or not (os.path.exists(cpath) and os.path.exists(apath)):
        return {"checked": False, "source": GEOIP_SOURCE,
                "note": "databases not found; countries/ASNs are as recorded in addrmap.tsv"}
    import maxminddb  # python3-maxminddb

    with maxminddb.open_database(cpath) as cdb, maxminddb.open_database(apath) as adb:
        for a in addrmap:
            c = (cdb.get(a["real"]) or {}).get("country_code")
            asn = (adb.get(a["real"]) or {}).get("autonomous_system_number")
            if c != a["country"] or asn != a["asn"]:
                fail(f"GeoIP disagrees for {a['real']}: country {c} asn {asn}, addrmap says "
                     f"{a['country']} {a['asn']}")
    return {"checked": True, "source": GEOIP_SOURCE,
            "files": ["geo-whois-asn-country.mmdb", "asn.mmdb"]}


def tool_versions():
    def first_line(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return None

    def deb(pkg):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        return p.stdout.strip() or None

    return {
        "curl": deb("curl"), "openssl": deb("openssl"), "python3": deb("python3"),
        "ngtcp2-client": deb("ngtcp2-client"), "ngtcp2-server": deb("ngtcp2-server"),
        "libgnutls30": deb("libgnutls30"), "libnghttp3-3": deb("libnghttp3-3"),
        "dnsmasq-base": deb("dnsmasq-base"), "tinyproxy-bin": deb("tinyproxy-bin"),
        "tcpdump": deb("tcpdump"), "tshark": deb("tshark"), "iputils-ping": deb("iputils-ping"),
        "kernel": first_line(["uname", "-sr"]),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--keylog")
    ap.add_argument("--readme")
    ap.add_argument("--geoip-dir", default=os.environ.get("REALCAP_GEOIP_DIR"))
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(args.repo)
    geoip_dir = args.geoip_dir or os.path.join(repo, "geoip")

    with open(os.path.join(here, "scenes.toml"), "rb") as f:
        spec = tomllib.load(f)
    addrmap = load_addrmap(os.path.join(here, "addrmap.tsv"))
    by_real = {a["real"]: a for a in addrmap}
    catalog = Catalog(os.path.join(repo, "catalog"))
    geo = geoip_check(addrmap, geoip_dir)

    rows = tshark_rows(args.pcap)
    for r in rows:
        for f in ("ip.checksum.status", "tcp.checksum.status", "udp.checksum.status",
                  "icmp.checksum.status"):
            if any(v != "1" for v in r[f]):
                fail(f"frame {one(r, 'frame.number')}: bad or unverified {f}")
    clients = {h["ip"] for h in spec["host"]} | {h["ip6"] for h in spec["host"] if h.get("ip6")}
    flows = build_flows(rows, clients)

    # Assign every flow to exactly one scene.
    assigned = {}
    scene_flows = {s["id"]: [] for s in spec["scene"]}
    for fl in flows:
        owners = []
        for s in spec["scene"]:
            if fl["transport"] == "udp" and fl["server_ip"] == RESOLVER and fl["server_port"] == 53:
                dns_client = s.get("dns_client", s["client"])
                if fl["client"] == dns_client and dns_names(fl) & set(s["dns"]):
                    owners.append(s["id"])
            elif (fl["client"] == s["client"] and fl["transport"] == s["transport"]
                  and fl["server_ip"] == s.get("server_ip")
                  and (s["transport"] == "icmp" or fl["server_port"] == s["port"])):
                owners.append(s["id"])
        if len(owners) != 1:
            fail(f"flow {fl['transport']} {fl['client']}:{fl['client_port']} -> "
                 f"{fl['server_ip']}:{fl['server_port']} (frame {fl['first_frame']}) "
                 f"belongs to {owners or 'no scene'}")
        scene_flows[owners[0]].append(fl)
        assigned[id(fl)] = owners[0]

    scenes_out, findings, benign = [], [], []
    for s in spec["scene"]:
        fls = scene_flows[s["id"]]
        if not fls:
            fail(f"{s['id']}: no flows")
        ev_out = []
        for ev in s["evidence"]:
            where = check_evidence(s["id"], ev, fls)
            ev_out.append(dict(ev, **where))

        # Every name the scene exposes in clear, and what the catalog says about it.
        names = set(s["dns"])
        for ev in s["evidence"]:
            if ev["kind"] in ("tls_sni", "quic_sni", "http_host"):
                names.add(ev["value"])
            if ev["kind"] == "http_connect":
                names.add(ev["value"].rsplit(":", 1)[0])
            names.update(ev.get("cnames", []))
            if ev["kind"] == "tls_certificate":
                names.update(n for n in ev["san"] if not n.startswith("*."))
        name_matches = {n: public(catalog.match_name(n)) for n in sorted(names)}
        cert_matches = {}
        for ev in s["evidence"]:
            if ev["kind"] == "tls_certificate":
                for n in [ev["subject_cn"]] + ev["san"]:
                    # The subject's own name may also be under an owned domain.
                    owned = catalog.match_owned(n, "certificate") if n == ev["subject_cn"] else None
                    cert_matches[n] = public(catalog.match_cert(n) or owned)
        server_ips = sorted({f["server_ip"] for f in fls if not is_lan(f["server_ip"])})
        answer_ips = sorted({a for ev in s["evidence"] if ev["kind"] == "dns_answer" for a in ev["answers"]})
        ip_matches = {ip: public(catalog.match_ip(ip)) for ip in sorted(set(server_ips + answer_ips))}

        vendor_file = s.get("vendor_file")
        if vendor_file:
            m = vendor_match(catalog, s, by_real)
            if m is None or m["vendor_slug"] != vendor_file:
                fail(f"{s['id']}: {s.get('name') or s['server_ip']} does not match catalog/{vendor_file}.toml")
        else:
            hits = [n for n, m in name_matches.items() if m] + [n for n, m in cert_matches.items() if m]
            hits += [ip for ip, m in ip_matches.items() if m]
            if hits:
                fail(f"{s['id']} is benign but the catalog matches {hits}")

        flow_out = [{
            "transport": f["transport"], "client": f["client"], "client_port": f["client_port"],
            "server_ip": f["server_ip"], "server_port": f["server_port"], "packets": f["packets"],
            "bytes": f["bytes"], "first_frame": f["first_frame"], "last_frame": f["last_frame"],
            "dns_queries": sorted(dns_names(f)) if f["server_port"] == 53 and f["transport"] == "udp" else None,
        } for f in fls]
        for fo in flow_out:
            if fo["dns_queries"] is None:
                del fo["dns_queries"]
        geo_of = by_real.get(s.get("server_ip", ""))
        sc = {
            "id": s["id"], "title": s["title"], "client": s["client"], "tool": s["tool"],
            "kind": "vendor" if vendor_file else "benign",
            "server_name": s.get("name"), "server_ip": s.get("server_ip"),
            "server_port": s.get("port"), "transport": s["transport"], "protocol": s["protocol"],
            "server_country": geo_of["country"] if geo_of else None,
            "server_asn": geo_of["asn"] if geo_of else None,
            "evidence": ev_out,
            "catalog": {"names": name_matches, "cert_names": cert_matches, "addresses": ip_matches},
            "flows": flow_out,
            "packets": sum(f["packets"] for f in fls),
            "flow_count": len(fls),
        }
        if s.get("dns_client"):
            sc["dns_client"] = s["dns_client"]
        scenes_out.append(sc)

        if not vendor_file:
            benign.append({"scene": s["id"], "client": s["client"], "server_name": s.get("name"),
                           "server_ip": s.get("server_ip")})
            continue
        m = vendor_match(catalog, s, by_real)
        kinds = list(dict.fromkeys(ev["kind"] for ev in s["evidence"] if ev["kind"] != "tls_version"))
        if s.get("attribution") in ("dns_binding", "destination_as", "cert_name"):
            attribution = s["attribution"]
        elif s.get("dns_only"):
            attribution = "dns_query"
        elif s.get("via_proxy"):
            attribution = "http_connect"
        else:
            attribution = {"tls1.2": "tls_sni", "tls1.3": "tls_sni", "quic": "quic_sni",
                           "http": "http_host"}[s["protocol"]]
        fnd = {
            "scene": s["id"], "client": s["client"],
            "vendor": m["vendor"], "product": m["product"], "catalog_file": m["catalog_file"],
            "purpose": m["purpose"], "match": m["match"], "pattern": m["pattern"],
            "tier": m["tier"], "vendor_jurisdiction": m["jurisdiction"],
            "server_name": s.get("name"), "attribution": attribution, "evidence_kinds": kinds,
            "protocol": s["protocol"], "transport": s["transport"],
        }
        if s.get("dns_only"):
            fnd.update(connected=False, server_ip=None, server_port=None, server_country=None,
                       resolved=[{"ip": a, "country": by_real[a]["country"], "asn": by_real[a]["asn"]}
                                 for a in answer_ips])
        elif s.get("via_proxy"):
            fnd.update(connected=True, server_ip=s["server_ip"], server_port=s["port"],
                       server_country=None, via_proxy=True,
                       note="the vendor endpoint's address is hidden behind the proxy; no country")
        else:
            fnd.update(connected=True, server_ip=s["server_ip"], server_port=s["port"],
                       server_country=geo_of["country"], server_asn=geo_of["asn"])
        if s.get("dns_client"):
            fnd["dns_client"] = s["dns_client"]
        fnd["home_cn"] = {
            "vendor": "domestic" if m["jurisdiction"][0] == "CN" else "foreign",
            "server": None if fnd["server_country"] is None else
            ("domestic" if fnd["server_country"] == "CN" else "foreign"),
        }
        findings.append(fnd)

    # Per host: what an inventory must list, and which hosts must have nothing. A host is one
    # namespace: one MAC, one IPv4 address and (for .13) one IPv6 address.
    macs = {}
    for r in rows:
        src = one(r, "ip.src") or one(r, "ipv6.src")
        if src in clients:
            macs.setdefault(src, set()).add(one(r, "eth.src"))
    hosts_out = []
    for h in spec["host"]:
        addrs = [a for a in (h["ip"], h.get("ip6")) if a]
        mac = sorted(set().union(*(macs.get(a, set()) for a in addrs)))
        if len(mac) != 1:
            fail(f"host {h['ip']}: MACs {mac}")
        fs = [f for f in findings if f["client"] in addrs or f.get("dns_client") in addrs]
        by_addr = {}
        for a in addrs:
            # Which vendors each address shows on its own: the DNS client of a scene asked for
            # the vendor name even when another address of the host made the connection.
            by_addr[a] = sorted({f["vendor"] for f in fs
                                 if f["client"] == a or f.get("dns_client") == a})
        hosts_out.append({
            "ip": h["ip"], **({"ip6": h["ip6"]} if h.get("ip6") else {}), "mac": mac[0],
            "role": h["role"],
            "expected_vendors": sorted({f["vendor"] for f in fs}),
            "expected_products": sorted({f"{f['vendor']} / {f['product']}" for f in fs}),
            "expected_vendors_by_address": by_addr,
            "benign": not fs,
        })

    with open(args.pcap, "rb") as f:
        blob = f.read()
    t0 = float(one(rows[0], "frame.time_epoch"))
    t1 = float(one(rows[-1], "frame.time_epoch"))
    iso = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    by_transport = {}
    for fl in flows:
        by_transport[fl["transport"]] = by_transport.get(fl["transport"], 0) + 1

    out = {
        "description": "Expected answers for captures/realstack.pcap, made by tools/realcap/generate.sh "
                       "from real protocol stacks in network namespaces. Lab addresses were rewritten "
                       "to the real ones below (IP headers and DNS A/AAAA data). Checked by "
                       "tools/realcap/build_expected.py against tshark without the TLS key log.",
        "capture": {
            "file": os.path.relpath(os.path.abspath(args.pcap), repo),
            "format": "pcap", "link_type": "EN10MB (Ethernet)",
            "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
            "packets": len(rows), "flows": len(flows), "flows_by_transport": by_transport,
            "first_packet": iso(t0), "last_packet": iso(t1),
            "keylog": "tools/realcap/realstack.keys (NSS key log; not needed for any finding)",
        },
        "lan": {"clients": "10.20.0.11-19 (one namespace each), 2001:db8:20::13 for the QUIC client",
                "resolver": RESOLVER, "proxy": "10.20.0.80:3128", "gateway": "10.20.0.1"},
        "geoip": geo,
        "address_map": [{k: a[k] for k in ("lab", "real", "country", "asn", "as_org", "names", "role")}
                        for a in addrmap],
        "hosts": hosts_out,
        "findings": findings,
        "benign": benign,
        "benign_hosts": [h["ip"] for h in hosts_out if h["benign"]],
        "no_finding_addresses": [h["ip"] for h in hosts_out if h["benign"]]
        + [RESOLVER, "10.20.0.80", "10.20.0.1"],
        "scenes": scenes_out,
        "generator": tool_versions(),
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"build_expected.py: {len(rows)} packets, {len(flows)} flows in {len(spec['scene'])} scenes, "
          f"{len(findings)} findings, benign hosts {out['benign_hosts']}, GeoIP checked: {geo['checked']}",
          file=sys.stderr)

    if args.readme:
        write_readme(args.readme, repo, os.path.relpath(os.path.abspath(args.pcap), repo),
                     os.path.relpath(os.path.abspath(args.keylog), repo) if args.keylog else None)


VERIFY_BEGIN = "<!-- verify:begin (generated by build_expected.py) -->"
VERIFY_END = "<!-- verify:end -->"


def write_readme(readme, repo, pcap, keylog):
    cmds = [
        ("Capture summary", f"capinfos -c -s -u -a -e -E -H {pcap} | grep -v -e '^File name' -e SHA1 -e RIPEMD160"),
        ("Checksums: count of frames whose IP/TCP/UDP/ICMP checksum is not good (0 expected)",
         f"tshark -r {pcap} -n -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE "
         f"-o udp.check_checksum:TRUE -Y 'ip.checksum.status!=1 || tcp.checksum.status!=1 || "
         f"udp.checksum.status!=1 || icmp.checksum.status!=1' | wc -l"),
        ("DNS answers (query, type, rcode, CNAME chain, A, AAAA)",
         f"tshark -r {pcap} -n -Y 'dns.flags.response==1' -T fields -e frame.number -e ip.dst "
         f"-e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e dns.cname -e dns.a -e dns.aaaa"),
        ("TLS and QUIC ClientHellos: SNI (QUIC Initials are decrypted by tshark from the DCID alone)",
         f"tshark -r {pcap} -n -Y 'tls.handshake.type==1' -T fields -e frame.number "
         f"-e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e tcp.dstport -e udp.dstport -e quic.version "
         f"-e tls.handshake.extensions_server_name"),
        ("ServerHello: negotiated version (0x0304 in supported_versions = TLS 1.3)",
         f"tshark -r {pcap} -n -Y 'tls.handshake.type==2' -T fields -e frame.number -e ip.src "
         f"-e ipv6.src -e tls.handshake.version -e tls.handshake.extensions.supported_version"),
        ("Certificates in clear (TLS 1.2 only): issuer O/CN, subject CN, SAN",
         f"tshark -r {pcap} -n -Y 'tls.handshake.type==11' -T fields -e frame.number -e ip.src "
         f"-e x509sat.uTF8String -e x509ce.dNSName"),
        ("HTTP requests in clear (Host, CONNECT)",
         f"tshark -r {pcap} -n -Y 'http.request' -T fields -e frame.number -e ip.src -e ip.dst "
         f"-e tcp.dstport -e http.request.method -e http.host -e http.request.uri"),
        ("Conversations", f"tshark -r {pcap} -n -q -z conv,tcp -z conv,udp -z conv,ip -z conv,ipv6"),
    ]
    if keylog:
        cmds.append((
            "With the key log: the requests inside TLS, the CONNECT tunnel and HTTP/3 (not needed "
            "for any finding; the analyser gets no keys)",
            f"tshark -r {pcap} -n -o tls.keylog_file:{keylog} -Y 'http.request || http3.frame_type==1' "
            f"-T fields -e frame.number -e ip.src -e ipv6.src -e http.request.method -e http.host "
            f"-e http.request.uri -e _ws.col.Info",
        ))
    parts = [VERIFY_BEGIN, ""]
    for title, cmd in cmds:
        outp = run_shell(cmd, repo)
        parts += [f"#### {title}", "", "```", f"$ {cmd}", outp.rstrip("\n"), "```", ""]
    parts.append(VERIFY_END)
    text = open(readme, encoding="utf-8").read() if os.path.exists(readme) else ""
    if VERIFY_BEGIN in text and VERIFY_END in text:
        a = text.index(VERIFY_BEGIN)
        b = text.index(VERIFY_END) + len(VERIFY_END)
        text = text[:a] + "\n".join(parts) + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(parts) + "\n"
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    try:
        main()
    except CheckError as e:
        print(f"build_expected.py: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
