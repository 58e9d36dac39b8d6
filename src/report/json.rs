//! A minimal JSON object writer: EVE lines are written field by field into a
//! reused buffer, in a fixed key order, without building a tree first.

use std::net::IpAddr;

/// Writes one JSON object into `out`. Call [`Obj::end`] to close it.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        push_str(self.out, k);
        self.out.push(b':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str(self.out, v);
        self
    }

    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    pub fn ts(&mut self, k: &str, ts_ns: u64) -> &mut Self {
        self.key(k);
        self.out.push(b'"');
        super::time::push_eve_ts(self.out, ts_ns);
        self.out.push(b'"');
        self
    }

    pub fn ip(&mut self, k: &str, ip: IpAddr) -> &mut Self {
        use std::io::Write;
        self.key(k);
        self.out.push(b'"');
        let _ = write!(self.out, "{ip}");
        self.out.push(b'"');
        self
    }

    /// Any serde value (used for dissector objects and nested lists).
    pub fn value<T: serde::Serialize + ?Sized>(&mut self, k: &str, v: &T) -> &mut Self {
        self.key(k);
        if serde_json::to_writer(&mut *self.out, v).is_err() {
            self.out.extend_from_slice(b"null");
        }
        self
    }

    /// A nested object written by `f`.
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(k);
        let mut inner = Obj::new(self.out);
        f(&mut inner);
        inner.end();
        self
    }

    /// An array of objects, each written by `f`.
    pub fn key_array<T>(
        &mut self,
        k: &str,
        items: impl Iterator<Item = T>,
        mut f: impl FnMut(&mut Obj<'_>, T),
    ) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let mut inner = Obj::new(self.out);
            f(&mut inner, item);
            inner.end();
        }
        self.out.push(b']');
        self
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// Appends `s` as a JSON string, escaped.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_objects_with_escaping() {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.str("a", "x\"y\n")
            .u64("n", 42)
            .bool("b", false)
            .obj("in", |i| {
                i.ip("ip", "::1".parse().unwrap());
            });
        o.end();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["a"], "x\"y\n");
        assert_eq!(v["n"], 42);
        assert_eq!(v["b"], false);
        assert_eq!(v["in"]["ip"], "::1");
    }
}
