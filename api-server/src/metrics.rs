//! Prometheus metrics in the text exposition format, kept without a metrics library: request
//! counts and latency histograms by service, table and status (recorded when a response body
//! is finished, whether or not the request is audited), requests refused by rate limits, the
//! audit queue's depth, and each service pool's use.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};

/// Latency histogram bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// One series of requests: its count per bucket, total seconds, and count.
#[derive(Debug, Default, Clone)]
struct Series {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// service → table → status → series (nested so a request allocates nothing once its series
/// exists). Tables are the only unbounded label, and they are bounded by the schemas served.
type Series3 = BTreeMap<String, BTreeMap<String, BTreeMap<u16, Series>>>;

/// One database service's connections, for the pool gauges.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PoolUse {
    pub service: String,
    /// Connections to lend, open (lent or idle).
    pub open: u32,
    pub idle: usize,
    /// The most connections to lend.
    pub max: u32,
    /// Pipelined connections (plain reads), beside those.
    pub pipelined: usize,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<Series3>,
}

/// The table a resource path names (`_table/orders/5` → `orders`), else the resource kind.
#[must_use]
pub fn table_of(resource: Option<&str>) -> &str {
    let Some(r) = resource else {
        return "";
    };
    let mut parts = r.split('/');
    match (parts.next(), parts.next()) {
        (Some("_table" | "_schema"), Some(t)) => t,
        (Some(first), _) => first,
        _ => "",
    }
}

/// A label value, escaped as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, service: &str, table: &str, status: u16, seconds: f64) {
        let mut map = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(service) {
            map.insert(service.to_owned(), BTreeMap::new());
        }
        let Some(tables) = map.get_mut(service) else {
            return;
        };
        if !tables.contains_key(table) {
            tables.insert(table.to_owned(), BTreeMap::new());
        }
        let Some(statuses) = tables.get_mut(table) else {
            return;
        };
        let s = statuses.entry(status).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                s.buckets[i] += 1;
            }
        }
        s.sum += seconds;
        s.count += 1;
    }

    /// The exposition text, with the gauges passed in (they are read from their owners).
    #[must_use]
    pub fn render(&self, audit_queue: usize, pools: &[PoolUse]) -> String {
        let map: Vec<((String, String, u16), Series)> = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .flat_map(|(service, tables)| {
                tables.iter().flat_map(move |(table, statuses)| {
                    statuses.iter().map(move |(status, s)| {
                        ((service.clone(), table.clone(), *status), s.clone())
                    })
                })
            })
            .collect();
        let mut out = String::new();
        out.push_str("# HELP rampart_http_requests_total API requests finished, by service, table and status.\n");
        out.push_str("# TYPE rampart_http_requests_total counter\n");
        for ((service, table, status), s) in &map {
            let _ = writeln!(
                out,
                "rampart_http_requests_total{{service=\"{}\",table=\"{}\",status=\"{status}\"}} {}",
                label(service),
                label(table),
                s.count
            );
        }
        out.push_str("# HELP rampart_http_request_duration_seconds Time to answer API requests, by service, table and status.\n");
        out.push_str("# TYPE rampart_http_request_duration_seconds histogram\n");
        for ((service, table, status), s) in &map {
            let labels = format!(
                "service=\"{}\",table=\"{}\",status=\"{status}\"",
                label(service),
                label(table)
            );
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "rampart_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "rampart_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "rampart_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "rampart_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out.push_str("# HELP rampart_audit_queue_depth Audit events waiting to be written.\n");
        out.push_str("# TYPE rampart_audit_queue_depth gauge\n");
        let _ = writeln!(out, "rampart_audit_queue_depth {audit_queue}");
        out.push_str("# HELP rampart_db_pool_connections Connections of each database service's pool, by state.\n");
        out.push_str("# TYPE rampart_db_pool_connections gauge\n");
        for p in pools {
            let in_use = (p.open as usize).saturating_sub(p.idle);
            for (state, n) in [
                ("idle", p.idle),
                ("in_use", in_use),
                ("pipelined", p.pipelined),
            ] {
                let _ = writeln!(
                    out,
                    "rampart_db_pool_connections{{service=\"{}\",state=\"{state}\"}} {n}",
                    label(&p.service)
                );
            }
        }
        out.push_str("# HELP rampart_db_pool_max_connections Largest size of each database service's pool.\n");
        out.push_str("# TYPE rampart_db_pool_max_connections gauge\n");
        for p in pools {
            let _ = writeln!(
                out,
                "rampart_db_pool_max_connections{{service=\"{}\"}} {}",
                label(&p.service),
                p.max
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_come_from_resource_paths() {
        assert_eq!(table_of(Some("_table/orders/5")), "orders");
        assert_eq!(table_of(Some("_schema/orders")), "orders");
        assert_eq!(table_of(Some("_func/total")), "_func");
        assert_eq!(table_of(None), "");
    }

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.observe("db", "or\"ders", 200, 0.003);
        m.observe("db", "or\"ders", 200, 0.2);
        let pool = PoolUse {
            service: "db".into(),
            open: 3,
            idle: 1,
            max: 10,
            pipelined: 2,
        };
        let text = m.render(4, &[pool]);
        assert!(
            text.contains(
                r#"rampart_http_requests_total{service="db",table="or\"ders",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"le="0.25"} 2"#), "{text}");
        assert!(text.contains(r#"le="+Inf"} 2"#), "{text}");
        assert!(text.contains("rampart_audit_queue_depth 4"));
        assert!(text.contains(r#"rampart_db_pool_connections{service="db",state="in_use"} 2"#));
        assert!(text.contains(r#"rampart_db_pool_connections{service="db",state="pipelined"} 2"#));
    }
}
