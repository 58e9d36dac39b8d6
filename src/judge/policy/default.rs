//! The default policy: the commented file `phonehome policy init` writes, and
//! the values it stands for (kept equal by a round-trip test).

use ipnet::IpNet;

/// Default `internal_networks`, in the order of the default file.
const INTERNAL: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
];

pub(super) fn internal_networks() -> Vec<IpNet> {
    // Constants above, all CIDRs; a typo there fails the round-trip test
    // (which reads them back through the policy loader), not a user.
    INTERNAL.iter().filter_map(|s| s.parse().ok()).collect()
}

const TEMPLATE: &str = r##"# phonehome jurisdiction policy
#
# This file tells phonehome how to judge what it sees on the network: which
# hosts are yours, which security vendors count as foreign, and to which
# countries your data may be sent. For each host, phonehome reports which
# security products send data to which countries; this policy turns each of
# those into a kind of finding with a severity.
#
# Written by `phonehome policy init`. Edit it, keep it under version control,
# and pass it to phonehome with --policy. Unknown keys and malformed values
# are errors (reported with the line number), so a typo cannot silently
# change the policy.
#
# Countries are ISO 3166-1 alpha-2 codes: "DE", "FR", "US", "GB" (not "UK"),
# "GR" (not "EL").

# The country whose jurisdiction your organisation is under. Vendors from
# this country are domestic; data sent to this country stays home.
home_country = "{HOME}"

# Your networks. A finding is made only for a host inside one of these ranges
# (CIDR notation; a single address is also accepted). Add your public ranges
# if the hosts using them should be judged too.
internal_networks = [
    "10.0.0.0/8",      # private network (RFC 1918)
    "172.16.0.0/12",   # private network (RFC 1918)
    "192.168.0.0/16",  # private network (RFC 1918)
    "100.64.0.0/10",   # carrier-grade NAT shared address space (RFC 6598)
    "169.254.0.0/16",  # IPv4 link-local
    "127.0.0.0/8",     # IPv4 loopback
    "fc00::/7",        # IPv6 unique local addresses
    "fe80::/10",       # IPv6 link-local
    "::1/128",         # IPv6 loopback
]

# Which vendors are foreign. The vendor catalog gives each vendor a list of
# jurisdiction countries (headquarters first, then e.g. the country where it
# was founded or develops its products). A vendor is foreign if ANY of its
# countries is foreign; a vendor with no known country is treated as foreign.
#   "all-but-home"        every country except home_country is foreign
#   ["US", "CN", "RU"]    only the listed countries are foreign
foreign_jurisdictions = "all-but-home"

# Countries to which data may be sent without "leaving the home country".
# A destination whose country cannot be determined counts as abroad, since
# it cannot be shown to stay home. Groups may be named: "EU" (the 27 member
# states) and "EEA" (the EU with Iceland, Liechtenstein and Norway), e.g.
# ["DE", "EU"].
allowed_destination_countries = ["{HOME}"]

# A directory of your own vendor catalog files (same format as the built-in
# catalog/*.toml), added on top of the built-in catalog, like
# `--catalog-extra DIR`; a relative path is relative to this file.
# catalog_extra = "site-catalog"

# The severity of each kind of finding: "info", "low", "medium", "high" or
# "critical". In Suricata-style alerts, critical and high become severity 1,
# medium 2, low 3 and info 4.
[severity]
# A foreign vendor's product sends data to a country not allowed above.
foreign_vendor_data_abroad = "high"
# A foreign vendor's product sends data only to allowed countries.
foreign_vendor_data_home = "medium"
# A domestic vendor's product sends data to a country not allowed above.
domestic_vendor_data_abroad = "medium"
# A domestic vendor's product sends data only to allowed countries
# (listed for the inventory).
domestic_vendor_data_home = "info"
# Only a DNS lookup of a vendor's server name was seen, no connection to it.
dns_only = "low"

# Exceptions: findings your organisation has accepted. A finding covered by
# an exception is still reported, marked as excepted, with the reason.
# Each [[exception]] block may name:
#   host     an address or a CIDR network of your hosts
#   vendor   a vendor name as in the vendor catalog (case does not matter)
#   product  a product name as in the vendor catalog (case does not matter)
# Every field given must match; give at least one of them.
#   reason   required: why the finding is accepted (ticket, decision, owner)
#   expires  optional: the last day the exception applies, as YYYY-MM-DD. It
#            is compared with the date (UTC) the finding was last seen; after
#            that day the exception no longer applies and is reported as
#            expired.
#
# Example (remove the leading "# " to use it):
# [[exception]]
# host = "10.20.0.0/16"
# vendor = "Example Vendor"
# product = "Example Endpoint Agent"
# reason = "Replacement by a domestic product under way, decision SEC-1234"
# expires = 2026-06-30
"##;

pub(super) fn default_toml(home: &str) -> String {
    TEMPLATE.replace("{HOME}", home)
}
