//! One record type that reads the country and ASN fields of the common
//! MaxMind-format layouts:
//!
//! * MaxMind GeoIP2/GeoLite2: `country.iso_code`, `registered_country.iso_code`,
//!   `autonomous_system_number`, `autonomous_system_organization`, and in
//!   Enterprise databases `traits.autonomous_system_*`;
//! * ip-location-db: `country_code`, `autonomous_system_number`,
//!   `autonomous_system_organization`;
//! * IPinfo-style: `country_code`, `country` as a name, `asn` as `"AS15169"`,
//!   `as_name`.
//!
//! Each spelling is its own field, not a serde alias: a record may carry
//! several of them at once (GeoIP2-ISP has `organization` beside
//! `autonomous_system_organization`), and aliases would then fail as
//! duplicates. Precedence is decided after decoding. Strings borrow from the
//! database; fields we do not name are skipped without being decoded.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct GeoRecord<'a> {
    #[serde(borrow, default)]
    country: Option<CountryField<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<CountryField<'a>>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(default)]
    autonomous_system_number: Option<AsnField>,
    #[serde(default)]
    asn: Option<AsnField>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow, default)]
    as_name: Option<&'a str>,
    #[serde(borrow, default)]
    as_org: Option<&'a str>,
    #[serde(borrow, default)]
    traits: Option<Traits<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Traits<'a> {
    #[serde(default)]
    autonomous_system_number: Option<AsnField>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

impl<'a> GeoRecord<'a> {
    /// ISO 3166-1 alpha-2 code, upper case. Where the user is matters less
    /// here than where the network is, but MaxMind fills `country` from
    /// geolocation and `registered_country` only from the registry, so the
    /// former wins and the latter is the fallback.
    pub(crate) fn country(&self) -> Option<[u8; 2]> {
        self.country
            .as_ref()
            .and_then(CountryField::iso_code)
            .and_then(alpha2)
            .or_else(|| self.country_code.and_then(alpha2))
            .or_else(|| {
                self.country
                    .as_ref()
                    .and_then(CountryField::bare)
                    .and_then(alpha2)
            })
            .or_else(|| {
                self.registered_country
                    .as_ref()
                    .and_then(CountryField::iso_code)
                    .and_then(alpha2)
            })
    }

    pub(crate) fn asn(&self) -> Option<u32> {
        self.autonomous_system_number
            .and_then(|a| a.0)
            .or_else(|| self.asn.and_then(|a| a.0))
            .or_else(|| {
                self.traits
                    .as_ref()
                    .and_then(|t| t.autonomous_system_number)
                    .and_then(|a| a.0)
            })
    }

    pub(crate) fn as_org(&self) -> Option<&'a str> {
        self.autonomous_system_organization
            .or(self.as_name)
            .or(self.as_org)
            .or_else(|| {
                self.traits
                    .as_ref()
                    .and_then(|t| t.autonomous_system_organization)
            })
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// A record of any shape: a map reads as [`GeoRecord`], anything else (some
/// databases store bare strings or numbers) as a record without fields, so
/// an unusual database is "nothing found" rather than an error.
#[derive(Debug, Default)]
pub(crate) struct AnyRecord<'a>(pub(crate) GeoRecord<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for AnyRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = AnyRecord<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a MaxMind DB record")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
                GeoRecord::deserialize(de::value::MapAccessDeserializer::new(map)).map(AnyRecord)
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AnyRecord::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AnyRecord::default())
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Two ASCII letters, upper-cased. `ZZ` and `XX` are the user-assigned codes
/// that databases use for "unknown", so they are no country.
fn alpha2(code: &str) -> Option<[u8; 2]> {
    match code.as_bytes() {
        &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            let c = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
            (c != *b"ZZ" && c != *b"XX").then_some(c)
        }
        _ => None,
    }
}

/// `country` is a map with `iso_code` (MaxMind) or a bare string (a code in
/// some databases, a country name in IPinfo's).
#[derive(Debug)]
enum CountryField<'a> {
    Map { iso_code: Option<&'a str> },
    Bare(&'a str),
}

impl<'a> CountryField<'a> {
    fn iso_code(&self) -> Option<&'a str> {
        match self {
            Self::Map { iso_code } => *iso_code,
            Self::Bare(_) => None,
        }
    }

    fn bare(&self) -> Option<&'a str> {
        match self {
            Self::Map { .. } => None,
            Self::Bare(s) => Some(s),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CountryField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CountryField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a country map or a country code")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(CountryField::Bare(s))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut iso_code = None;
                while let Some(key) = map.next_key::<&'de str>()? {
                    if key == "iso_code" && iso_code.is_none() {
                        iso_code = map.next_value::<Option<&'de str>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(CountryField::Map { iso_code })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An AS number stored as an integer, or as text (`"15169"`, `"AS15169"`).
/// Text that is no number reads as absent rather than failing the record.
#[derive(Debug, Clone, Copy)]
struct AsnField(Option<u32>);

impl<'de> Deserialize<'de> for AsnField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AsnField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AS number")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(n).ok()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(n).ok()))
            }
            fn visit_u128<E: de::Error>(self, n: u128) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(n).ok()))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AsnField, E> {
                let s = s.trim();
                let digits = s
                    .strip_prefix("AS")
                    .or_else(|| s.strip_prefix("as"))
                    .unwrap_or(s);
                Ok(AsnField(digits.parse().ok()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> GeoRecord<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn maxmind_layout() {
        let r = rec(
            r#"{"continent":{"code":"EU"},"country":{"geoname_id":1,"iso_code":"se",
               "names":{"en":"Sweden"}},"registered_country":{"iso_code":"DE"},
               "autonomous_system_number":29518,"autonomous_system_organization":" Bredband2 AB "}"#,
        );
        assert_eq!(r.country(), Some(*b"SE"));
        assert_eq!(r.asn(), Some(29518));
        assert_eq!(r.as_org(), Some("Bredband2 AB"));
    }

    #[test]
    fn registered_country_is_the_fallback() {
        let r = rec(r#"{"country":{"names":{}},"registered_country":{"iso_code":"JP"}}"#);
        assert_eq!(r.country(), Some(*b"JP"));
        let r = rec(r#"{"registered_country":{"iso_code":"JP"}}"#);
        assert_eq!(r.country(), Some(*b"JP"));
    }

    #[test]
    fn ip_location_db_layout() {
        let r = rec(r#"{"country_code":"US"}"#);
        assert_eq!(
            (r.country(), r.asn(), r.as_org()),
            (Some(*b"US"), None, None)
        );
        let r = rec(
            r#"{"autonomous_system_number":13335,"autonomous_system_organization":"Cloudflare, Inc."}"#,
        );
        assert_eq!((r.country(), r.asn()), (None, Some(13335)));
        assert_eq!(r.as_org(), Some("Cloudflare, Inc."));
    }

    #[test]
    fn ipinfo_layout_with_text_asn_and_country_name() {
        let r = rec(
            r#"{"asn":"AS15169","as_name":"Google LLC","country":"United States","country_code":"US"}"#,
        );
        assert_eq!(r.country(), Some(*b"US"));
        assert_eq!(r.asn(), Some(15169));
        assert_eq!(r.as_org(), Some("Google LLC"));
        let r = rec(r#"{"asn":"15169","country":"fr"}"#);
        assert_eq!((r.country(), r.asn()), (Some(*b"FR"), Some(15169)));
    }

    #[test]
    fn enterprise_traits_and_both_org_spellings() {
        let r = rec(
            r#"{"traits":{"autonomous_system_number":3320,"autonomous_system_organization":"DTAG","isp":"x"},
               "organization":"Deutsche Telekom"}"#,
        );
        assert_eq!((r.asn(), r.as_org()), (Some(3320), Some("DTAG")));
    }

    #[test]
    fn records_that_are_no_map_read_as_empty() {
        for json in [
            r#""::0/64""#,
            "42",
            "-1",
            "1.5",
            "true",
            "[1,{\"a\":2}]",
            "null",
        ] {
            let r: AnyRecord<'_> = serde_json::from_str(json).unwrap();
            assert_eq!(
                (r.0.country(), r.0.asn(), r.0.as_org()),
                (None, None, None),
                "{json}"
            );
        }
        let r: AnyRecord<'_> = serde_json::from_str(r#"{"country_code":"DE"}"#).unwrap();
        assert_eq!(r.0.country(), Some(*b"DE"));
    }

    #[test]
    fn junk_values_read_as_absent() {
        let r = rec(
            r#"{"country_code":"ZZ","country":{"iso_code":"USA"},"asn":"ASx","as_name":"  ",
               "registered_country":{"iso_code":"1"}}"#,
        );
        assert_eq!((r.country(), r.asn(), r.as_org()), (None, None, None));
        let r = rec(r#"{"autonomous_system_number":4294967296}"#);
        assert_eq!(r.asn(), None);
        assert_eq!(alpha2("XX"), None);
        assert_eq!(alpha2("é"), None);
        assert_eq!(alpha2("cn"), Some(*b"CN"));
    }
}
