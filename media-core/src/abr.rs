//! Adaptive bitrate: which video representation to fetch next.
//!
//! Sans-IO: the player reports every finished segment download
//! ([`Abr::handle_download`]) and asks [`Abr::choose`] before each video
//! segment fetch; time is always a parameter (`now_ms`).
//!
//! - **Throughput estimate.** Each download of at least [`MIN_SAMPLE_BYTES`]
//!   taking at least [`MIN_SAMPLE_MS`] gives a sample (bits per second)
//!   that feeds two exponentially weighted moving averages weighted by
//!   download time, as in Shaka: a fast one (half-life
//!   [`AbrConfig::fast_half_life_s`], 2 s) and a slow one (8 s). The
//!   estimate is the smaller of the two: it drops fast and rises slowly.
//!   Smaller or faster downloads are latency or cache dominated and are
//!   ignored, as are impossible ones (non-finite, above [`MAX_SAMPLE_BPS`],
//!   longer than [`MAX_SAMPLE_MS`]). Until [`MIN_TOTAL_BYTES`] have been
//!   sampled the estimate is [`AbrConfig::initial_bps`].
//! - **Throughput rule.** The highest representation whose bandwidth is at
//!   most `estimate × safety` (0.85; at most [`LOW_BUFFER_SAFETY`] when the
//!   buffer is low). The first choice (no `current`) also uses the low-buffer
//!   factor: the buffer is empty at start-up.
//! - **Buffer rule.** At or above `high_buffer_s` the choice may go one step
//!   above the throughput rule if that step fits `estimate × 1.0`. Below
//!   `low_buffer_s` it never goes up; below `critical_buffer_s` it drops
//!   straight to the highest representation fitting
//!   `estimate × `[`CRITICAL_SAFETY`] (or the lowest).
//! - **Hysteresis.** Up: one step at a time, once a higher choice has been
//!   warranted for `min_switch_interval_ms` and as long after the last
//!   switch, with at least `low_buffer_s` buffered. Down: at once, any number
//!   of steps; but with at least `low_buffer_s` buffered the current
//!   representation is kept while it fits `estimate × `[`KEEP`] (1.15, about
//!   1 / safety; [`HIGH_BUFFER_KEEP`], 1.4, from `high_buffer_s`): the buffer
//!   absorbs the difference, and estimate noise does not cause oscillation.
//! - **Size cap.** With a known display height (device pixels), nothing
//!   above the smallest representation at least that tall.
//! - **Override.** [`Abr::set_override`] pins an index (clamped to the list).
//! - **Abandonment.** [`Abr::should_abandon`]: the download in flight will
//!   not finish before the buffer runs out and a lower representation exists.
//!   The caller aborts it, reports [`Abr::handle_abandon`] and asks again:
//!   the fast average drops to the speed seen and the choice goes lower.
//!
//! No input panics: NaN, infinite or negative numbers are treated as
//! missing (samples ignored, buffer as empty, times not recorded).

/// Downloads smaller than this are latency dominated: not sampled.
pub const MIN_SAMPLE_BYTES: u64 = 16 * 1024;
/// Downloads faster than this came from a cache: not sampled.
pub const MIN_SAMPLE_MS: f64 = 10.0;
/// Downloads longer than this are bogus: not sampled.
pub const MAX_SAMPLE_MS: f64 = 600_000.0;
/// Samples above this (10 Gbit/s) are bogus or cached: not sampled.
pub const MAX_SAMPLE_BPS: f64 = 1e10;
/// Bytes to sample before the estimate replaces [`AbrConfig::initial_bps`].
pub const MIN_TOTAL_BYTES: f64 = 128.0 * 1024.0;
/// Floor of [`Abr::estimate_bps`], so it is always positive.
pub const MIN_ESTIMATE_BPS: f64 = 1_000.0;
/// Safety factor (at most) when the buffer is below `low_buffer_s`.
pub const LOW_BUFFER_SAFETY: f64 = 0.7;
/// Safety factor (at most) when the buffer is below `critical_buffer_s`.
pub const CRITICAL_SAFETY: f64 = 0.5;
/// A high buffer allows one step more, up to `estimate × this`.
pub const FULL_SAFETY: f64 = 1.0;
/// With a buffer of at least `low_buffer_s`, the current representation is
/// kept while its bandwidth is at most `estimate × this` (≈ 1 / safety).
pub const KEEP: f64 = 1.15;
/// … and at least `high_buffer_s`: while it is at most `estimate × this`.
pub const HIGH_BUFFER_KEEP: f64 = 1.4;
/// [`Abr::should_abandon`] waits this long into a download before judging its speed.
pub const MIN_ABANDON_ELAPSED_MS: f64 = 500.0;

#[derive(Clone, Debug, PartialEq)]
pub struct AbrConfig {
    /// Estimate (bit/s) before enough data has been sampled.
    pub initial_bps: f64,
    /// Fraction of the estimate a representation may use (throughput rule).
    pub safety: f64,
    /// Below this many seconds buffered ahead: no switching up, safety ≤ 0.7.
    pub low_buffer_s: f64,
    /// At or above this: one step above the throughput rule is allowed.
    pub high_buffer_s: f64,
    /// Below this: drop straight to what fits half the estimate.
    pub critical_buffer_s: f64,
    /// Least time between a switch and the next switch up.
    pub min_switch_interval_ms: f64,
    /// Half-life of the fast average, in seconds of download time.
    pub fast_half_life_s: f64,
    /// Half-life of the slow average, in seconds of download time.
    pub slow_half_life_s: f64,
}

impl Default for AbrConfig {
    fn default() -> Self {
        Self {
            initial_bps: 1_000_000.0,
            safety: 0.85,
            low_buffer_s: 8.0,
            high_buffer_s: 20.0,
            critical_buffer_s: 4.0,
            min_switch_interval_ms: 4_000.0,
            fast_half_life_s: 2.0,
            slow_half_life_s: 8.0,
        }
    }
}

impl AbrConfig {
    /// Every field finite and positive (else its default).
    fn sanitized(self) -> Self {
        let d = Self::default();
        let pick = |v: f64, def: f64| if v.is_finite() && v > 0.0 { v } else { def };
        Self {
            initial_bps: pick(self.initial_bps, d.initial_bps),
            safety: pick(self.safety, d.safety),
            low_buffer_s: pick(self.low_buffer_s, d.low_buffer_s),
            high_buffer_s: pick(self.high_buffer_s, d.high_buffer_s),
            critical_buffer_s: pick(self.critical_buffer_s, d.critical_buffer_s),
            min_switch_interval_ms: pick(self.min_switch_interval_ms, d.min_switch_interval_ms),
            fast_half_life_s: pick(self.fast_half_life_s, d.fast_half_life_s),
            slow_half_life_s: pick(self.slow_half_life_s, d.slow_half_life_s),
        }
    }
}

/// One representation as the ABR sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// Declared bandwidth, bit/s.
    pub bandwidth: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// A time-weighted EWMA with zero-bias correction (Shaka's `Ewma`).
#[derive(Clone, Debug)]
struct Ewma {
    /// ln(0.5) / half-life: the decay per second of weight.
    decay: f64,
    value: f64,
    total_weight: f64,
}

impl Ewma {
    fn new(half_life_s: f64) -> Self {
        Self { decay: 0.5f64.ln() / half_life_s, value: 0.0, total_weight: 0.0 }
    }

    fn sample(&mut self, weight_s: f64, x: f64) {
        let keep = (weight_s * self.decay).exp();
        self.value = x * (1.0 - keep) + keep * self.value;
        self.total_weight += weight_s;
    }

    /// As if long established at `x`.
    fn reset(&mut self, x: f64) {
        self.value = x;
        self.total_weight = f64::INFINITY;
    }

    fn get(&self) -> f64 {
        let zero_factor = 1.0 - (self.total_weight * self.decay).exp();
        self.value / zero_factor
    }
}

/// The ABR state of one video track.
#[derive(Clone, Debug)]
pub struct Abr {
    cfg: AbrConfig,
    fast: Ewma,
    slow: Ewma,
    sampled_bytes: f64,
    override_index: Option<usize>,
    last_switch_ms: Option<f64>,
    /// Since when switching up has been warranted (conditions must hold a while).
    up_since: Option<f64>,
    /// Bandwidth of the lowest representation, when the last choice was above it.
    lower_bps: Option<f64>,
    /// Speed (bit/s) of a download just abandoned: caps the next choice.
    abandoned_bps: Option<f64>,
}

impl Abr {
    pub fn new(config: AbrConfig) -> Self {
        let cfg = config.sanitized();
        Self {
            fast: Ewma::new(cfg.fast_half_life_s),
            slow: Ewma::new(cfg.slow_half_life_s),
            cfg,
            sampled_bytes: 0.0,
            override_index: None,
            last_switch_ms: None,
            up_since: None,
            lower_bps: None,
            abandoned_bps: None,
        }
    }

    /// A finished download: `bytes` in `duration_ms` of transfer time, finished at `now_ms`.
    ///
    /// Only the transfer time matters to the estimate (`now_ms` is accepted
    /// for uniformity). An aborted download may be reported with the bytes it
    /// got. Tiny, instant or impossible downloads are ignored.
    pub fn handle_download(&mut self, now_ms: f64, bytes: u64, duration_ms: f64) {
        let _ = now_ms;
        if bytes < MIN_SAMPLE_BYTES || !(MIN_SAMPLE_MS..=MAX_SAMPLE_MS).contains(&duration_ms) {
            return;
        }
        let seconds = duration_ms / 1000.0;
        let bps = bytes as f64 * 8.0 / seconds;
        if !bps.is_finite() || bps > MAX_SAMPLE_BPS {
            return;
        }
        self.fast.sample(seconds, bps);
        self.slow.sample(seconds, bps);
        self.sampled_bytes += bytes as f64;
    }

    /// The caller aborted a download because [`Abr::should_abandon`] said so,
    /// after `bytes_loaded` in `elapsed_ms`. A confirmed drop: the fast
    /// average jumps to the speed seen (when lower), and the next
    /// [`Abr::choose`] picks a representation below `current` that fits the
    /// speed × [`LOW_BUFFER_SAFETY`] (or the lowest). Reporting it with
    /// [`Abr::handle_download`] instead only adds a short sample.
    pub fn handle_abandon(&mut self, now_ms: f64, bytes_loaded: u64, elapsed_ms: f64) {
        self.handle_download(now_ms, bytes_loaded, elapsed_ms);
        let bps = bytes_loaded as f64 * 8.0 / (elapsed_ms / 1000.0);
        if (MIN_ABANDON_ELAPSED_MS..=MAX_SAMPLE_MS).contains(&elapsed_ms) {
            if bps < self.fast.get() {
                self.fast.reset(bps);
            }
            self.abandoned_bps = Some(bps);
        }
    }

    /// Estimated throughput, bit/s: always finite and positive.
    pub fn estimate_bps(&self) -> f64 {
        if self.sampled_bytes < MIN_TOTAL_BYTES {
            return self.cfg.initial_bps;
        }
        let e = self.fast.get().min(self.slow.get());
        if e.is_finite() {
            e.max(MIN_ESTIMATE_BPS)
        } else {
            self.cfg.initial_bps
        }
    }

    /// Pin [`Abr::choose`] to `index` (clamped to the list it is given), or `None` for auto.
    pub fn set_override(&mut self, index: Option<usize>) {
        self.override_index = index;
    }

    /// Which of `reps` to fetch next (an index into `reps`; 0 when `reps` is empty).
    ///
    /// `current`: the index now playing/fetching (`None` at start; an index
    /// out of range counts as `None`). `buffer_ahead_s`: seconds buffered
    /// ahead of the playhead. `display_height`: element height in device
    /// pixels, if known. `reps` may be in any order. A result other than
    /// `current` is a switch: its time starts the wait for the next switch up.
    pub fn choose(&mut self, now_ms: f64, reps: &[Choice], current: Option<usize>, buffer_ahead_s: f64, display_height: Option<u32>) -> usize {
        if reps.is_empty() {
            self.lower_bps = None;
            return 0;
        }
        // Ranks: positions in the ladder sorted by bandwidth (ties by index).
        let mut order: Vec<usize> = (0..reps.len()).collect();
        sort_indices(&mut order, |i| reps[i].bandwidth);
        let ladder: Vec<f64> = order.iter().map(|&i| reps[i].bandwidth as f64).collect();
        let current = current.filter(|&c| c < reps.len());
        let cur_rank = current.and_then(|c| order.iter().position(|&i| i == c));
        // The clock went back: restart the waits from now.
        if self.last_switch_ms.is_some_and(|t| now_ms < t) {
            self.last_switch_ms = Some(now_ms);
        }
        if self.up_since.is_some_and(|t| now_ms < t) {
            self.up_since = Some(now_ms);
        }
        let rank = match self.override_index {
            Some(i) => {
                self.up_since = None;
                let i = i.min(reps.len() - 1);
                order.iter().position(|&x| x == i).unwrap_or(0)
            }
            None => {
                let mut auto = self.auto_rank(now_ms, &ladder, cur_rank, buffer_ahead_s);
                if let Some(bps) = self.abandoned_bps {
                    let fits = ladder.iter().rposition(|&bw| bw <= bps * LOW_BUFFER_SAFETY).unwrap_or(0);
                    auto = auto.min(fits).min(cur_rank.map_or(fits, |c| c.saturating_sub(1)));
                }
                auto.min(size_cap(reps, &order, display_height))
            }
        };
        self.abandoned_bps = None;
        let index = order[rank];
        if current != Some(index) && now_ms.is_finite() {
            self.last_switch_ms = Some(now_ms);
        }
        self.lower_bps = if rank > 0 { Some(ladder[0]) } else { None };
        index
    }

    /// The throughput and buffer rules with hysteresis, as a rank in `ladder`.
    /// Keeps `up_since` (when a higher rank became warranted) up to date.
    fn auto_rank(&mut self, now_ms: f64, ladder: &[f64], cur_rank: Option<usize>, buffer_ahead_s: f64) -> usize {
        let c = &self.cfg;
        let est = self.estimate_bps();
        let buffer = if buffer_ahead_s >= 0.0 { buffer_ahead_s } else { 0.0 }; // NaN too
        let fits = |factor: f64| ladder.iter().rposition(|&bw| bw <= est * factor).unwrap_or(0);
        let Some(cur) = cur_rank else {
            self.up_since = None;
            return fits(c.safety.min(LOW_BUFFER_SAFETY));
        };
        if buffer < c.low_buffer_s {
            self.up_since = None;
            let factor = if buffer < c.critical_buffer_s { CRITICAL_SAFETY } else { LOW_BUFFER_SAFETY };
            return fits(c.safety.min(factor)).min(cur);
        }
        let high = buffer >= c.high_buffer_s;
        let keep = if high { HIGH_BUFFER_KEEP } else { KEEP };
        let mut ideal = fits(c.safety);
        if high && ladder.get(ideal + 1).is_some_and(|&bw| bw <= est * FULL_SAFETY) {
            ideal += 1;
        }
        if ideal <= cur {
            self.up_since = None;
            return if ladder[cur] > est * keep { ideal } else { cur };
        }
        if !now_ms.is_finite() {
            return cur;
        }
        let since = *self.up_since.get_or_insert(now_ms);
        let held = |t: f64| now_ms - t >= c.min_switch_interval_ms;
        if held(since) && self.last_switch_ms.is_none_or(held) {
            // Still more to climb: that is warranted from now on.
            self.up_since = (ideal > cur + 1).then_some(now_ms);
            cur + 1
        } else {
            cur
        }
    }

    /// Should the download in flight be aborted and refetched lower?
    ///
    /// True when, at the speed seen so far (`bytes_loaded` in `elapsed_ms`),
    /// the remaining bytes will not arrive within `buffer_ahead_s`, a lower
    /// representation exists (than the last [`Abr::choose`] result) and its
    /// segment (`segment_duration_s` long, when known) would arrive sooner
    /// than the rest of this one. False under an override, during the first
    /// [`MIN_ABANDON_ELAPSED_MS`], with nothing received yet (no speed to
    /// judge by: timeouts are the caller's), and on non-finite inputs.
    /// `now_ms` is accepted for uniformity.
    pub fn should_abandon(&self, now_ms: f64, bytes_loaded: u64, bytes_total: u64, elapsed_ms: f64, segment_duration_s: f64, buffer_ahead_s: f64) -> bool {
        let _ = now_ms;
        let Some(lower_bps) = self.lower_bps else { return false };
        if self.override_index.is_some()
            || bytes_loaded == 0
            || bytes_loaded >= bytes_total
            || !(elapsed_ms >= MIN_ABANDON_ELAPSED_MS && elapsed_ms.is_finite())
            || buffer_ahead_s.is_nan()
        {
            return false;
        }
        let speed = bytes_loaded as f64 * 8.0 / (elapsed_ms / 1000.0);
        let remaining_s = (bytes_total - bytes_loaded) as f64 * 8.0 / speed;
        if remaining_s <= buffer_ahead_s.max(0.0) {
            return false;
        }
        if segment_duration_s.is_finite() && segment_duration_s > 0.0 {
            lower_bps * segment_duration_s / speed < remaining_s
        } else {
            true
        }
    }
}

/// Highest rank allowed by the display: that of the smallest representation
/// at least `display_height` tall (the top rank when none is, or unknown).
/// Orders indices by rising `key`, ties by index. An insertion sort: ladders
/// are a handful of entries, and std's sorts cost kilobytes of wasm each.
pub(crate) fn sort_indices(idx: &mut [usize], key: impl Fn(usize) -> u64) {
    for i in 1..idx.len() {
        let mut j = i;
        while j > 0 && (key(idx[j - 1]), idx[j - 1]) > (key(idx[j]), idx[j]) {
            idx.swap(j - 1, j);
            j -= 1;
        }
    }
}

fn size_cap(reps: &[Choice], order: &[usize], display_height: Option<u32>) -> usize {
    let top = order.len().saturating_sub(1);
    let Some(dh) = display_height.filter(|&h| h > 0) else { return top };
    let Some(enough) = reps.iter().filter_map(|r| r.height).filter(|&h| h >= dh).min() else { return top };
    order.iter().rposition(|&i| reps[i].height.is_some_and(|h| h <= enough)).unwrap_or(top)
}

#[cfg(test)]
mod tests;
