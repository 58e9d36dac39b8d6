//! Timestamps as EVE writes them: `2024-01-31T12:34:56.123456+0000`, in UTC
//! so that the same capture gives the same bytes on any machine.

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

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Appends `ts_ns` in EVE's format (microseconds, UTC offset `+0000`).
pub fn push_eve_ts(out: &mut Vec<u8>, ts_ns: u64) {
    let secs = (ts_ns / 1_000_000_000) as i64;
    let micros = (ts_ns / 1000 % 1_000_000) as u32;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u32;
    let mut ibuf = itoa::Buffer::new();
    out.extend_from_slice(ibuf.format(y).as_bytes());
    out.push(b'-');
    push2(out, mo);
    out.push(b'-');
    push2(out, d);
    out.push(b'T');
    push2(out, sod / 3600);
    out.push(b':');
    push2(out, sod / 60 % 60);
    out.push(b':');
    push2(out, sod % 60);
    out.push(b'.');
    let m = ibuf.format(micros);
    out.extend(std::iter::repeat_n(b'0', 6 - m.len()));
    out.extend_from_slice(m.as_bytes());
    out.extend_from_slice(b"+0000");
}

/// [`push_eve_ts`] into a new String.
pub fn eve_ts(ts_ns: u64) -> String {
    let mut v = Vec::with_capacity(31);
    push_eve_ts(&mut v, ts_ns);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
