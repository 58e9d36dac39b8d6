//! ISO 3166-1 alpha-2 country codes and friendly errors for wrong ones.

use super::Problem;

pub use crate::base::country::ISO_3166_ALPHA2;

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
        "EU" | "EEA" => "a group, not a country: list its member states here (groups are allowed in allowed_destination_countries)",
        _ if upper.len() == 3 && upper.bytes().all(|b| b.is_ascii_alphabetic()) => {
            "use the two-letter ISO 3166-1 alpha-2 code, not the three-letter one"
        }
        _ if upper.len() != 2 => "use a two-letter ISO 3166-1 alpha-2 code such as \"DE\"",
        _ => return None,
    };
    Some(h.to_string())
}

/// Member states of the European Union (since 2020-02-01).
pub const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];
/// The European Economic Area: the EU with Iceland, Liechtenstein and Norway.
pub const EEA_EXTRA: [&str; 3] = ["IS", "LI", "NO"];

/// The countries of a named group (`EU`, `EEA`; any case), if `s` names one.
pub(super) fn group(s: &str) -> Option<Vec<&'static str>> {
    match s.trim().to_ascii_uppercase().as_str() {
        "EU" => Some(EU.to_vec()),
        "EEA" => Some(EU.iter().chain(&EEA_EXTRA).copied().collect()),
        _ => None,
    }
}
