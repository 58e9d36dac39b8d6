//! HTTP sinks: Splunk HTTP Event Collector and Elasticsearch `_bulk`.

use super::transport::{Delivery, Transport};
use std::time::Duration;

/// Most bytes in one request body (Splunk's default `max_content_length`
/// is larger; Elasticsearch's `http.max_content_length` is 100 MB).
const MAX_BODY: usize = 1 << 20;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// How many leading payloads fit in one body (at least one).
fn fit(batch: &[&[u8]]) -> usize {
    let mut size = 0usize;
    let mut n = 0;
    for p in batch {
        size += p.len() + 1;
        if n > 0 && size > MAX_BODY {
            break;
        }
        n += 1;
    }
    n
}

fn retryable(status: u16) -> bool {
    matches!(status, 401 | 403 | 404 | 408 | 429) || status >= 500
}

pub struct Hec {
    url: String,
    auth: String,
    agent: ureq::Agent,
}

impl Hec {
    pub fn new(base: &str, token: &str) -> Self {
        let base = base.trim_end_matches('/');
        let url = if base.ends_with("/services/collector/event") {
            base.to_string()
        } else {
            format!("{base}/services/collector/event")
        };
        Hec {
            url,
            auth: format!("Splunk {token}"),
            agent: agent(),
        }
    }
}

impl Transport for Hec {
    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        let n = fit(batch);
        let mut body = Vec::new();
        for p in batch.iter().take(n) {
            body.extend_from_slice(p);
            body.push(b'\n');
        }
        let r = self
            .agent
            .post(&self.url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .send(&body[..]);
        match r {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                if (200..300).contains(&status) {
                    Delivery::all(n)
                } else if retryable(status) {
                    Delivery::failed(
                        0,
                        format!("HEC {}: HTTP {status} {}", self.url, text.trim()),
                    )
                } else {
                    // 400: the collector will never take these events.
                    Delivery {
                        settled: n,
                        rejected: n as u64,
                        error: Some(format!(
                            "HEC {}: HTTP {status} {}: {n} event(s) rejected",
                            self.url,
                            text.trim()
                        )),
                        ..Delivery::default()
                    }
                }
            }
            Err(e) => Delivery::failed(0, format!("HEC {}: {e}", self.url)),
        }
    }
}

pub struct Bulk {
    url: String,
    auth: Option<String>,
    agent: ureq::Agent,
}

impl Bulk {
    pub fn new(base: &str, auth: Option<String>) -> Self {
        let base = base.trim_end_matches('/');
        let url = if base.ends_with("/_bulk") {
            base.to_string()
        } else {
            format!("{base}/_bulk")
        };
        Bulk {
            url,
            auth,
            agent: agent(),
        }
    }
}

/// Reads a `_bulk` answer: settled prefix, rejected items in it, and the
/// first retryable failure. A `409` (the `_id` exists: an earlier attempt
/// got through) counts as delivered.
pub fn bulk_outcome(n: usize, resp: &serde_json::Value) -> Delivery {
    let items = resp
        .get("items")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    if resp.get("errors").and_then(|v| v.as_bool()) == Some(false) && items.len() == n {
        return Delivery::all(n);
    }
    let mut rejected = 0u64;
    let mut first_reject: Option<String> = None;
    for i in 0..n {
        let Some(item) = items.get(i).and_then(|it| it.as_object()) else {
            return Delivery {
                settled: i,
                rejected,
                error: Some(format!("_bulk answered {} items for {n}", items.len())),
                ..Delivery::default()
            };
        };
        let res = item.values().next();
        let status = res
            .and_then(|r| r.get("status"))
            .and_then(|s| s.as_u64())
            .unwrap_or(0) as u16;
        if (200..300).contains(&status) || status == 409 {
            continue;
        }
        let why = res
            .and_then(|r| r.get("error"))
            .map(|e| e.to_string())
            .unwrap_or_default();
        if status == 429 || status >= 500 || status == 0 {
            return Delivery {
                settled: i,
                rejected,
                error: Some(format!("_bulk item {i}: status {status} {why}")),
                ..Delivery::default()
            };
        }
        rejected += 1;
        first_reject
            .get_or_insert_with(|| format!("_bulk item {i} rejected: status {status} {why}"));
    }
    Delivery {
        settled: n,
        rejected,
        error: first_reject,
        ..Delivery::default()
    }
}

impl Transport for Bulk {
    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        let n = fit(batch);
        let mut body = Vec::new();
        for p in batch.iter().take(n) {
            body.extend_from_slice(p);
        }
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/x-ndjson");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        match req.send(&body[..]) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let text = resp.body_mut().read_to_vec().unwrap_or_default();
                if status == 200 {
                    match serde_json::from_slice::<serde_json::Value>(&text) {
                        Ok(v) => bulk_outcome(n, &v),
                        Err(e) => Delivery::failed(0, format!("{}: bad answer: {e}", self.url)),
                    }
                } else {
                    let t = String::from_utf8_lossy(&text);
                    Delivery::failed(0, format!("{}: HTTP {status} {}", self.url, t.trim()))
                }
            }
            Err(e) => Delivery::failed(0, format!("{}: {e}", self.url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bulk_item_statuses() {
        let ok = json!({"errors": false, "items": [{"create": {"status": 201}}, {"create": {"status": 201}}]});
        assert_eq!(bulk_outcome(2, &ok), Delivery::all(2));
        let mixed = json!({"errors": true, "items": [
            {"create": {"status": 201}},
            {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
            {"create": {"status": 400, "error": {"type": "mapper_parsing_exception"}}},
            {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
            {"create": {"status": 201}}
        ]});
        let d = bulk_outcome(5, &mixed);
        assert_eq!(d.settled, 3, "stops before the first retryable failure");
        assert_eq!(d.rejected, 1, "the mapping error is final");
        assert!(d.error.unwrap().contains("429"));
        let short = json!({"errors": true, "items": [{"create": {"status": 201}}]});
        assert_eq!(bulk_outcome(2, &short).settled, 1);
    }

    #[test]
    fn bodies_are_capped() {
        let big = vec![b'x'; MAX_BODY / 2];
        let b: Vec<&[u8]> = vec![&big, &big, &big];
        assert_eq!(fit(&b), 1);
        let huge = vec![b'x'; MAX_BODY * 2];
        assert_eq!(fit(&[&huge]), 1, "one oversized record still goes alone");
        assert_eq!(fit(&[b"a", b"b"]), 2);
    }
}
