//! Request counters and latency histograms in the Prometheus text format.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    durations: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let key = (method.to_string(), route.to_string());
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((key.0.clone(), key.1.clone(), status))
            .or_default() += 1;
        let mut d = self.durations.lock().unwrap_or_else(|p| p.into_inner());
        let h = d.entry(key).or_default();
        h.count += 1;
        h.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.buckets[i] += 1;
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP switchboard_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE switchboard_http_requests_total counter\n");
        for ((m, r, s), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!("switchboard_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}\n"));
        }
        out.push_str("# HELP switchboard_http_request_duration_seconds HTTP request latency by method and route.\n");
        out.push_str("# TYPE switchboard_http_request_duration_seconds histogram\n");
        for ((m, r), h) in self
            .durations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let labels = format!("method=\"{m}\",route=\"{r}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "switchboard_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}\n",
                    h.buckets[i]
                ));
            }
            out.push_str(&format!(
                "switchboard_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!(
                "switchboard_http_request_duration_seconds_sum{{{labels}}} {}\n",
                h.sum
            ));
            out.push_str(&format!(
                "switchboard_http_request_duration_seconds_count{{{labels}}} {}\n",
                h.count
            ));
        }
        out.push_str("# HELP switchboard_build_info Version of the running binary.\n# TYPE switchboard_build_info gauge\n");
        out.push_str(&format!(
            "switchboard_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        ));
        out
    }
}

pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The matched route template, never the raw path: ids would explode the label space.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

pub async fn render(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
