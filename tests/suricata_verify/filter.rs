//! suricata-verify's check semantics, re-implemented in Rust from the behaviour
//! its `run.py` defines (read, not copied): a `filter` check counts the EVE
//! events that satisfy every `match` condition and passes when that count is
//! exactly `count`; `requires` blocks are version and feature gates.
//!
//! run.py compares Python objects decoded from JSON and YAML, so equality here
//! follows Python's: `True == 1`, `1 == 1.0`, lists and dicts element-wise. A
//! lookup that makes Python raise (e.g. `__find` on a missing field) fails the
//! whole check, as it does there.

use serde_json::Value;
use std::fmt;

/// A Python exception raised while matching: run.py reports the check failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised(pub String);

impl fmt::Display for Raised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run.py would raise: {}", self.0)
    }
}

const STRING_OPS: [&str; 4] = ["__contains", "__find", "__startswith", "__endswith"];
const COMPARISONS: [&str; 4] = ["__gt", "__gte", "__lt", "__lte"];

/// `find_value`: the value at a dotted path with `[N]` indices. Missing
/// fields are `Null` (Python's `None`, which is also what JSON `null` decodes
/// to). `__len` gives the length (−1 for things without one); a string or
/// comparison suffix stops the walk and gives the object reached so far.
pub fn find_value(path: &str, event: &Value) -> Result<Value, Raised> {
    let mut obj = event;
    for part in path.split('.') {
        if part == "__len" {
            return Ok(Value::from(py_len(obj)));
        }
        if STRING_OPS.contains(&part) || COMPARISONS.contains(&part) {
            break;
        }
        let (name, index) = split_index(part);
        obj = match obj {
            Value::Object(m) => match m.get(name) {
                Some(v) => v,
                None => return Ok(Value::Null),
            },
            // Python's `name in obj` is a substring or membership test here;
            // when it holds, `obj[name]` raises TypeError.
            Value::String(s) if !s.contains(name) => return Ok(Value::Null),
            Value::Array(a) if !a.iter().any(|x| x.as_str() == Some(name)) => {
                return Ok(Value::Null)
            }
            other => {
                return Err(Raised(format!(
                    "TypeError looking up {name:?} in {}",
                    short(other)
                )))
            }
        };
        if let Some(i) = index {
            // run.py catches every exception from the index and gives None.
            obj = match obj {
                Value::Array(a) => match a.get(i) {
                    Some(v) => v,
                    None => return Ok(Value::Null),
                },
                Value::String(s) => {
                    return Ok(s
                        .chars()
                        .nth(i)
                        .map_or(Value::Null, |c| Value::String(c.to_string())))
                }
                _ => return Ok(Value::Null),
            };
        }
    }
    Ok(obj.clone())
}

/// `name[12]` → (`name`, Some(12)); like run.py's `^(.*)\[(\d+)\]$`.
fn split_index(part: &str) -> (&str, Option<usize>) {
    if let Some(body) = part.strip_suffix(']') {
        if let Some((name, digits)) = body.rsplit_once('[') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(i) = digits.parse() {
                    return (name, Some(i));
                }
            }
        }
    }
    (part, None)
}

fn py_len(v: &Value) -> i64 {
    let n = match v {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Object(m) => m.len(),
        _ => return -1,
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A number as Python sees it (bools are the integers 0 and 1).
enum Num {
    Int(i128),
    Float(f64),
}

fn py_num(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::Int(i128::from(*b))),
        Value::Number(n) => Some(if let Some(i) = n.as_i64() {
            Num::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Num::Int(i128::from(u))
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }),
        _ => None,
    }
}

fn as_f64(n: &Num) -> f64 {
    match n {
        // Event and test numbers are far below 2^53: the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        Num::Int(i) => *i as f64,
        Num::Float(f) => *f,
    }
}

/// Python's `==` between two decoded JSON/YAML values.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (py_num(a), py_num(b)) {
        return match (&x, &y) {
            (Num::Int(i), Num::Int(j)) => i == j,
            _ => as_f64(&x) == as_f64(&y),
        };
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => false,
    }
}

/// `compare_values`: numeric comparison; bools and non-numbers never satisfy it.
fn compare(actual: &Value, expected: &Value, op: &str) -> bool {
    if actual.is_boolean() || expected.is_boolean() {
        return false;
    }
    let (Some(a), Some(e)) = (py_num(actual), py_num(expected)) else {
        return false;
    };
    let ord = match (&a, &e) {
        (Num::Int(i), Num::Int(j)) => Some(i.cmp(j)),
        _ => as_f64(&a).partial_cmp(&as_f64(&e)),
    };
    let Some(ord) = ord else { return false };
    match op {
        "__gt" => ord.is_gt(),
        "__gte" => ord.is_ge(),
        "__lt" => ord.is_lt(),
        "__lte" => ord.is_le(),
        _ => false,
    }
}

fn strings<'a>(
    val: &'a Value,
    expected: &'a Value,
    op: &str,
) -> Result<(&'a str, &'a str), Raised> {
    match (val, expected) {
        (Value::String(v), Value::String(e)) => Ok((v, e)),
        _ => Err(Raised(format!(
            "{op} needs strings, got {} and {}",
            short(val),
            short(expected)
        ))),
    }
}

/// Whether one `match` condition (`key: expected`) holds for `event`.
pub fn condition_holds(key: &str, expected: &Value, event: &Value) -> Result<bool, Raised> {
    if key == "has-key" || key == "not-has-key" {
        let want_present = key == "has-key";
        let items: Vec<&Value> = match expected {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        for item in items {
            let Some(path) = item.as_str() else {
                return Err(Raised(format!("{key} item {item} is not a string")));
            };
            let present = !find_value(path, event)?.is_null();
            if present != want_present {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let val = find_value(key, event)?;
    if key.ends_with("__find") || key.ends_with("__startswith") || key.ends_with("__endswith") {
        let op = key.rsplit('.').next().unwrap_or(key);
        let (v, e) = strings(&val, expected, op)?;
        return Ok(if key.ends_with("__find") {
            v.contains(e)
        } else if key.ends_with("__startswith") {
            v.starts_with(e)
        } else {
            v.ends_with(e)
        });
    }
    if key.ends_with("__contains") {
        return match &val {
            Value::String(_) => {
                let (v, e) = strings(&val, expected, "__contains")?;
                Ok(v.contains(e))
            }
            Value::Array(a) => Ok(a.iter().any(|x| py_eq(x, expected))),
            Value::Object(m) => match expected {
                Value::String(k) => Ok(m.contains_key(k)),
                Value::Array(_) | Value::Object(_) => {
                    Err(Raised("unhashable type in __contains".into()))
                }
                // JSON object keys are strings: no number, bool or None is one.
                _ => Ok(false),
            },
            other => Err(Raised(format!("__contains on {}", short(other)))),
        };
    }
    let suffix = key.rsplit('.').next().unwrap_or(key);
    if COMPARISONS.contains(&suffix) {
        return Ok(compare(&val, expected, suffix));
    }
    Ok(py_eq(&val, expected))
}

/// Whether every condition holds (run.py stops at the first that does not).
pub fn matches(conditions: &[(String, Value)], event: &Value) -> Result<bool, Raised> {
    for (k, v) in conditions {
        if !condition_holds(k, v, event)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A value shortened for messages.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// A Suricata version as run.py parses it: missing parts are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// The leading `N[.N[.N]]` of a version string (`8`, `7.0.12`, `8.0.0-dev`).
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = [0u32; 3];
        let mut rest = s.trim();
        for (i, slot) in parts.iter_mut().enumerate() {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                if i == 0 {
                    return None;
                }
                break;
            }
            *slot = digits.parse().ok()?;
            rest = &rest[digits.len()..];
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => break,
            }
        }
        Some(Version(parts[0], parts[1], parts[2]))
    }

    /// run.py's `is_lt`, kept as written there: it compares minor and patch
    /// without requiring the higher parts equal, so 8.1.0 counts as "less
    /// than" 8.0.5. Needed only for `lt-version`.
    fn run_py_lt(self, other: Version) -> bool {
        if self.0 != other.0 {
            return self.0 < other.0;
        }
        self.1 < other.1 || self.2 < other.2
    }

    /// `version:` equality, where parts missing in the requirement match anything.
    fn run_py_equal(self, req: &str) -> bool {
        let got: Vec<u32> = req
            .trim()
            .split('.')
            .map_while(|p| {
                let d: String = p.chars().take_while(char::is_ascii_digit).collect();
                d.parse().ok()
            })
            .collect();
        let mine = [self.0, self.1, self.2];
        !got.is_empty() && got.iter().zip(mine).all(|(a, b)| *a == b)
    }
}

/// A YAML scalar (`8`, `7.0.12`) as the string run.py would `str()`.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `check_requires` for the keys a phonehome run can answer: versions and
/// build features. Gives why the requirement is not met, if it is not.
pub fn unmet_requirement(
    requires: &Value,
    shape: Version,
    features: &[&str],
) -> Result<Option<String>, String> {
    let Some(map) = requires.as_object() else {
        return if requires.is_null() {
            Ok(None)
        } else {
            Err(format!("requires is not a mapping: {requires}"))
        };
    };
    for (key, v) in map {
        let text = scalar_text(v);
        let need = || Version::parse(&text).ok_or(format!("bad version {text:?} in {key}"));
        let unmet = match key.as_str() {
            "min-version" => (shape < need()?).then(|| format!("needs Suricata >= {text}")),
            "lt-version" => (!shape.run_py_lt(need()?)).then(|| format!("needs Suricata < {text}")),
            "gt-version" => (shape <= need()?).then(|| format!("needs Suricata > {text}")),
            "version" => (!shape.run_py_equal(&text)).then(|| format!("needs Suricata {text}")),
            "features" => v
                .as_array()
                .ok_or(format!("features is not a list: {v}"))?
                .iter()
                .map(scalar_text)
                .find(|f| !features.contains(&f.as_str()))
                .map(|f| format!("needs feature {f}")),
            // Says whether a pcap is needed; the runner always has one.
            "pcap" => None,
            other => return Err(format!("requirement {other:?} cannot be judged here")),
        };
        if unmet.is_some() {
            return Ok(unmet);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(key: &str, expected: Value, ev: &Value) -> Result<bool, Raised> {
        condition_holds(key, &expected, ev)
    }

    #[test]
    fn dotted_paths_and_indices() {
        let ev = json!({"dns": {"answers": [{"rrname": "a"}, {"rrname": "b"}], "grouped": {"A": ["1.2.3.4"]}}});
        assert_eq!(find_value("dns.answers[1].rrname", &ev), Ok(json!("b")));
        assert_eq!(find_value("dns.answers[2].rrname", &ev), Ok(Value::Null));
        assert_eq!(find_value("dns.grouped.A[0]", &ev), Ok(json!("1.2.3.4")));
        assert_eq!(find_value("dns.missing.x", &ev), Ok(Value::Null));
        assert_eq!(find_value("dns.answers.__len", &ev), Ok(json!(2)));
        assert_eq!(find_value("dns.grouped.A[0].__len", &ev), Ok(json!(7)));
        // A string indexed gives one character, as in Python.
        assert_eq!(find_value("dns.grouped.A[0][2]", &ev), Ok(Value::Null));
        assert_eq!(find_value("x[1]", &json!({"x": "abc"})), Ok(json!("b")));
    }

    #[test]
    fn lookups_that_raise_in_python_fail() {
        let ev = json!({"tls": {"version": "TLS 1.3", "n": 5}});
        // "1.3" is a substring of the value, so Python's `obj[name]` raises.
        assert!(find_value("tls.version.1.3", &ev).is_err());
        assert_eq!(find_value("tls.version.TLSv2", &ev), Ok(Value::Null));
        assert!(find_value("tls.n.x", &ev).is_err());
        // `None.find(...)`: a missing field under __find raises.
        assert!(holds("tls.sni.__find", json!("x"), &ev).is_err());
    }

    #[test]
    fn python_equality() {
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(py_eq(&json!(0), &json!(false)));
        assert!(py_eq(&json!(2), &json!(2.0)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(py_eq(&json!([1, "a"]), &json!([1.0, "a"])));
        assert!(!py_eq(&json!([1]), &json!([1, 2])));
        assert!(py_eq(&json!({"a": 1}), &json!({"a": true})));
        assert!(!py_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(py_eq(&Value::Null, &Value::Null));
    }

    #[test]
    fn keys_and_string_operators() {
        let ev = json!({"event_type": "tls", "tls": {"sni": "www.example.com", "alpns": ["h2", "http/1.1"]}, "n": null});
        assert_eq!(holds("has-key", json!("tls.sni"), &ev), Ok(true));
        assert_eq!(
            holds("has-key", json!(["tls.sni", "tls.x"]), &ev),
            Ok(false)
        );
        // JSON null reads as None: not a key run.py sees.
        assert_eq!(holds("has-key", json!("n"), &ev), Ok(false));
        assert_eq!(holds("not-has-key", json!(["tls.x", "n"]), &ev), Ok(true));
        assert_eq!(holds("tls.sni.__startswith", json!("www."), &ev), Ok(true));
        assert_eq!(holds("tls.sni.__endswith", json!(".org"), &ev), Ok(false));
        assert_eq!(holds("tls.sni.__find", json!("example"), &ev), Ok(true));
        assert_eq!(holds("tls.sni.__contains", json!("ample"), &ev), Ok(true));
        assert_eq!(holds("tls.alpns.__contains", json!("h2"), &ev), Ok(true));
        assert_eq!(holds("tls.alpns.__contains", json!("h"), &ev), Ok(false));
        assert_eq!(holds("tls.__contains", json!("sni"), &ev), Ok(true));
        assert!(holds("tls.sni.__contains", json!(1), &ev).is_err());
    }

    #[test]
    fn numeric_comparisons_exclude_bools() {
        let ev = json!({"flow": {"age": 3, "alerted": false}});
        assert_eq!(holds("flow.age.__gt", json!(2), &ev), Ok(true));
        assert_eq!(holds("flow.age.__gte", json!(3.0), &ev), Ok(true));
        assert_eq!(holds("flow.age.__lt", json!(3), &ev), Ok(false));
        assert_eq!(holds("flow.age.__lte", json!(3), &ev), Ok(true));
        assert_eq!(holds("flow.alerted.__lte", json!(1), &ev), Ok(false));
        assert_eq!(holds("flow.missing.__gt", json!(0), &ev), Ok(false));
        assert_eq!(holds("flow.alerted", json!(0), &ev), Ok(true));
    }

    #[test]
    fn versions_as_run_py_reads_them() {
        let v8 = Version(8, 0, 3);
        let req = |y: Value| unmet_requirement(&y, v8, &["HAVE_JA4"]);
        assert_eq!(req(json!({"min-version": 8})), Ok(None));
        assert_eq!(req(json!({"min-version": "8.0.3"})), Ok(None));
        assert!(req(json!({"min-version": "8.0.4"})).unwrap().is_some());
        assert!(req(json!({"lt-version": 8})).unwrap().is_some());
        assert_eq!(req(json!({"lt-version": 9})), Ok(None));
        assert_eq!(req(json!({"version": "8.0"})), Ok(None));
        assert!(req(json!({"version": "7"})).unwrap().is_some());
        assert!(req(json!({"features": ["HAVE_LUA"]})).unwrap().is_some());
        assert_eq!(req(json!({"features": ["HAVE_JA4"]})), Ok(None));
        assert!(req(json!({"script": ["true"]})).is_err());
        assert_eq!(Version::parse("7.0.12"), Some(Version(7, 0, 12)));
        assert_eq!(Version::parse("8.0.0-dev"), Some(Version(8, 0, 0)));
        assert_eq!(Version::parse("7"), Some(Version(7, 0, 0)));
        // run.py's lt as written: 8.1.0 is "less than" 8.0.5.
        assert!(Version(8, 1, 0).run_py_lt(Version(8, 0, 5)));
    }
}
