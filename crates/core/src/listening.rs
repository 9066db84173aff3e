//! Analytics maths for the Listening module: spike detection on bucketed time series,
//! over-represented ("significant") terms against a background, and the one-line human
//! description of a spike. Pure functions, no I/O. The method and every default are documented
//! in `docs/spike-detection.md`.

use serde::{Deserialize, Serialize};

/// Consistency constant that turns a median absolute deviation into a standard-deviation
/// estimate for normally distributed noise.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Added to the Poisson noise floor `sqrt(rate)`. Small counts have a long right tail: a
/// Cornish-Fisher expansion puts the Poisson upper quantile at about
/// `rate + z*sqrt(rate) + (z^2 + 2)/6`, i.e. `z * (sqrt(rate) + (z^2 + 2)/(6z))`, and
/// `(z^2 + 2)/(6z)` is 0.75 at z = 4. Together with using max(median, mean) as the rate, it cut
/// false alarms on series of 0.5-10 items a bucket 13-65 fold in the simulations described in
/// `docs/spike-detection.md`.
const POISSON_SKEW: f64 = 0.75;

/// Parameters of [`detect_spikes`] / [`baseline`]. See `docs/spike-detection.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpikeParams {
    /// Buckets per season (24 for hourly buckets = daily pattern, 7 for daily buckets = weekly;
    /// 0 = no seasonality).
    pub season: usize,
    /// How many previous buckets the rolling baseline looks at (e.g. 7*24 for hourly).
    pub lookback: usize,
    /// Minimum buckets of history before anything can be flagged.
    pub min_history: usize,
    /// Robust z-score a bucket must reach.
    pub threshold: f64,
    /// Minimum observed count in a bucket (tiny counts never spike).
    pub min_count: f64,
    /// Minimum observed/baseline ratio (e.g. 2.0 = at least +100%).
    pub min_ratio: f64,
}

impl SpikeParams {
    /// Defaults for hourly buckets: daily season, one week of lookback.
    pub fn hourly() -> Self {
        SpikeParams {
            season: 24,
            lookback: 7 * 24,
            min_history: 2 * 24,
            threshold: 4.0,
            min_count: 5.0,
            min_ratio: 2.0,
        }
    }

    /// Defaults for daily buckets: weekly season, four weeks of lookback.
    pub fn daily() -> Self {
        SpikeParams {
            season: 7,
            lookback: 28,
            min_history: 2 * 7,
            threshold: 3.5,
            min_count: 5.0,
            min_ratio: 1.8,
        }
    }
}

impl Default for SpikeParams {
    fn default() -> Self {
        SpikeParams::hourly()
    }
}

/// A run of consecutive flagged buckets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpikeWindow {
    /// First bucket index flagged.
    pub start: usize,
    /// One past the last flagged bucket (exclusive).
    pub end: usize,
    /// Bucket index with the highest robust z-score in the window.
    pub peak: usize,
    /// Sum of the observed values over the window.
    pub observed: f64,
    /// Sum of the expected values over the window.
    pub baseline: f64,
    /// Robust z-score of the peak bucket.
    pub score: f64,
    /// `(observed - baseline) / max(baseline, 1) * 100`.
    pub change_pct: f64,
}

/// Per-bucket result of the sequential scan shared by [`baseline`] and [`detect_spikes`].
struct Scan {
    /// `(expected, scale)` per bucket; `None` before `min_history` buckets of history exist.
    base: Vec<Option<(f64, f64)>>,
    /// Robust z per bucket (0 where there is no baseline).
    z: Vec<f64>,
    /// Whether the bucket was flagged.
    flagged: Vec<bool>,
    /// Sanitised series (non-finite values read as 0).
    values: Vec<f64>,
}

/// Median of a non-empty slice; sorts it in place.
fn median_mut(v: &mut [f64]) -> f64 {
    debug_assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median absolute deviation of a non-empty slice around its own median; reorders it.
fn mad_mut(v: &mut [f64]) -> f64 {
    let m = median_mut(v);
    for x in v.iter_mut() {
        *x = (*x - m).abs();
    }
    median_mut(v)
}

fn scan(series: &[f64], p: &SpikeParams) -> Scan {
    let n = series.len();
    let values: Vec<f64> = series
        .iter()
        .map(|&x| if x.is_finite() { x } else { 0.0 })
        .collect();
    let mut base = vec![None; n];
    let mut z = vec![0.0; n];
    let mut flagged = vec![false; n];
    // Residual (observed - expected) of every bucket that had any history at all; used for the
    // scale of later buckets.
    let mut residual: Vec<Option<f64>> = vec![None; n];
    let need = p.min_history.max(1);

    let mut pool: Vec<usize> = Vec::with_capacity(p.lookback);
    let mut buf: Vec<f64> = Vec::with_capacity(p.lookback);
    for t in 0..n {
        let lo = t.saturating_sub(p.lookback);
        if lo == t {
            continue; // no history (t == 0 or lookback == 0)
        }
        // History strictly before t, without buckets already flagged as spikes. If excluding
        // them would leave less than `min_history` buckets (a sustained level shift), the whole
        // window is used so the baseline can adapt to the new level.
        pool.clear();
        pool.extend((lo..t).filter(|&s| !flagged[s]));
        if pool.len() < need {
            pool.clear();
            pool.extend(lo..t);
        }

        // Expected value: median of the same-season buckets t-season, t-2*season, ... within
        // the lookback, when at least two of them are in the pool. If flagging has removed all
        // but one, the flagged ones are taken back (a new recurring pattern becomes normal
        // instead of being flagged forever); with fewer than two in all, the median of the pool.
        buf.clear();
        if p.season > 0 {
            let same = (1..)
                .map(|k| k * p.season)
                .take_while(|&d| d <= p.lookback && d <= t)
                .map(|d| t - d);
            buf.extend(
                same.clone()
                    .filter(|s| pool.binary_search(s).is_ok())
                    .map(|s| values[s]),
            );
            if buf.len() < 2 {
                buf.clear();
                buf.extend(same.map(|s| values[s]));
            }
        }
        if buf.len() < 2 {
            buf.clear();
            buf.extend(pool.iter().map(|&s| values[s]));
        }
        let mean = buf.iter().sum::<f64>() / buf.len() as f64;
        let expected = median_mut(&mut buf);
        // Poisson rate for the noise floor: the median of a few small counts is often below the
        // true rate (median of seven Poisson(2) draws is 1 about 30% of the time), so take the
        // larger of median and mean.
        let rate = expected.max(mean).max(0.0);

        // Scale: 1.4826 * MAD of the pool's residuals (falls back to the MAD of the raw values
        // while fewer than two residuals exist), floored by Poisson noise sqrt(rate) + 0.75 and
        // by 1.
        buf.clear();
        buf.extend(pool.iter().filter_map(|&s| residual[s]));
        if buf.len() < 2 {
            buf.clear();
            buf.extend(pool.iter().map(|&s| values[s]));
        }
        let mad = mad_mut(&mut buf);
        let scale = (MAD_TO_SIGMA * mad)
            .max(rate.sqrt() + POISSON_SKEW)
            .max(1.0);

        let x = values[t];
        residual[t] = Some(x - expected);
        if t - lo < p.min_history {
            continue;
        }
        let score = (x - expected) / scale;
        base[t] = Some((expected, scale));
        z[t] = score;
        flagged[t] =
            score >= p.threshold && x >= p.min_count && x >= p.min_ratio * expected.max(0.5);
    }
    Scan {
        base,
        z,
        flagged,
        values,
    }
}

/// Per-bucket `(expected, scale)` exactly as [`detect_spikes`] uses it (so buckets flagged as
/// spikes are already excluded from later baselines); `None` where there is not yet
/// `min_history` buckets of history.
pub fn baseline(series: &[f64], params: &SpikeParams) -> Vec<Option<(f64, f64)>> {
    scan(series, params).base
}

/// Flags buckets whose robust, seasonal z-score, absolute count and ratio to the baseline all
/// pass the thresholds in `params`, and merges consecutive flagged buckets into windows.
pub fn detect_spikes(series: &[f64], params: &SpikeParams) -> Vec<SpikeWindow> {
    let s = scan(series, params);
    let mut out = Vec::new();
    let mut t = 0;
    while t < s.flagged.len() {
        if !s.flagged[t] {
            t += 1;
            continue;
        }
        let start = t;
        let (mut observed, mut expected_sum) = (0.0, 0.0);
        let mut peak = t;
        while t < s.flagged.len() && s.flagged[t] {
            observed += s.values[t];
            expected_sum += s.base[t].map_or(0.0, |b| b.0);
            if s.z[t] > s.z[peak] {
                peak = t;
            }
            t += 1;
        }
        out.push(SpikeWindow {
            start,
            end: t,
            peak,
            observed,
            baseline: expected_sum,
            score: s.z[peak],
            change_pct: (observed - expected_sum) / expected_sum.max(1.0) * 100.0,
        });
    }
    out
}

/// A term over-represented in a foreground set compared with a background set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TermScore {
    pub term: String,
    /// Foreground documents containing the term.
    pub fg: u64,
    /// Background documents containing the term.
    pub bg: u64,
    /// JLH score: `(fg_share - bg_share) * (fg_share / bg_share)`.
    pub score: f64,
    /// `fg_share / bg_share`.
    pub lift: f64,
}

/// Over-represented terms, scored with Elasticsearch's JLH heuristic (absolute change of the
/// term's document share times its relative change).
///
/// fg: (term, document count in the foreground set); fg_total: foreground documents;
/// bg: document count of a term in the background (a closure so callers can look terms up
/// lazily); bg_total: background documents (the foreground is part of the background).
///
/// Terms with fewer than `min_fg` foreground documents, and terms whose foreground share is not
/// above their background share, are dropped. Sorted by score descending, ties by term
/// ascending; at most `limit` results.
pub fn significant_terms(
    fg: &[(String, u64)],
    fg_total: u64,
    bg: impl Fn(&str) -> u64,
    bg_total: u64,
    min_fg: u64,
    limit: usize,
) -> Vec<TermScore> {
    if fg_total == 0 || limit == 0 {
        return Vec::new();
    }
    // The foreground is part of the background, so neither count can be below its foreground
    // counterpart; clamping keeps inconsistent callers from dividing by zero.
    let bg_total = bg_total.max(fg_total);
    let mut out: Vec<TermScore> = fg
        .iter()
        .filter(|(_, f)| *f > 0 && *f >= min_fg)
        .filter_map(|(term, f)| {
            let f = (*f).min(fg_total);
            let b = bg(term).max(f);
            let fg_share = f as f64 / fg_total as f64;
            let bg_share = b as f64 / bg_total as f64;
            if fg_share <= bg_share {
                return None;
            }
            let lift = fg_share / bg_share;
            Some(TermScore {
                term: term.clone(),
                fg: f,
                bg: b,
                score: (fg_share - bg_share) * lift,
                lift,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.term.cmp(&b.term))
    });
    out.truncate(limit);
    out
}

/// Inputs of [`describe`].
#[derive(Clone, Copy, Debug)]
pub struct SpikeDescription<'a> {
    /// Which series spiked, e.g. "negative", "complaint" or "volume".
    pub series: &'a str,
    /// Change against the baseline in percent (see [`SpikeWindow::change_pct`]).
    pub change_pct: f64,
    /// Nearest preceding annotation: (title, seconds from the annotation to the spike start, >= 0).
    pub annotation: Option<(&'a str, i64)>,
    /// Significant terms, best first; at most 5 are shown.
    pub terms: &'a [String],
    /// Dominant intents; all are shown.
    pub intents: &'a [String],
}

/// Maximum number of terms [`describe`] lists.
const DESCRIBE_MAX_TERMS: usize = 5;

/// "45 min", "2 h", "3 d": rounded to the nearest unit, switching to the next unit once the
/// rounded value reaches it.
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let minutes = (s + 30) / 60;
    if minutes < 60 {
        return format!("{minutes} min");
    }
    let hours = (s + 1800) / 3600;
    if hours < 24 {
        return format!("{hours} h");
    }
    let days = (s + 43_200) / 86_400;
    format!("{days} d")
}

/// One line such as `negative +340% vs baseline, 2 h after 'App 4.2 release'; terms: crash, login`.
pub fn describe(d: &SpikeDescription) -> String {
    let pct = if d.change_pct.is_finite() {
        d.change_pct.round() as i64
    } else {
        0
    };
    let mut out = format!("{} {:+}% vs baseline", d.series, pct);
    if let Some((title, secs)) = d.annotation {
        out.push_str(&format!(", {} after '{}'", human_duration(secs), title));
    }
    if !d.terms.is_empty() {
        let shown: Vec<&str> = d
            .terms
            .iter()
            .take(DESCRIBE_MAX_TERMS)
            .map(String::as_str)
            .collect();
        out.push_str("; terms: ");
        out.push_str(&shown.join(", "));
    }
    if !d.intents.is_empty() {
        out.push_str("; intents: ");
        out.push_str(&d.intents.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift64* generator (no rand crate).
    struct Rng(u64);
    impl Rng {
        fn next_f64(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
            (r >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Knuth's Poisson sampler; a rounded normal approximation above a mean of 200, where
        /// `exp(-lambda)` would underflow.
        fn poisson(&mut self, lambda: f64) -> f64 {
            if lambda > 200.0 {
                let u1 = self.next_f64().max(f64::MIN_POSITIVE);
                let u2 = self.next_f64();
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                return (lambda + z * lambda.sqrt()).round().max(0.0);
            }
            let l = (-lambda).exp();
            let mut k = 0.0;
            let mut p = 1.0;
            loop {
                p *= self.next_f64();
                if p <= l {
                    return k;
                }
                k += 1.0;
            }
        }
    }

    fn flat(seed: u64, lambda: f64, n: usize) -> Vec<f64> {
        let mut rng = Rng(seed);
        (0..n).map(|_| rng.poisson(lambda)).collect()
    }

    /// Hourly rate with quiet nights (3/h) and busy days (up to 40/h around 14:00).
    fn daily_rate(hour: usize) -> f64 {
        let h = (hour % 24) as f64;
        if (7.0..=21.0).contains(&h) {
            let x = (h - 14.0) / 7.0;
            3.0 + 37.0 * (1.0 - x * x)
        } else {
            3.0
        }
    }

    fn daily_pattern(seed: u64, days: usize) -> Vec<f64> {
        let mut rng = Rng(seed);
        (0..days * 24).map(|t| rng.poisson(daily_rate(t))).collect()
    }

    #[test]
    fn flat_poisson_has_no_spikes() {
        for (seed, lambda) in [(1, 2.0), (2, 10.0), (3, 30.0), (4, 100.0)] {
            let s = flat(seed, lambda, 14 * 24);
            assert_eq!(
                detect_spikes(&s, &SpikeParams::hourly()),
                vec![],
                "lambda {lambda}"
            );
            // Daily buckets: 120 days.
            let d = flat(seed + 100, lambda * 24.0, 120);
            assert_eq!(
                detect_spikes(&d, &SpikeParams::daily()),
                vec![],
                "daily {lambda}"
            );
        }
    }

    #[test]
    fn regular_daily_peak_is_not_a_spike() {
        let s = daily_pattern(7, 21);
        // The daily peak really is large compared with the rest of the day ...
        assert!(s[14] >= 5.0 * 3.0);
        // ... yet never flagged, neither at the peak nor anywhere else.
        assert_eq!(detect_spikes(&s, &SpikeParams::hourly()), vec![]);
        // The seasonal baseline at the peak hour of day 10 tracks the peak (rate 40) ...
        let t = 10 * 24 + 14;
        let (expected, _) = baseline(&s, &SpikeParams::hourly())[t].unwrap();
        let mut same_hour: Vec<f64> = (1..=7).map(|k| s[t - k * 24]).collect();
        assert_eq!(expected, median_mut(&mut same_hour));
        assert!((33.0..=47.0).contains(&expected), "expected {expected}");
        // ... where a non-seasonal one would sit at the week's median, far below it.
        let no_season = SpikeParams {
            season: 0,
            ..SpikeParams::hourly()
        };
        let (flat_expected, _) = baseline(&s, &no_season)[t].unwrap();
        assert!(flat_expected < 25.0, "non-seasonal {flat_expected}");
    }

    /// Day 10, 15:00-17:59 at ~4x the normal rate.
    fn surged() -> (Vec<f64>, Vec<f64>, usize) {
        let clean = daily_pattern(11, 14);
        let start = 10 * 24 + 15;
        let mut s = clean.clone();
        let mut rng = Rng(99);
        for (t, x) in s.iter_mut().enumerate().skip(start).take(3) {
            *x = rng.poisson(4.0 * daily_rate(t));
        }
        (clean, s, start)
    }

    #[test]
    fn surge_is_one_window() {
        let (clean, s, start) = surged();
        assert_eq!(detect_spikes(&clean, &SpikeParams::hourly()), vec![]);
        let spikes = detect_spikes(&s, &SpikeParams::hourly());
        assert_eq!(spikes.len(), 1, "{spikes:?}");
        let w = &spikes[0];
        assert_eq!((w.start, w.end), (start, start + 3));
        assert_eq!(w.observed, s[start] + s[start + 1] + s[start + 2]);
        let base = baseline(&s, &SpikeParams::hourly());
        let exp_sum: f64 = (start..start + 3).map(|t| base[t].unwrap().0).sum();
        assert_eq!(w.baseline, exp_sum);
        // The peak is the bucket with the highest z, not necessarily the highest count: here the
        // middle bucket (151 against an expected 36) beats the first (163 against 43).
        let z = |t: usize| {
            let (e, sc) = base[t].unwrap();
            (s[t] - e) / sc
        };
        assert_eq!(w.peak, start + 1);
        assert!(z(start + 1) > z(start) && z(start + 1) > z(start + 2));
        assert!(s[start] > s[start + 1]);
        assert_eq!(w.score, z(w.peak));
        assert!(w.score >= 4.0);
        assert!(
            (200.0..=400.0).contains(&w.change_pct),
            "change {}",
            w.change_pct
        );
    }

    #[test]
    fn surge_does_not_inflate_later_baselines() {
        let (clean, s, start) = surged();
        let p = SpikeParams::hourly();
        let with = baseline(&s, &p);
        let without = baseline(&clean, &p);
        // Same hour next day: the seasonal median skips the (flagged) surge bucket and uses the
        // six earlier same-hour buckets.
        let t = start + 24;
        let mut same_hour: Vec<f64> = (2..=7).map(|k| s[t - k * 24]).collect();
        assert_eq!(with[t].unwrap().0, median_mut(&mut same_hour));
        // For every bucket after the surge, neither expected nor scale exceeds the clean
        // series' by more than a little (only the surge's own normal values are missing).
        for t in start + 3..s.len() {
            let (e1, s1) = with[t].unwrap();
            let (e0, s0) = without[t].unwrap();
            assert!(e1 <= e0 * 1.15 + 1.0, "t {t}: expected {e1} vs clean {e0}");
            assert!(s1 <= s0 * 1.15 + 0.5, "t {t}: scale {s1} vs clean {s0}");
        }
        // A second identical surge the next day is still found.
        let mut again = s.clone();
        again[start + 24..start + 27].copy_from_slice(&s[start..start + 3]);
        let spikes = detect_spikes(&again, &p);
        assert_eq!(
            spikes.iter().map(|w| (w.start, w.end)).collect::<Vec<_>>(),
            vec![(start, start + 3), (start + 24, start + 27)]
        );
    }

    #[test]
    fn too_short_history_yields_nothing() {
        let p = SpikeParams::hourly();
        // 40 quiet buckets then a huge jump: below min_history (48), nothing can be flagged.
        assert_eq!(p.min_history, 48);
        let mut s = vec![2.0; 40];
        s.extend([200.0, 300.0, 250.0]);
        assert_eq!(detect_spikes(&s, &p), vec![]);
        assert!(baseline(&s, &p).iter().all(Option::is_none));
        assert_eq!(detect_spikes(&[], &p), vec![]);
        // With enough history the same jump is flagged.
        let mut longer = vec![2.0; 50];
        longer.extend([200.0, 300.0, 250.0]);
        let spikes = detect_spikes(&longer, &p);
        assert_eq!(spikes.len(), 1);
        assert_eq!(
            (spikes[0].start, spikes[0].end, spikes[0].peak),
            (50, 53, 51)
        );
        assert_eq!(spikes[0].baseline, 6.0);
        assert_eq!(spikes[0].change_pct, (750.0 - 6.0) / 6.0 * 100.0);
    }

    #[test]
    fn small_counts_and_small_ratios_do_not_spike() {
        let p = SpikeParams::hourly();
        // 0 -> 4: huge z but below min_count.
        let mut s = vec![0.0; 48];
        s.push(4.0);
        assert_eq!(detect_spikes(&s, &p), vec![]);
        // 1000 -> 1500 (+50%): z is large (scale ~ sqrt(1000)) but below min_ratio 2.
        let mut s = vec![1000.0; 48];
        s.push(1500.0);
        assert_eq!(detect_spikes(&s, &p), vec![]);
        s.push(2100.0);
        assert_eq!(detect_spikes(&s, &p).len(), 1);
    }

    #[test]
    fn sustained_level_shift_becomes_the_new_normal() {
        let p = SpikeParams::hourly();
        let mut s = vec![10.0; 200];
        s.extend(vec![50.0; 400]);
        let spikes = detect_spikes(&s, &p);
        assert_eq!(spikes.len(), 1);
        assert_eq!(spikes[0].start, 200);
        // Flagged until fewer than min_history unflagged buckets remain in the lookback.
        assert_eq!(spikes[0].end, 200 + p.lookback - p.min_history + 1);
        assert_eq!(baseline(&s, &p)[599].unwrap().0, 50.0);
    }

    #[test]
    fn low_volume_daily_pattern_has_no_spikes() {
        // 0.15 to 2 items an hour: the median of the seven same-hour counts is often below the
        // true rate, which is why the noise floor uses max(median, mean) + 0.75.
        for seed in 1..=8 {
            let mut rng = Rng(seed);
            let s: Vec<f64> = (0..28 * 24)
                .map(|t| rng.poisson(daily_rate(t) / 20.0))
                .collect();
            assert_eq!(
                detect_spikes(&s, &SpikeParams::hourly()),
                vec![],
                "seed {seed}"
            );
        }
    }

    #[test]
    fn new_recurring_event_becomes_normal() {
        // Flat 10 an hour; from day 10 on, 09:00 carries 60 every day (a daily newsletter).
        let p = SpikeParams::hourly();
        let s: Vec<f64> = (0..24 * 24)
            .map(|t| {
                if t >= 10 * 24 && t % 24 == 9 {
                    60.0
                } else {
                    10.0
                }
            })
            .collect();
        let starts: Vec<usize> = detect_spikes(&s, &p).iter().map(|w| w.start).collect();
        // Flagged while at least two unflagged same-hour buckets remain in the week (days
        // 10-15); on day 16 the flagged ones are taken back and 60 is the new normal.
        let want: Vec<usize> = (10..=15).map(|d| d * 24 + 9).collect();
        assert_eq!(starts, want);
        assert_eq!(baseline(&s, &p)[16 * 24 + 9].unwrap().0, 60.0);
    }

    fn docs(counts: &[(&str, u64)]) -> Vec<(String, u64)> {
        counts.iter().map(|(t, c)| (t.to_string(), *c)).collect()
    }

    #[test]
    fn injected_term_ranks_first() {
        // Background: 10_000 documents (the 500 foreground documents included).
        let bg = |t: &str| match t {
            "the" => 6_000,
            "app" => 3_000,
            "crash" => 150,
            "login" => 200,
            "rare" => 3,
            _ => 0,
        };
        let fg = docs(&[
            ("the", 300),   // 60% vs 60%: unchanged -> dropped
            ("app", 150),   // 30% vs 30%: unchanged -> dropped
            ("crash", 120), // 24% vs 1.5%
            ("login", 60),  // 12% vs 2%
            ("rare", 2),    // below min_fg
        ]);
        let out = significant_terms(&fg, 500, bg, 10_000, 3, 10);
        let terms: Vec<&str> = out.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(terms, vec!["crash", "login"]);
        let c = &out[0];
        assert_eq!((c.fg, c.bg), (120, 150));
        assert!((c.lift - 16.0).abs() < 1e-9);
        assert!((c.score - (0.24 - 0.015) * 16.0).abs() < 1e-9);
        // "the" slightly up still ranks far below the injected term.
        let fg2 = docs(&[("the", 310), ("crash", 120)]);
        let out2 = significant_terms(&fg2, 500, bg, 10_000, 3, 10);
        assert_eq!(out2[0].term, "crash");
        assert_eq!(out2[1].term, "the");
        assert!(out2[1].score < out2[0].score / 100.0);
        // limit and deterministic tie-break.
        let tie = docs(&[("b", 10), ("a", 10)]);
        let out3 = significant_terms(&tie, 100, |_| 10, 1000, 1, 1);
        assert_eq!(out3.len(), 1);
        assert_eq!(out3[0].term, "a");
        assert!(significant_terms(&tie, 0, |_| 10, 1000, 1, 5).is_empty());
    }

    #[test]
    fn describe_renders_one_line() {
        let terms = vec!["crash".to_string(), "login".to_string()];
        let d = SpikeDescription {
            series: "negative",
            change_pct: 340.0,
            annotation: Some(("App 4.2 release", 2 * 3600)),
            terms: &terms,
            intents: &[],
        };
        assert_eq!(
            describe(&d),
            "negative +340% vs baseline, 2 h after 'App 4.2 release'; terms: crash, login"
        );
        let many: Vec<String> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let intents = vec!["complaint".to_string()];
        let d = SpikeDescription {
            series: "volume",
            change_pct: 99.6,
            annotation: None,
            terms: &many,
            intents: &intents,
        };
        assert_eq!(
            describe(&d),
            "volume +100% vs baseline; terms: a, b, c, d, e; intents: complaint"
        );
        let d = SpikeDescription {
            series: "complaint",
            change_pct: -12.4,
            annotation: Some(("Outage", 45 * 60)),
            terms: &[],
            intents: &[],
        };
        assert_eq!(
            describe(&d),
            "complaint -12% vs baseline, 45 min after 'Outage'"
        );
        assert_eq!(human_duration(0), "0 min");
        assert_eq!(human_duration(3599), "1 h");
        assert_eq!(human_duration(3 * 86_400 + 3600), "3 d");
        assert_eq!(human_duration(23 * 3600), "23 h");
        assert_eq!(human_duration(-5), "0 min");
    }
}
