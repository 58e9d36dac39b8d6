#!/usr/bin/python3
"""Rewrite lab addresses in a pcap to real ones, in place, byte for byte.

Changes, and nothing else:
  * IPv4/IPv6 source and destination addresses found in the map;
  * A and AAAA record data in DNS messages (UDP port 53) found in the map, so every DNS
    answer still binds each name to the address the client then connects to;
  * the IPv4 header checksum and the TCP/UDP/ICMP checksums, recomputed;
  * timestamps, moved so the first packet is at --base (gaps kept).
Addresses keep their size, so no length field changes. The map is a bijection.

It is strict: a frame it does not understand (not Ethernet/IPv4/IPv6 with TCP, UDP or ICMP,
IPv6 extension headers, IP options, fragments), an address that is neither mapped nor a known
LAN address, or a lab address left anywhere in the output stops it with an error.

Usage: rewrite.py --map addrmap.tsv [--base 2026-01-15T09:00:00Z] [--reverse] IN.pcap OUT.pcap
Also works on its own output (e.g. --reverse, or a new map real->other) to move addresses again.
"""

import argparse
import datetime
import ipaddress
import struct
import sys

# Addresses that stay as they are: the client LAN (hosts, resolver, gateway, proxy).
KEEP_NETS = [ipaddress.ip_network("10.20.0.0/24"), ipaddress.ip_network("2001:db8:20::/64")]
# Lab server space: every address seen here must be in the map.
LAB_NETS = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8:18::/64")]


class RewriteError(Exception):
    pass


def load_map(path, reverse):
    amap = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            lab, real = ipaddress.ip_address(cols[0]), ipaddress.ip_address(cols[1])
            if lab.version != real.version:
                raise RewriteError(f"{lab} and {real} are not the same IP version")
            src, dst = (real, lab) if reverse else (lab, real)
            if src.packed in amap:
                raise RewriteError(f"{src} mapped twice")
            amap[src.packed] = dst.packed
    if len(set(amap.values())) != len(amap):
        raise RewriteError("the map is not one-to-one")
    return amap


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Rewriter:
    def __init__(self, amap):
        self.amap = amap
        self.counts = {"frames": 0, "ip_addrs": 0, "dns_rdata": 0}

    def addr(self, raw):
        new = self.amap.get(raw)
        if new is not None:
            self.counts["ip_addrs"] += 1
            return new
        ip = ipaddress.ip_address(raw)
        if any(ip in n for n in KEEP_NETS):
            return raw
        if any(ip in n for n in LAB_NETS):
            raise RewriteError(f"lab address {ip} has no entry in the map")
        if raw in self.amap.values():  # already rewritten (re-running on an output file)
            return raw
        raise RewriteError(f"address {ip} is neither mapped nor a LAN address")

    def frame(self, buf):
        self.counts["frames"] += 1
        if len(buf) < 14:
            raise RewriteError("short Ethernet frame")
        etype = struct.unpack_from("!H", buf, 12)[0]
        if etype == 0x0800:
            self.ipv4(buf, 14)
        elif etype == 0x86DD:
            self.ipv6(buf, 14)
        else:
            raise RewriteError(f"unexpected EtherType 0x{etype:04x}")

    def ipv4(self, buf, off):
        ihl = (buf[off] & 0x0F) * 4
        if buf[off] >> 4 != 4 or ihl != 20:
            raise RewriteError("IPv4 header with options or bad version")
        total = struct.unpack_from("!H", buf, off + 2)[0]
        frag = struct.unpack_from("!H", buf, off + 6)[0]
        if frag & 0x3FFF:
            raise RewriteError("IPv4 fragment")
        proto = buf[off + 9]
        buf[off + 12 : off + 16] = self.addr(bytes(buf[off + 12 : off + 16]))
        buf[off + 16 : off + 20] = self.addr(bytes(buf[off + 16 : off + 20]))
        buf[off + 10 : off + 12] = b"\0\0"
        buf[off + 10 : off + 12] = struct.pack("!H", csum(bytes(buf[off : off + 20])))
        l4 = off + 20
        end = off + total
        if end > len(buf):
            raise RewriteError("truncated IPv4 packet (capture with -s 0)")
        pseudo = bytes(buf[off + 12 : off + 20]) + struct.pack("!BBH", 0, proto, end - l4)
        self.l4(buf, l4, end, proto, pseudo)

    def ipv6(self, buf, off):
        if buf[off] >> 4 != 6:
            raise RewriteError("bad IPv6 version")
        plen = struct.unpack_from("!H", buf, off + 4)[0]
        nxt = buf[off + 6]
        if nxt not in (6, 17):
            raise RewriteError(f"IPv6 next header {nxt} not handled")
        buf[off + 8 : off + 24] = self.addr(bytes(buf[off + 8 : off + 24]))
        buf[off + 24 : off + 40] = self.addr(bytes(buf[off + 24 : off + 40]))
        l4 = off + 40
        end = l4 + plen
        if end > len(buf):
            raise RewriteError("truncated IPv6 packet (capture with -s 0)")
        pseudo = bytes(buf[off + 8 : off + 40]) + struct.pack("!IxxxB", plen, nxt)
        self.l4(buf, l4, end, nxt, pseudo)

    def l4(self, buf, l4, end, proto, pseudo):
        if proto == 6:
            ck = l4 + 16
        elif proto == 17:
            ck = l4 + 6
            sport, dport = struct.unpack_from("!HH", buf, l4)
            if 53 in (sport, dport):
                self.dns(buf, l4 + 8, end)
        elif proto == 1:
            if buf[l4] not in (0, 8):  # echo reply / request only: others embed headers
                raise RewriteError(f"ICMP type {buf[l4]} not handled")
            buf[l4 + 2 : l4 + 4] = b"\0\0"
            buf[l4 + 2 : l4 + 4] = struct.pack("!H", csum(bytes(buf[l4:end])))
            return
        else:
            raise RewriteError(f"IP protocol {proto} not handled")
        buf[ck : ck + 2] = b"\0\0"
        value = csum(pseudo + bytes(buf[l4:end]))
        if proto == 17 and value == 0:
            value = 0xFFFF
        buf[ck : ck + 2] = struct.pack("!H", value)

    def dns(self, buf, start, end):
        msg = start

        def skip_name(p):
            for _ in range(128):
                if p >= end:
                    raise RewriteError("DNS name runs past the message")
                n = buf[p]
                if n == 0:
                    return p + 1
                if n & 0xC0 == 0xC0:
                    return p + 2
                if n & 0xC0:
                    raise RewriteError("DNS label type not handled")
                p += 1 + n
            raise RewriteError("DNS name too long")

        if end - msg < 12:
            raise RewriteError("short DNS message")
        qd, an, ns, ar = struct.unpack_from("!HHHH", buf, msg + 4)
        p = msg + 12
        for _ in range(qd):
            p = skip_name(p) + 4
        for _ in range(an + ns + ar):
            p = skip_name(p)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", buf, p)
            p += 10
            if p + rdlen > end:
                raise RewriteError("DNS record data runs past the message")
            if (rtype, rdlen) in ((1, 4), (28, 16)):
                old = bytes(buf[p : p + rdlen])
                new = self.addr(old)
                if new != old:
                    self.counts["dns_rdata"] += 1
                buf[p : p + rdlen] = new
            p += rdlen


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--map", required=True)
    ap.add_argument("--base", help="UTC time of the first packet, e.g. 2026-01-15T09:00:00Z")
    ap.add_argument("--reverse", action="store_true", help="map real -> lab")
    ap.add_argument("input")
    ap.add_argument("output")
    args = ap.parse_args()

    amap = load_map(args.map, args.reverse)
    rw = Rewriter(amap)
    with open(args.input, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, scale = "<", 1_000_000
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, scale = ">", 1_000_000
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, scale = "<", 1_000_000_000
    else:
        raise RewriteError("not a classic pcap file (pcapng is not handled)")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    if linktype != 1:
        raise RewriteError(f"link type {linktype}, expected 1 (Ethernet)")
    base = None
    if args.base:
        base = datetime.datetime.fromisoformat(args.base.replace("Z", "+00:00"))
        base = int(base.timestamp()) * scale

    out = bytearray(data[:24])
    pos, first = 24, None
    while pos < len(data):
        sec, frac, incl, orig = struct.unpack_from(endian + "IIII", data, pos)
        pos += 16
        frame = bytearray(data[pos : pos + incl])
        pos += incl
        if incl != orig:
            raise RewriteError("frame cut by the snap length")
        rw.frame(frame)
        t = sec * scale + frac
        if first is None:
            first = t
        if base is not None:
            t = base + (t - first)
        out += struct.pack(endian + "IIII", t // scale, t % scale, incl, orig) + frame

    # No lab address may be left anywhere, headers or payload.
    lab = [k for k in amap] if not args.reverse else list(amap.values())
    leftover = [ipaddress.ip_address(a) for a in lab if bytes(out[24:]).find(a) >= 0]
    if leftover and not args.reverse:
        raise RewriteError(f"lab addresses still present in the output: {leftover}")

    with open(args.output, "wb") as f:
        f.write(out)
    c = rw.counts
    print(
        f"rewrite.py: {c['frames']} frames, {c['ip_addrs']} IP header addresses and "
        f"{c['dns_rdata']} DNS A/AAAA records rewritten; no lab address left",
        file=sys.stderr,
    )


if __name__ == "__main__":
    try:
        main()
    except RewriteError as e:
        print(f"rewrite.py: error: {e}", file=sys.stderr)
        sys.exit(1)
