#!/usr/bin/env python3
"""Cross-check captures/demo.pcap against captures/demo.expected.json with tshark.

A development aid, not a test: the test suite must not depend on tshark. Usage:
    python3 tools/gencap/scripts/tshark_check.py [captures/demo.pcap]
With JA4PY=/path/to/FoxIO-LLC/ja4/python/ja4.py in the environment, JA4 is also compared with
FoxIO's reference script (which drives tshark itself; it labels tunnelled flows by their outer
addresses and skips hellos inside CONNECT tunnels and ClientHellos split over QUIC Initials).
Prints one line per check and exits non-zero if any disagrees.
"""
import json
import subprocess
import sys
from collections import Counter, defaultdict

pcap = sys.argv[1] if len(sys.argv) > 1 else "captures/demo.pcap"
exp = json.load(open(pcap.rsplit(".", 1)[0] + ".expected.json"))
failures = 0


def tshark(*args):
    out = subprocess.run(["tshark", "-r", pcap, *args], capture_output=True, text=True, check=True)
    return out.stdout


def fields(filt, *names):
    args = ["-Y", filt, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for n in names:
        args += ["-e", n]
    rows = []
    for line in tshark(*args).splitlines():
        rows.append(line.split("\t"))
    return rows


def check(what, got, want):
    global failures
    ok = got == want
    failures += not ok
    print(f"{'OK  ' if ok else 'FAIL'} {what}: tshark={got!r}" + ("" if ok else f" expected={want!r}"))


flows = exp["flows"]

# Packet total
check("packets", int(tshark("-q", "-z", "io,stat,0").split("|")[-2].split()[0]) if False else
      len(tshark("-T", "fields", "-e", "frame.number").split()), exp["capture"]["packets"])


def last_ip(row_ip4, row_ip6):
    # inner-most address when tunnelled (tshark lists outer first)
    v = row_ip4 or row_ip6
    return v.split("|")[-1]


# TLS ClientHellos over TCP and QUIC: SNI and JA3 per (client, client port)
hello = {}
for r in fields("tls.handshake.type==1", "ip.src", "ipv6.src", "tcp.srcport", "udp.srcport",
                "tls.handshake.extensions_server_name", "tls.handshake.ja3", "tls.handshake.ja3_full"):
    ip4, ip6, tp, up, sni, ja3, ja3f = (r + [""] * 7)[:7]
    port = (tp or up).split("|")[-1]
    hello[(last_ip(ip4, ip6), int(port))] = (sni or None, ja3, ja3f)
want_hello = {}
for f in flows:
    if f.get("tls"):
        want_hello[(f["client"], f["client_port"])] = (f["tls"]["sni"], f["tls"]["ja3_md5"], f["tls"]["ja3"])
check("ClientHello count", len(hello), len(want_hello))
for k, w in sorted(want_hello.items()):
    g = hello.get(k)
    check(f"hello {k[0]}:{k[1]} SNI", g and g[0], w[0])
    check(f"hello {k[0]}:{k[1]} JA3 md5", g and g[1], w[1])
    check(f"hello {k[0]}:{k[1]} JA3 string", g and g[2], w[2])

# QUIC SNIs specifically (tshark decrypts the Initials with the DCID-derived keys)
quic_snis = sorted({r[0] for r in fields("quic && tls.handshake.type==1", "tls.handshake.extensions_server_name")})
check("QUIC SNIs", quic_snis, sorted(exp["summary"]["quic_snis"]))
quic_frames = Counter(r[0] for r in fields("quic.long.packet_type==0 && udp.srcport!=443", "udp.srcport"))
for f in flows:
    if f.get("quic"):
        check(f"QUIC {f['client']}:{f['client_port']} client Initial packets", quic_frames.get(str(f["client_port"])),
              f["quic"]["client_initial_packets"])

# DNS: names queried and answered, by transaction
q = sorted({r[0] for r in fields("dns.flags.response==0", "dns.qry.name")})
check("DNS query names", q, sorted(exp["summary"]["dns_queries"]))
answers = defaultdict(list)
for r in fields("dns.flags.response==1", "udp.dstport", "dns.a", "dns.aaaa", "dns.cname"):
    port, a, aaaa, cname = (r + [""] * 4)[:4]
    answers[int(port)] = sorted(x for x in (a + "|" + aaaa + "|" + cname).split("|") if x)
for f in flows:
    if f["app"] == "dns":
        want = sorted(x["data"] for x in f["names"]["dns_answers"])
        check(f"DNS {f['names']['dns_query']} answers ({len(want)})", answers.get(f["client_port"]), want)

# HTTP hosts and CONNECT
hosts = sorted({r[0] for r in fields("http.request.method==\"GET\"", "http.host")})
check("HTTP Host", hosts, sorted(exp["summary"]["http_hosts"]))
conn = sorted({r[0] for r in fields("http.request.method==\"CONNECT\"", "http.request.uri")})
check("CONNECT targets", conn, sorted(exp["summary"]["connect_targets"]))

# Certificates
certs = fields("tls.handshake.type==11", "tcp.dstport", "x509sat.uTF8String", "x509ce.dNSName")
got_certs = sorted((int(r[0]), tuple(sorted(set((r[2] if len(r) > 2 else "").split("|"))))) for r in certs)
want_certs = sorted((f["client_port"], tuple(sorted({n for c in f["tls"]["server"]["certificates"] for n in c["san_dns"]})))
                    for f in flows if f.get("tls") and f["tls"].get("server") and f["tls"]["server"].get("certificates"))
check("certificate SAN dNSNames per flow", got_certs, want_certs)
issuers = sorted({x for r in certs for x in r[1].split("|")})
want_names = sorted({p.split("=", 1)[1] for f in flows if f.get("tls") and f["tls"].get("server")
                     for c in f["tls"]["server"].get("certificates", []) for p in (c["subject"] + "," + c["issuer"]).split(",")
                     if p.startswith(("CN=", "O="))})
check("certificate subject/issuer CN and O strings", issuers, want_names)

# Conversations
def convs(kind):
    out = tshark("-q", "-z", f"conv,{kind}")
    rows = [l for l in out.splitlines() if "<->" in l]
    return rows
check("TCP conversations", len(convs("tcp")), exp["summary"]["conversations_tcp"])
check("UDP conversations", len(convs("udp")), exp["summary"]["conversations_udp"])

# Per-flow packets both ways via conversation filters (TCP only: tshark sees fragments and
# tunnels differently for UDP)
for f in flows:
    if f["transport"] != "tcp":
        continue
    filt = f"tcp.port=={f['client_port']} && tcp.port=={f['server_port']}"
    n = len(tshark("-Y", filt, "-T", "fields", "-e", "frame.number").split())
    check(f"TCP {f['client']}:{f['client_port']} packets", n,
          f["to_server"]["packets"] + f["to_client"]["packets"])
    nb = sum(int(x) for x in tshark("-Y", filt, "-T", "fields", "-e", "frame.len").split())
    check(f"TCP {f['client']}:{f['client_port']} bytes", nb, f["to_server"]["bytes"] + f["to_client"]["bytes"])

# TCP end states
rst = sorted({int(r[0]) for r in fields("tcp.flags.reset==1", "tcp.dstport")} |
             {int(r[0]) for r in fields("tcp.flags.reset==1", "tcp.srcport")})
check("flows with RST (ports)", [p for p in rst if any(f.get("client_port") == p for f in flows)],
      sorted(f["client_port"] for f in flows if f.get("tcp_end") == "rst"))
fin = Counter(int(min(int(r[0]), int(r[1]))) for r in fields("tcp.flags.fin==1", "tcp.srcport", "tcp.dstport"))
open_ = sorted(f["client_port"] for f in flows if f.get("tcp_end") == "open")
check("open TCP flows have no FIN", [p for p in open_ if fin.get(p)], [])

# Fragments and VXLAN
frag = len(tshark("-Y", "ip.flags.mf==1 || ip.frag_offset>0", "-T", "fields", "-e", "frame.number").split())
check("IPv4 fragments", frag, sum(f["ipv4_fragments"] for f in flows))
vx = len(tshark("-Y", "vxlan", "-T", "fields", "-e", "frame.number").split())
check("VXLAN frames", vx, sum(f["to_server"]["packets"] + f["to_client"]["packets"] for f in flows if f["app"] == "vxlan"))
qinq = len(tshark("-Y", "eth.type==0x88a8 && ieee8021ad.id==200 && vlan.id==20", "-T", "fields", "-e", "frame.number").split())
check("QinQ frames", qinq, sum(f["to_server"]["packets"] + f["to_client"]["packets"] for f in flows if len(f["vlan"]) == 2))
bad = tshark("-Y", "tcp.checksum.status==0 || udp.checksum.status==0 || ip.checksum.status==0 || _ws.malformed",
             "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
             "-T", "fields", "-e", "frame.number").split()
check("frames with bad checksums or malformed", len(bad), 0)

ja4py = __import__("os").environ.get("JA4PY")
if ja4py:
    import re
    out = subprocess.run(["python3", ja4py, pcap, "-J"], capture_output=True, text=True, check=True).stdout
    got = {}
    for m in re.findall(r"\{[^{}]*\}", out, re.S):
        o = json.loads(m)
        for k, v in o.items():
            if k.startswith("JA4."):
                got[(o["src"], int(o["srcport"]))] = v
    for f in flows:
        if f.get("tls") and not f.get("quic") and f["app"] != "http-connect":
            key = (f["client"], f["client_port"])
            if f.get("tunnel_flow"):  # FoxIO names the outer (VTEP) address
                outer = next(x for x in flows if x["id"] == f["tunnel_flow"])
                key = (outer["client"], f["client_port"])
            check(f"JA4 (FoxIO ja4.py) {key[0]}:{key[1]}", got.get(key), f["tls"]["ja4"])

print(f"\n{failures} disagreement(s)")
sys.exit(1 if failures else 0)
