//! GeoIP and ASN lookups over MaxMind-format databases.
