#!/bin/sh
# Refreshes the built-in GeoIP data from the npm registry.
#   usage: geoip/update.sh [VERSION]     (default: the latest published version)
# Needs: npm, perl with MaxMind::DB::Writer (Debian: libmaxmind-db-writer-perl),
# sha256sum. Afterwards update the versions, dates and checksums in
# geoip/README.md and run `cargo test --lib resolve::geoip`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

npm pack --silent "@ip-location-db/geo-whois-asn-country-mmdb@$version" >/dev/null
npm pack --silent "@ip-location-db/asn@$version" >/dev/null
for t in *.tgz; do
    mkdir "${t%.tgz}"
    tar -xzf "$t" -C "${t%.tgz}"
done
country=$(echo ip-location-db-geo-whois-asn-country-mmdb-*/package)
asn=$(echo ip-location-db-asn-*/package)
cver=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$country/package.json")
aver=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$asn/package.json")

cp "$country/geo-whois-asn-country.mmdb" "$here/geo-whois-asn-country.mmdb"

# The ASN database gets the country database's build time: both packages are
# generated from the same daily run, and a fixed time keeps the output
# reproducible.
epoch=$(perl -MMaxMind::DB::Reader -e \
    'print MaxMind::DB::Reader->new(file => shift)->metadata->build_epoch' \
    "$here/geo-whois-asn-country.mmdb")

perl "$here/tools/asn-csv-to-mmdb.pl" "$here/asn.mmdb" "$epoch" \
    "IP to ASN from npm @ip-location-db/asn $aver (RouteViews, NRO, DB-IP IP to ASN Lite; CC BY 4.0), converted by phonehome" \
    "$asn/asn-ipv4.csv" "$asn/asn-ipv6.csv"

echo "country: @ip-location-db/geo-whois-asn-country-mmdb $cver"
echo "asn:     @ip-location-db/asn $aver"
echo "build epoch: $epoch ($(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S UTC'))"
cd "$here" && ls -l geo-whois-asn-country.mmdb asn.mmdb && sha256sum geo-whois-asn-country.mmdb asn.mmdb
