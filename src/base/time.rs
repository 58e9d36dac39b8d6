//! Timestamps as EVE writes them: `2024-01-31T12:34:56.123456+0000`, in UTC
//! so that the same capture gives the same bytes on any machine.

use super::stack::dec2 as two;
use super::stack::Stack;

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's civil-from-days algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The inverse of [`push_eve_ts`]: parses EVE's `2025-03-03T12:00:02.000123+0000` (also `Z`, `+01:00`,
/// any number of fraction digits) to ns since the epoch.
pub fn parse_ts(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let d = b.get(from..from + len)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') || !(1..=12).contains(&mo) {
        return None;
    }
    let mut at = 19;
    let mut frac_ns: i64 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let mut scale = 100_000_000;
        while let Some(c) = b.get(at).filter(|c| c.is_ascii_digit()) {
            frac_ns += i64::from(c - b'0') * scale;
            scale /= 10;
            at += 1;
        }
    }
    let offset_s = match b.get(at) {
        Some(b'Z') | None => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(at + 1, 2)?;
            let om = if b.get(at + 3) == Some(&b':') {
                num(at + 4, 2)?
            } else {
                num(at + 3, 2)?
            };
            let o = oh * 3600 + om * 60;
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    let ns = i128::from(secs) * 1_000_000_000 + i128::from(frac_ns);
    u64::try_from(ns).ok()
}

thread_local! {
    /// The last stamp written on this thread, by microsecond: a flow event
    /// writes its start twice (`timestamp`, `flow.start`), and events of
    /// one packet share theirs.
    static LAST: std::cell::Cell<(u64, [u8; 31])> = const { std::cell::Cell::new((u64::MAX, [0; 31])) };
    /// The last stamp computed in full, by second: most stamps of a run fall
    /// in a second already written (a flow's end after its start, the
    /// events of one burst), and need only their microseconds filled in
    /// (callgrind: ~60 instructions instead of ~300).
    static LAST_SEC: std::cell::Cell<(u64, [u8; 31])> = const { std::cell::Cell::new((u64::MAX, [0; 31])) };
}

/// Appends `ts_ns` in EVE's format (microseconds, UTC offset `+0000`).
/// Filled into a fixed template at constant places and appended in one
/// fixed-size copy (callgrind: ~300 instructions a stamp pushed byte by byte
/// onto a bounds-checked stack buffer).
pub fn push_eve_ts(out: &mut Vec<u8>, ts_ns: u64) {
    let us = ts_ns / 1000;
    let (last_us, text) = LAST.get();
    if last_us == us {
        out.extend_from_slice(&text);
        return;
    }
    let secs = ts_ns / 1_000_000_000;
    let micros = (ts_ns / 1000 % 1_000_000) as u32;
    let (last_secs, mut t) = LAST_SEC.get();
    if last_secs == secs {
        [t[20], t[21]] = two(micros / 10_000);
        [t[22], t[23]] = two(micros / 100);
        [t[24], t[25]] = two(micros);
        LAST.set((us, t));
        out.extend_from_slice(&t);
        return;
    }
    // At most 2.1e5 days in a u64 of nanoseconds: no overflow, never negative.
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let sod = (secs % 86_400) as u32;
    // A u64 of nanoseconds ends in 2554: the year has four digits from 1000.
    let Some(y) = u32::try_from(y).ok().filter(|y| (1000..=9999).contains(y)) else {
        push_eve_ts_odd_year(out, y, mo, d, sod, micros);
        return;
    };
    let mut t = *b"0000-00-00T00:00:00.000000+0000";
    [t[0], t[1]] = two(y / 100);
    [t[2], t[3]] = two(y);
    [t[5], t[6]] = two(mo);
    [t[8], t[9]] = two(d);
    [t[11], t[12]] = two(sod / 3600);
    [t[14], t[15]] = two(sod / 60 % 60);
    [t[17], t[18]] = two(sod % 60);
    [t[20], t[21]] = two(micros / 10_000);
    [t[22], t[23]] = two(micros / 100);
    [t[24], t[25]] = two(micros);
    LAST.set((us, t));
    LAST_SEC.set((secs, t));
    out.extend_from_slice(&t);
}

/// [`push_eve_ts`] for a year outside 1000..=9999 (only before 1000: a
/// timestamp near the epoch's start of a forged capture).
#[cold]
fn push_eve_ts_odd_year(out: &mut Vec<u8>, y: i64, mo: u32, d: u32, sod: u32, micros: u32) {
    let mut s = Stack::<32>::default();
    s.extend(itoa::Buffer::new().format(y).as_bytes());
    for (sep, v) in [
        (b'-', mo),
        (b'-', d),
        (b'T', sod / 3600),
        (b':', sod / 60 % 60),
        (b':', sod % 60),
    ] {
        s.push(sep);
        s.extend(&two(v));
    }
    s.push(b'.');
    s.extend(&two(micros / 10_000));
    s.extend(&two(micros / 100));
    s.extend(&two(micros));
    s.extend(b"+0000");
    out.extend_from_slice(s.as_slice());
}

/// [`push_eve_ts`] into a new String.
pub fn eve_ts(ts_ns: u64) -> String {
    let mut v = Vec::with_capacity(31);
    push_eve_ts(&mut v, ts_ns);
    String::from_utf8(v).unwrap_or_default()
}

/// EVE's `2025-03-03T12:00:02.000000+0000` as RFC 3339 with `Z`
/// (RFC 5424 and ECS want a colon in offsets; EVE's are always UTC).
pub fn rfc3339(eve_ts: &str) -> String {
    match eve_ts.strip_suffix("+0000") {
        Some(t) => format!("{t}Z"),
        None => eve_ts.to_string(),
    }
}

/// Seconds since the epoch (with microseconds) of an EVE timestamp.
pub fn epoch_secs(eve_ts: &str) -> Option<f64> {
    let ns = parse_ts(eve_ts)?;
    Some((ns / 1_000_000_000) as f64 + (ns / 1000 % 1_000_000) as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(
            rfc3339("2025-03-03T12:00:02.000000+0000"),
            "2025-03-03T12:00:02.000000Z"
        );
        assert_eq!(
            epoch_secs("2025-03-03T12:00:02.500000+0000"),
            Some(1_741_003_202.5)
        );
        assert_eq!(epoch_secs("1970-01-01T00:00:00.000000+0000"), Some(0.0));
        assert_eq!(epoch_secs("2000-02-29T00:00:00+0000"), Some(951_782_400.0));
        assert_eq!(epoch_secs("garbage"), None);
        assert_eq!(epoch_secs(""), None);
    }

    #[test]
    fn eve_timestamps_parse_back() {
        for ns in [
            0u64,
            1_741_003_202_000_123_000,
            951_782_400_000_001_000,
            2_147_483_648_000_000_000,
        ] {
            assert_eq!(parse_ts(&eve_ts(ns)), Some(ns), "{}", eve_ts(ns));
        }
        assert_eq!(
            parse_ts("2025-03-03T13:00:02.5+01:00"),
            parse_ts("2025-03-03T12:00:02.500000+0000")
        );
        assert_eq!(
            parse_ts("2025-03-03T12:00:02Z"),
            Some(1_741_003_202_000_000_000)
        );
        for bad in [
            "",
            "2025-03-03",
            "2025-13-03T12:00:02Z",
            "2025-03-03T12:00:02!",
            "x025-03-03T12:00:02Z",
            "1960-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_ts(bad), None, "{bad}");
        }
    }

    #[test]
    fn stamps_in_a_second_already_written_get_their_own_microseconds() {
        let second = 1_259_098_029_000_000_000u64;
        // Fill the per-second cache, then stamps of that second in any order,
        // and of the seconds either side (which must not take its digits).
        assert_eq!(eve_ts(second), "2009-11-24T21:27:09.000000+0000");
        for (ns, want) in [
            (second + 534_255_000, "2009-11-24T21:27:09.534255+0000"),
            (second + 999_999_999, "2009-11-24T21:27:09.999999+0000"),
            (second + 1_000, "2009-11-24T21:27:09.000001+0000"),
            (second + 1_000_000_000, "2009-11-24T21:27:10.000000+0000"),
            (
                second + 1_000_000_000 + 10_000,
                "2009-11-24T21:27:10.000010+0000",
            ),
            (second - 1_000, "2009-11-24T21:27:08.999999+0000"),
            (second + 120_000, "2009-11-24T21:27:09.000120+0000"),
        ] {
            assert_eq!(eve_ts(ns), want);
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(eve_ts(0), "1970-01-01T00:00:00.000000+0000");
        // 2009-11-24 21:27:09.534255 UTC (date -u -d @1259098029)
        assert_eq!(
            eve_ts(1_259_098_029_534_255_000),
            "2009-11-24T21:27:09.534255+0000"
        );
        // Leap day and the 2038 boundary.
        assert_eq!(
            eve_ts(951_782_400_000_001_000),
            "2000-02-29T00:00:00.000001+0000"
        );
        assert_eq!(
            eve_ts(2_147_483_648_000_000_000),
            "2038-01-19T03:14:08.000000+0000"
        );
        // Every field at its largest: the last instant a u64 holds.
        assert_eq!(eve_ts(u64::MAX), "2554-07-21T23:34:33.709551+0000");
        assert_eq!(
            eve_ts(1_767_225_599_999_999_999),
            "2025-12-31T23:59:59.999999+0000"
        );
        let mut odd = Vec::new();
        push_eve_ts_odd_year(&mut odd, 999, 1, 2, 3 * 3600 + 4 * 60 + 5, 60);
        assert_eq!(odd, b"999-01-02T03:04:05.000060+0000");
    }
}
