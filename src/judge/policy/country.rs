//! ISO 3166-1 alpha-2 country codes and friendly errors for wrong ones.

use super::Problem;

/// ISO 3166-1 alpha-2 codes currently assigned, sorted, plus `XK` (Kosovo:
/// user-assigned, but GeoIP databases and vendors use it).
pub const ISO_3166_ALPHA2: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
];

/// The upper-case code for `s` (any case, surrounding spaces ignored), or why
/// it is not one.
pub(super) fn parse(s: &str) -> Result<String, Problem> {
    let upper = s.trim().to_ascii_uppercase();
    if ISO_3166_ALPHA2.binary_search(&upper.as_str()).is_ok() {
        Ok(upper)
    } else {
        Err(Problem::UnknownCountry {
            code: s.to_string(),
            hint: hint(&upper),
        })
    }
}

/// A suggestion for a common mistake.
fn hint(upper: &str) -> Option<String> {
    let h = match upper {
        "UK" => "did you mean GB?",
        "EL" => "did you mean GR?",
        "EU" => "the EU is not a country: list its member states",
        _ if upper.len() == 3 && upper.bytes().all(|b| b.is_ascii_alphabetic()) => {
            "use the two-letter ISO 3166-1 alpha-2 code, not the three-letter one"
        }
        _ if upper.len() != 2 => "use a two-letter ISO 3166-1 alpha-2 code such as \"DE\"",
        _ => return None,
    };
    Some(h.to_string())
}
