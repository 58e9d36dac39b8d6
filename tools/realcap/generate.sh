#!/usr/bin/env bash
# Regenerate captures/realstack.pcap and captures/realstack.expected.json from real protocol
# stacks (curl/OpenSSL, openssl s_client/s_server, Python ssl, ngtcp2+nghttp3 (GnuTLS),
# dnsmasq, tinyproxy, the Linux kernel's TCP/UDP/ICMP) running in network namespaces on this
# machine. Run as root on Debian 12. Developers run it by hand; CI does not (the outputs are
# committed). See tools/realcap/README.md.
#
# Usage: tools/realcap/generate.sh [--new-certs] [--keep-work]
#   --new-certs  make a new private CA and server certificates (default: reuse tools/realcap/certs)
#   --keep-work  keep the scratch directory (raw capture with lab addresses, server logs)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CERTS="$HERE/certs"
OUT_PCAP="$REPO/captures/realstack.pcap"
OUT_JSON="$REPO/captures/realstack.expected.json"
PY=/usr/bin/python3 # Debian's Python: stdlib only (+ python3-maxminddb for the GeoIP check)

NEW_CERTS=0
KEEP_WORK=0
for arg in "$@"; do
    case "$arg" in
    --new-certs) NEW_CERTS=1 ;;
    --keep-work) KEEP_WORK=1 ;;
    *)
        echo "unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

say() { printf '[realcap] %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || {
    echo "run as root (network namespaces, ports 53/80/443)" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# 1. Packages. Only Debian packages; the *-bin/-base variants so no service starts on the host.
# ---------------------------------------------------------------------------------------------
PKGS=(iproute2 ethtool tcpdump tshark dnsmasq-base tinyproxy-bin ngtcp2-client ngtcp2-server
    curl openssl iputils-ping python3 python3-maxminddb)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing with apt-get: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "all needed Debian packages are installed (${PKGS[*]})"
fi

WORK="$(mktemp -d /tmp/realcap.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
NAMESPACES=(rc-lan rc-dns rc-inet rc-h11 rc-h12 rc-h13 rc-h14 rc-h15 rc-h16 rc-h17 rc-h18 rc-h19
    rc-h20 rc-h21)

cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ns in "${NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "/etc/netns/$ns"
    done
    if [ "$KEEP_WORK" = 1 ] || [ "$rc" != 0 ]; then
        say "scratch directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------------------------------------
# 2. Certificates: a private CA and one ECDSA P-256 certificate per server name.
# ---------------------------------------------------------------------------------------------
# name|extra SAN entries (comma separated, DNS: prefix added)
CERT_NAMES=(
    "ts01-b.cloudsink.net|"
    "wdcp.microsoft.com|*.wdcp.microsoft.com"
    "usea1-014.sentinelone.net|"
    "xlogr-ec1.xdr.trendmicro.com|"
    "ksn-url-geo.kaspersky-labs.com|"
    "update.360safe.com|"
    "pcmgrmonitor.3g.qq.com|"
    "www.example.com|example.com"
    "cdn.jsdelivr.net|"
    "www.sophos.com|"
    "ts01-lion-b.cloudsink.net|"
    "ts01-gyr-lion.cloudsink.net|"
    "ksn-edge7.kaspersky-labs.com|"
    "www.eset.com|eset.com"
    "support.kaspersky.com|"
    "www.crowdstrike.com|crowdstrike.com"
)
make_certs() {
    rm -rf "$CERTS"
    mkdir -p "$CERTS"
    openssl ecparam -name prime256v1 -genkey -noout -out "$CERTS/ca.key.tmp"
    openssl pkcs8 -topk8 -nocrypt -in "$CERTS/ca.key.tmp" -out "$CERTS/ca.key"
    rm "$CERTS/ca.key.tmp"
    openssl req -x509 -new -key "$CERTS/ca.key" -sha256 -days 3650 -set_serial 1 \
        -subj "/O=phonehome test lab/CN=phonehome realcap test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$CERTS/ca.pem"
}
# One leaf per name that has none yet (serials follow the list order).
make_leaves() {
    local serial=100 entry name extra san
    for entry in "${CERT_NAMES[@]}"; do
        name="${entry%%|*}"
        extra="${entry#*|}"
        serial=$((serial + 1))
        [ -f "$CERTS/$name.pem" ] && continue
        san="DNS:$name"
        if [ -n "$extra" ]; then san="$san,DNS:${extra//,/,DNS:}"; fi
        openssl ecparam -name prime256v1 -genkey -noout -out "$CERTS/$name.key.tmp"
        openssl pkcs8 -topk8 -nocrypt -in "$CERTS/$name.key.tmp" -out "$CERTS/$name.key"
        rm "$CERTS/$name.key.tmp"
        openssl req -new -key "$CERTS/$name.key" -subj "/CN=$name" -out "$WORK/$name.csr"
        printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
            "$san" >"$WORK/$name.ext"
        openssl x509 -req -in "$WORK/$name.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" \
            -set_serial "$serial" -days 3650 -sha256 -extfile "$WORK/$name.ext" \
            -out "$CERTS/$name.pem" 2>/dev/null
    done
}
if [ "$NEW_CERTS" = 1 ] || [ ! -f "$CERTS/ca.pem" ]; then
    say "making a private CA and server certificates in $CERTS (test keys, never use elsewhere)"
    make_certs
else
    say "reusing certificates in $CERTS (new names get one from the same CA)"
fi
make_leaves

# ---------------------------------------------------------------------------------------------
# 3. Network: one bridge (rc-lan/br0) joins every namespace; the capture is taken on it.
#    rc-h11..rc-h19: one client host each (10.20.0.1x, 2001:db8:20::1x)
#    rc-dns: the LAN resolver 10.20.0.53 (dnsmasq)
#    rc-inet: the default gateway 10.20.0.1 / 2001:db8:20::1, the corporate proxy 10.20.0.80,
#             and every remote server address (198.18.0.x, 2001:db8:18::x) on its loopback, so
#             the proxy's upstream connection stays inside rc-inet and never crosses the bridge.
#    No interface connects to the host's own namespace: nothing can leave.
# ---------------------------------------------------------------------------------------------
nsx() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}
for ns in "${NAMESPACES[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
done
nsx rc-lan sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
nsx rc-lan ip link add br0 type bridge
nsx rc-lan ip link set br0 address 02:00:0a:14:00:fe

attach() { # attach NAMESPACE MAC: eth0 in NAMESPACE, its peer p-NAMESPACE on br0
    local ns=$1 mac=$2 peer="p-${1#rc-}"
    ip link add eth0 netns "$ns" type veth peer name "$peer" netns rc-lan
    nsx "$ns" ip link set eth0 address "$mac"
    # No offloads: every captured frame is a real wire-sized frame with a real checksum.
    nsx "$ns" ethtool -K eth0 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    nsx rc-lan ethtool -K "$peer" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    nsx rc-lan ip link set "$peer" master br0
    nsx rc-lan ip link set "$peer" up
    nsx "$ns" ip link set eth0 up
}
attach rc-inet 02:00:0a:14:00:01
nsx rc-inet ip addr add 10.20.0.1/24 dev eth0
nsx rc-inet ip addr add 10.20.0.80/24 dev eth0
nsx rc-inet ip -6 addr add 2001:db8:20::1/64 dev eth0 nodad
while read -r lab _; do
    case "$lab" in
    '#'* | '') continue ;;
    *:*) nsx rc-inet ip -6 addr add "$lab/128" dev lo ;;
    *) nsx rc-inet ip addr add "$lab/32" dev lo ;;
    esac
done <"$HERE/addrmap.tsv"

attach rc-dns 02:00:0a:14:00:35
nsx rc-dns ip addr add 10.20.0.53/24 dev eth0

for h in 11 12 13 14 15 16 17 18 19 20 21; do
    ns="rc-h$h"
    attach "$ns" "02:00:0a:14:00:$h"
    nsx "$ns" ip addr add "10.20.0.$h/24" dev eth0
    nsx "$ns" ip -6 addr add "2001:db8:20::$h/64" dev eth0 nodad
    nsx "$ns" ip route add default via 10.20.0.1
    nsx "$ns" ip -6 route add default via 2001:db8:20::1
    mkdir -p "/etc/netns/$ns"
    printf 'nameserver 10.20.0.53\n' >"/etc/netns/$ns/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"/etc/netns/$ns/hosts"
done
nsx rc-lan ip link set br0 up
# The proxy resolves its upstream from a hosts file: no DNS traffic from rc-inet.
mkdir -p /etc/netns/rc-inet
printf '127.0.0.1\tlocalhost\n198.18.0.15\txlogr-ec1.xdr.trendmicro.com\n' >/etc/netns/rc-inet/hosts
printf 'nameserver 127.0.0.1\n' >/etc/netns/rc-inet/resolv.conf

# ---------------------------------------------------------------------------------------------
# 4. Servers
# ---------------------------------------------------------------------------------------------
start_bg() { # start_bg NAMESPACE LOGNAME CMD...: start in the background, remember its pid
    local ns=$1 log=$2
    shift 2
    ip netns exec "$ns" "$@" >"$WORK/$log.log" 2>&1 &
    PIDS+=($!)
}
mkdir -p "$WORK/www" "$WORK/www-eset/eset_upd/v16" "$WORK/www-plain"
printf 'ok\n' >"$WORK/www/ok.txt"
printf '[HOSTS]\nOther=200@http://um10.eset.com/eset_upd/v16/\n' >"$WORK/www-eset/eset_upd/v16/update.ver"
printf '<html><body>plain http</body></html>\n' >"$WORK/www-plain/index.html"

: >"$WORK/dnsmasq.log"
chmod 666 "$WORK/dnsmasq.log"
start_bg rc-dns dnsmasq dnsmasq --keep-in-foreground --conf-file="$HERE/dnsmasq.conf" \
    --pid-file="$WORK/dnsmasq.pid" --log-facility="$WORK/dnsmasq.log"

# One openssl s_server per address, serving ok.txt from $WORK/www (-WWW).
start_tls() {
    local addr=$1 name=$2 ver=$3
    (cd "$WORK/www" && exec ip netns exec rc-inet openssl s_server -accept "$addr:443" \
        -cert "$CERTS/$name.pem" -key "$CERTS/$name.key" "$ver" -WWW) \
        >"$WORK/s_server-$addr.log" 2>&1 &
    PIDS+=($!)
}
start_tls 198.18.0.11 ts01-b.cloudsink.net -tls1_3
start_tls 198.18.0.12 wdcp.microsoft.com -tls1_2
start_tls 198.18.0.15 xlogr-ec1.xdr.trendmicro.com -tls1_3
start_tls 198.18.0.16 ksn-url-geo.kaspersky-labs.com -tls1_3
start_tls 198.18.0.18 update.360safe.com -tls1_3
start_tls 198.18.0.28 pcmgrmonitor.3g.qq.com -tls1_2
start_tls 198.18.0.91 www.example.com -tls1_3
start_tls 198.18.0.92 cdn.jsdelivr.net -tls1_3
start_tls 198.18.0.94 www.sophos.com -tls1_3
start_tls 198.18.0.40 ts01-lion-b.cloudsink.net -tls1_3
start_tls 198.18.0.42 ksn-edge7.kaspersky-labs.com -tls1_3
start_tls 198.18.0.43 ts01-gyr-lion.cloudsink.net -tls1_2
start_tls 198.18.0.96 www.eset.com -tls1_3
start_tls 198.18.0.97 support.kaspersky.com -tls1_3
start_tls 198.18.0.98 www.crowdstrike.com -tls1_2

start_bg rc-inet quic-server gtlsserver -q -d "$WORK/www" 2001:db8:18::13 443 \
    "$CERTS/usea1-014.sentinelone.net.key" "$CERTS/usea1-014.sentinelone.net.pem"
start_bg rc-inet http-eset "$PY" -m http.server --bind 198.18.0.14 --directory "$WORK/www-eset" 80
start_bg rc-inet http-plain "$PY" -m http.server --bind 198.18.0.93 --directory "$WORK/www-plain" 80
start_bg rc-inet http-eset2 "$PY" -m http.server --bind 198.18.0.41 --directory "$WORK/www-eset" 80

sed "s|@WORK@|$WORK|g" "$HERE/tinyproxy.conf.in" >"$WORK/tinyproxy.conf"
: >"$WORK/tinyproxy.log"
chmod 666 "$WORK/tinyproxy.log"
start_bg rc-inet tinyproxy-stderr tinyproxy -d -c "$WORK/tinyproxy.conf"

wait_listen() { # wait_listen NAMESPACE ss-flags PATTERN
    for _ in $(seq 1 50); do
        if ip netns exec "$1" ss -H "$2" | grep -q -- "$3"; then return 0; fi
        sleep 0.1
    done
    echo "timeout waiting for $3 in $1" >&2
    return 1
}
wait_listen rc-dns -lun '10.20.0.53:53'
for a in 11 12 15 16 18 28 40 42 43 91 92 94 96 97 98; do wait_listen rc-inet -ltn "198.18.0.$a:443"; done
wait_listen rc-inet -ltn '198.18.0.41:80' 
wait_listen rc-inet -lun '\[2001:db8:18::13\]:443'
wait_listen rc-inet -ltn '198.18.0.14:80'
wait_listen rc-inet -ltn '198.18.0.93:80'
wait_listen rc-inet -ltn '10.20.0.80:3128'
say "servers up: dnsmasq, 15x openssl s_server, gtlsserver (QUIC), 3x python http.server, tinyproxy"

# ---------------------------------------------------------------------------------------------
# 5. Capture on the bridge: every frame between the hosts, the resolver and the gateway.
#    ARP and ICMPv6 (neighbour discovery, MLD) are left out: they carry lab addresses and
#    no evidence.
# ---------------------------------------------------------------------------------------------
RAW="$WORK/raw.pcap"
FILTER='(ip and (tcp or udp or icmp)) or (ip6 and (tcp or udp))'
ip netns exec rc-lan tcpdump -i br0 -U -s 0 --immediate-mode -w "$RAW" "$FILTER" \
    >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
PIDS+=("$TCPDUMP_PID")
for _ in $(seq 1 50); do
    grep -q 'listening on' "$WORK/tcpdump.log" && break
    sleep 0.1
done
grep -q 'listening on' "$WORK/tcpdump.log" || {
    cat "$WORK/tcpdump.log" >&2
    exit 1
}
sleep 0.5

# ---------------------------------------------------------------------------------------------
# 6. Scenes. Every client runs with a clean environment (no proxy variables) and appends its
#    TLS secrets to one NSS key log, shipped beside the capture for tshark decryption.
# ---------------------------------------------------------------------------------------------
KEYS="$WORK/keylog.txt"
: >"$KEYS"
CA="$CERTS/ca.pem"
client() { # client HOST CMD...
    local h=$1
    shift
    ip netns exec "rc-h$h" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SSLKEYLOGFILE="$KEYS" \
        timeout 20 "$@"
}
scene() {
    say "scene $*"
    sleep 1
}

scene "s01: 10.20.0.11 curl TLS 1.3 -> ts01-b.cloudsink.net (CrowdStrike) after DNS"
client 11 curl -sS --tlsv1.3 --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    https://ts01-b.cloudsink.net/ok.txt

scene "s02: 10.20.0.12 openssl s_client TLS 1.2 -> wdcp.microsoft.com (Defender) via CNAME chain"
printf 'GET /ok.txt HTTP/1.0\r\nHost: wdcp.microsoft.com\r\n\r\n' |
    client 12 openssl s_client -quiet -tls1_2 -connect wdcp.microsoft.com:443 \
        -servername wdcp.microsoft.com -CAfile "$CA" -verify_return_error -verify_hostname wdcp.microsoft.com \
        -keylogfile "$KEYS" 2>"$WORK/s02.err"
echo

scene "s03: 10.20.0.13 ngtcp2 gtlsclient HTTP/3 over QUIC (IPv6) -> usea1-014.sentinelone.net"
mkdir -p "$WORK/dl"
client 13 gtlsclient -q --exit-on-all-streams-close --download "$WORK/dl" \
    usea1-014.sentinelone.net 443 https://usea1-014.sentinelone.net/ok.txt
cat "$WORK/dl/ok.txt"

scene "s04: 10.20.0.14 curl plain HTTP -> um10.eset.com (ESET update)"
client 14 curl -sS -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    http://um10.eset.com/eset_upd/v16/update.ver

scene "s05: 10.20.0.15 curl via proxy 10.20.0.80:3128 CONNECT xlogr-ec1.xdr.trendmicro.com:443, TLS 1.3 inside"
client 15 curl -sS --tlsv1.3 --cacert "$CA" -x http://10.20.0.80:3128 -o /dev/null \
    -w '%{http_code}\n' https://xlogr-ec1.xdr.trendmicro.com/ok.txt

scene "s06: 10.20.0.16 resolve ksn-url-geo.kaspersky-labs.com, then TLS 1.3 to the address without SNI"
KSN_ADDR="$(client 16 "$PY" -c 'import socket; print(socket.getaddrinfo("ksn-url-geo.kaspersky-labs.com", 443, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])')"
echo "resolved to $KSN_ADDR"
printf 'GET /ok.txt HTTP/1.0\r\n\r\n' |
    client 16 openssl s_client -quiet -tls1_3 -connect "$KSN_ADDR:443" -noservername \
        -CAfile "$CA" -keylogfile "$KEYS" 2>"$WORK/s06.err"
echo

scene "s07: 10.20.0.17 DNS only: d1.sophosxl.net (A and AAAA), no connection"
client 17 getent ahosts d1.sophosxl.net | sort -u

scene "s08: 10.20.0.18 Python ssl/urllib TLS 1.3 -> update.360safe.com (Qihoo 360)"
client 18 "$PY" -c '
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.keylog_filename = sys.argv[2]
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
with urllib.request.urlopen("https://update.360safe.com/ok.txt", context=ctx, timeout=10) as r:
    print(r.status, r.read().decode().strip())
' "$CA" "$KEYS"

scene "s09: 10.20.0.18 curl TLS 1.2 -> pcmgrmonitor.3g.qq.com (Tencent PC Manager)"
client 18 curl -sS --tlsv1.2 --tls-max 1.2 --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    https://pcmgrmonitor.3g.qq.com/ok.txt

scene "s10: 10.20.0.19 benign: curl TLS 1.3 -> www.example.com"
client 19 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' https://www.example.com/ok.txt

scene "s11: 10.20.0.19 benign: curl TLS 1.3 -> cdn.jsdelivr.net (CNAME to a CDN name)"
client 19 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' https://cdn.jsdelivr.net/ok.txt

scene "s12: 10.20.0.19 benign: curl plain HTTP -> neverssl.com"
client 19 curl -sS -o /dev/null -w '%{http_code} %{remote_ip}\n' http://neverssl.com/

scene "s13: 10.20.0.19 benign: curl TLS 1.3 -> www.sophos.com (vendor web site, not an agent endpoint)"
client 19 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' https://www.sophos.com/ok.txt

scene "s14: 10.20.0.19 benign: DNS for www.debian.org (NXDOMAIN from the lab resolver)"
client 19 getent ahosts www.debian.org || echo "NXDOMAIN as expected"

scene "s15: 10.20.0.19 benign: ping 3 echo requests to the 9.9.9.9 lab address"
client 19 ping -c 3 -i 0.2 -n 198.18.0.95 | tail -2

scene "s16: 10.20.0.20 curl TLS 1.3 -> ts01-lion-b.cloudsink.net (CrowdStrike name not in the catalog, under its owned domain)"
client 20 curl -sS --tlsv1.3 --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    https://ts01-lion-b.cloudsink.net/ok.txt

scene "s17: 10.20.0.20 curl plain HTTP -> um99.eset.com (ESET name not in the catalog, on ESET's own AS)"
client 20 curl -sS -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    http://um99.eset.com/eset_upd/v16/update.ver

scene "s18: 10.20.0.21 TLS 1.3 without SNI and without DNS to an address in Kaspersky's own AS"
printf 'GET /ok.txt HTTP/1.0\r\n\r\n' |
    client 21 openssl s_client -quiet -tls1_3 -connect 198.18.0.42:443 -noservername \
        -CAfile "$CA" -keylogfile "$KEYS" 2>"$WORK/s18.err"
echo

scene "s19: 10.20.0.21 TLS 1.2 without SNI and without DNS to CrowdStrike's own AS: certificate in clear"
printf 'GET /ok.txt HTTP/1.0\r\n\r\n' |
    client 21 openssl s_client -quiet -tls1_2 -connect 198.18.0.43:443 -noservername \
        -CAfile "$CA" -keylogfile "$KEYS" 2>"$WORK/s19.err"
echo

scene "s20: 10.20.0.19 benign: curl TLS 1.3 -> www.eset.com (vendor web site on the vendor's own AS)"
client 19 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' https://www.eset.com/ok.txt

scene "s21: 10.20.0.19 benign: curl TLS 1.3 -> support.kaspersky.com (vendor support site on its own AS)"
client 19 curl -sS --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' https://support.kaspersky.com/ok.txt

scene "s22: 10.20.0.19 benign: curl TLS 1.2 -> www.crowdstrike.com (vendor web site, certificate in clear)"
client 19 curl -sS --tlsv1.2 --tls-max 1.2 --cacert "$CA" -o /dev/null -w '%{http_code} %{remote_ip}\n' \
    https://www.crowdstrike.com/ok.txt

sleep 1
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
say "tcpdump: $(grep -E 'captured|dropped by kernel' "$WORK/tcpdump.log" | tr '\n' ' ')"

# ---------------------------------------------------------------------------------------------
# 7. Rewrite lab addresses to real ones (IP headers and DNS answers), fix checksums, move the
#    clock to 2026-01-15T09:00:00Z keeping the gaps. Then build and check the expected answers.
# ---------------------------------------------------------------------------------------------
mkdir -p "$REPO/captures"
"$PY" "$HERE/rewrite.py" --map "$HERE/addrmap.tsv" --base 2026-01-15T09:00:00Z "$RAW" "$OUT_PCAP"
sort -u "$KEYS" >"$HERE/realstack.keys"
"$PY" "$HERE/build_expected.py" --repo "$REPO" --pcap "$OUT_PCAP" --out "$OUT_JSON" \
    --keylog "$HERE/realstack.keys" --readme "$HERE/README.md"
say "wrote $OUT_PCAP ($(stat -c %s "$OUT_PCAP") bytes) and $OUT_JSON"
