//! The figures of a run, as one client measured them or as several clients'
//! figures merged (`fanout merge`): printing, the dump file that carries them
//! from a client to the merge, and the merge itself.
//!
//! A dump is two lines: `DUMP key=value ...` (counts and sums; `n/a` for a
//! figure that was not taken) and `LISTS rates=r1,r2,... header_ms=h1,h2,...`
//! (per listener: payload bit/s of those that streamed through the whole
//! window, connect-to-header time of those that got a 200), so that merged
//! percentiles are exact, not percentiles of percentiles.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// "fell behind" = received less than this share of the source's bytes.
pub const BEHIND_SHARE: f64 = 0.9;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub url: String,
    pub bitrate_bps: u64,
    /// Load client processes these figures come from (1 unless merged).
    pub clients: u64,
    pub n: u64,
    pub stall: u64,
    pub conc: u64,
    pub rate: u64,
    pub settle: u64,
    pub threads: u64,
    pub header_timeout_s: u64,

    pub ramp_s: f64,
    pub ramp_complete: bool,
    /// System-wide TcpExt ListenDrops during the ramp.
    pub listen_drops: Option<u64>,
    pub connected: u64,
    pub ok: u64,
    pub failed: u64,
    pub pending: u64,
    pub bad_status: u64,
    pub no_response: u64,
    pub last_bad_status: u64,
    pub dropped: u64,
    pub dropped_before: u64,
    pub dropped_eof: u64,
    pub dropped_error: u64,
    pub behind: u64,
    /// Sums over the listeners streaming through the whole window.
    pub payload_b: u64,
    pub raw_b: u64,
    pub reads: u64,
    pub chunked: u64,
    pub chunk_errors: u64,
    pub stalled: u64,
    pub stalled_closed: u64,
    /// Whether the clients waited for a common start of the window (--sync).
    pub synced: bool,

    pub window_s: f64,
    pub server_pid: Option<u32>,
    pub server_cpu_s: Option<f64>,
    pub server_cpu_ramp_s: Option<f64>,
    pub hwm_kib: Option<u64>,
    pub rss_kib: Option<u64>,
    /// Summed over the clients.
    pub client_cpu_s: Option<f64>,

    /// Payload bit/s of each listener that streamed through the whole window.
    pub rates: Vec<f64>,
    /// Connect-to-response-header ms of each listener that got a 200.
    pub header_ms: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn opt_f(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.2}"))
}

fn opt_u<T: ToString>(v: Option<T>) -> String {
    v.map_or("n/a".to_string(), |v| v.to_string())
}

impl Summary {
    pub fn streaming(&self) -> u64 {
        self.rates.len() as u64
    }

    /// Server CPU seconds per listener-second, in microseconds: CPU time of
    /// the window over (listeners streaming through it x its length). Flat
    /// across N means the cost is linear in listeners.
    pub fn cpu_us_per_listener_s(&self) -> Option<f64> {
        let listener_s = self.streaming() as f64 * self.window_s;
        self.server_cpu_s
            .filter(|_| listener_s > 0.0)
            .map(|c| c * 1e6 / listener_s)
    }

    fn framing_pct(&self) -> f64 {
        if self.raw_b > 0 {
            100.0 * self.raw_b.saturating_sub(self.payload_b) as f64 / self.raw_b as f64
        } else {
            0.0
        }
    }

    fn reads_per_s(&self) -> f64 {
        if self.rates.is_empty() || self.window_s <= 0.0 {
            0.0
        } else {
            self.reads as f64 / self.rates.len() as f64 / self.window_s
        }
    }

    fn bytes_per_read(&self) -> f64 {
        if self.reads > 0 {
            self.raw_b as f64 / self.reads as f64
        } else {
            0.0
        }
    }

    fn pct_of_window(&self, v: Option<f64>) -> Option<f64> {
        v.filter(|_| self.window_s > 0.0)
            .map(|v| v / self.window_s * 100.0)
    }

    /// The human summary and the `RESULT key=value ...` line (the last one).
    pub fn print(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.rates.sort_by(|a, b| a.total_cmp(b));
        self.header_ms.sort_by(|a, b| a.total_cmp(b));
        let kbps = |p: f64| percentile(&self.rates, p) / 1000.0;
        let expected = self.bitrate_bps as f64 / 8.0 * self.window_s;
        let clients = if self.clients > 1 {
            format!(
                " from {} client processes{}",
                self.clients,
                if self.synced {
                    " (one common window)"
                } else {
                    ""
                }
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "fanout: {} listeners (+{} stalled) of {}, window {:.1} s, source {} bit/s{clients}",
            self.n, self.stall, self.url, self.window_s, self.bitrate_bps
        )?;
        writeln!(
            out,
            "  ramp:          {:.2} s{} (at most {} at a time, {}/s), then {} s settle",
            self.ramp_s,
            if self.ramp_complete {
                ""
            } else {
                " (ramp limit reached)"
            },
            self.conc,
            self.rate,
            self.settle
        )?;
        writeln!(
            out,
            "  listen queue overflows during the ramp (system-wide TcpExt ListenDrops): {}",
            opt_u(self.listen_drops)
        )?;
        writeln!(
            out,
            "  connect to response header, ms: median {:.0}  p99 {:.0}  max {:.0}",
            percentile(&self.header_ms, 50.0),
            percentile(&self.header_ms, 99.0),
            percentile(&self.header_ms, 100.0)
        )?;
        writeln!(
            out,
            "  connected:     {} (TCP), {} got 200",
            self.connected, self.ok
        )?;
        writeln!(
            out,
            "  failed:        {} could not connect, {} still connecting at the end",
            self.failed, self.pending
        )?;
        writeln!(
            out,
            "  not 200:       {}: {} no response header within {} s, {} another status (last: {})",
            self.bad_status,
            self.no_response,
            self.header_timeout_s,
            self.bad_status.saturating_sub(self.no_response),
            match self.last_bad_status {
                0 => "none".to_string(),
                s => s.to_string(),
            }
        )?;
        writeln!(
            out,
            "  dropped:       {} by the server ({} before the window; {} EOF, {} error/reset)",
            self.dropped, self.dropped_before, self.dropped_eof, self.dropped_error
        )?;
        writeln!(
            out,
            "  fell behind:   {} of {} streaming through the window got < {:.0}% of {:.0} bytes",
            self.behind,
            self.rates.len(),
            BEHIND_SHARE * 100.0,
            expected
        )?;
        writeln!(
            out,
            "  rate kbit/s:   min {:.1}  p1 {:.1}  median {:.1}  p99 {:.1}  max {:.1}",
            kbps(0.0),
            kbps(1.0),
            kbps(50.0),
            kbps(99.0),
            kbps(100.0)
        )?;
        writeln!(
            out,
            "  body:          {} of {} chunked ({} unparsable); payload counted, framing was \
             {:.2}% of the raw bytes",
            self.chunked,
            self.ok,
            self.chunk_errors,
            self.framing_pct()
        )?;
        writeln!(
            out,
            "  reads:         {:.1} per listener per second, {:.0} raw bytes per read",
            self.reads_per_s(),
            self.bytes_per_read()
        )?;
        if self.stall > 0 {
            writeln!(
                out,
                "  stalled:       {} of {} connected and never read; {} closed by the server by the end",
                self.stalled, self.stall, self.stalled_closed
            )?;
        }
        if let Some(pid) = self.server_pid {
            writeln!(
                out,
                "  server pid {pid}: CPU {} s in the window ({} % of one core, {} us per \
                 listener-second), {} s during ramp+settle; VmHWM {} KiB, VmRSS {} KiB at the end",
                opt_f(self.server_cpu_s),
                opt_f(self.pct_of_window(self.server_cpu_s)),
                opt_f(self.cpu_us_per_listener_s()),
                opt_f(self.server_cpu_ramp_s),
                opt_u(self.hwm_kib),
                opt_u(self.rss_kib)
            )?;
        }
        writeln!(
            out,
            "  client:        CPU {} % of one core in the window ({} process(es), {} thread(s) in all)",
            opt_f(self.pct_of_window(self.client_cpu_s)),
            self.clients,
            self.threads
        )?;
        writeln!(
            out,
            "RESULT n={} connected={} ok={} failed={} pending={} bad_status={} no_response={} \
             dropped={} behind={} streaming={} min_kbps={:.1} p1_kbps={:.1} median_kbps={:.1} \
             p99_kbps={:.1} window_s={:.2} server_cpu_s={} server_cpu_pct={} cpu_us_per_listener_s={} \
             hwm_kib={} rss_kib={} client_cpu_pct={} stalled={} stalled_closed={} chunked={} \
             framing_pct={:.2} reads_per_s={:.1} bytes_per_read={:.0} ramp_s={:.2} listen_drops={} \
             clients={}",
            self.n,
            self.connected,
            self.ok,
            self.failed,
            self.pending,
            self.bad_status,
            self.no_response,
            self.dropped,
            self.behind,
            self.rates.len(),
            kbps(0.0),
            kbps(1.0),
            kbps(50.0),
            kbps(99.0),
            self.window_s,
            opt_f(self.server_cpu_s),
            opt_f(self.pct_of_window(self.server_cpu_s)),
            opt_f(self.cpu_us_per_listener_s()),
            opt_u(self.hwm_kib),
            opt_u(self.rss_kib),
            opt_f(self.pct_of_window(self.client_cpu_s)),
            self.stalled,
            self.stalled_closed,
            self.chunked,
            self.framing_pct(),
            self.reads_per_s(),
            self.bytes_per_read(),
            self.ramp_s,
            opt_u(self.listen_drops),
            self.clients,
        )?;
        out.flush()
    }

    /// The dump that `fanout merge` reads back (see the module's doc).
    pub fn dump(&self) -> String {
        let mut s = String::from("DUMP");
        let mut kv = |k: &str, v: String| {
            // Values never hold spaces: the URL is the only free text, and a URL has none.
            let _ = write!(s, " {k}={v}");
        };
        kv("url", self.url.clone());
        kv("bitrate_bps", self.bitrate_bps.to_string());
        kv("clients", self.clients.to_string());
        kv("n", self.n.to_string());
        kv("stall", self.stall.to_string());
        kv("conc", self.conc.to_string());
        kv("rate", self.rate.to_string());
        kv("settle", self.settle.to_string());
        kv("threads", self.threads.to_string());
        kv("header_timeout_s", self.header_timeout_s.to_string());
        kv("ramp_s", format!("{:.3}", self.ramp_s));
        kv("ramp_complete", (self.ramp_complete as u8).to_string());
        kv("listen_drops", opt_u(self.listen_drops));
        for (k, v) in [
            ("connected", self.connected),
            ("ok", self.ok),
            ("failed", self.failed),
            ("pending", self.pending),
            ("bad_status", self.bad_status),
            ("no_response", self.no_response),
            ("last_bad_status", self.last_bad_status),
            ("dropped", self.dropped),
            ("dropped_before", self.dropped_before),
            ("dropped_eof", self.dropped_eof),
            ("dropped_error", self.dropped_error),
            ("behind", self.behind),
            ("payload_b", self.payload_b),
            ("raw_b", self.raw_b),
            ("reads", self.reads),
            ("chunked", self.chunked),
            ("chunk_errors", self.chunk_errors),
            ("stalled", self.stalled),
            ("stalled_closed", self.stalled_closed),
        ] {
            kv(k, v.to_string());
        }
        kv("synced", (self.synced as u8).to_string());
        kv("window_s", format!("{:.4}", self.window_s));
        kv("server_pid", opt_u(self.server_pid));
        kv(
            "server_cpu_s",
            self.server_cpu_s.map_or("n/a".into(), |v| v.to_string()),
        );
        kv(
            "server_cpu_ramp_s",
            self.server_cpu_ramp_s
                .map_or("n/a".into(), |v| v.to_string()),
        );
        kv("hwm_kib", opt_u(self.hwm_kib));
        kv("rss_kib", opt_u(self.rss_kib));
        kv(
            "client_cpu_s",
            self.client_cpu_s.map_or("n/a".into(), |v| v.to_string()),
        );
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{s}\nLISTS rates={} header_ms={}\n",
            list(&self.rates),
            list(&self.header_ms)
        )
    }

    /// Reads a dump back. Errors name the key that is missing or malformed.
    pub fn parse_dump(text: &str) -> Result<Summary, String> {
        let mut kv: HashMap<&str, &str> = HashMap::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if matches!(words.next(), Some("DUMP" | "LISTS")) {
                for w in words {
                    let (k, v) = w.split_once('=').ok_or(format!("not key=value: {w}"))?;
                    kv.insert(k, v);
                }
            }
        }
        let get = |k: &str| kv.get(k).copied().ok_or(format!("no {k}"));
        let num =
            |k: &str| -> Result<u64, String> { get(k)?.parse().map_err(|_| format!("bad {k}")) };
        let float =
            |k: &str| -> Result<f64, String> { get(k)?.parse().map_err(|_| format!("bad {k}")) };
        fn maybe<T: std::str::FromStr>(v: &str, k: &str) -> Result<Option<T>, String> {
            if v == "n/a" {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| format!("bad {k}"))
            }
        }
        let opt_num = |k: &str| maybe::<u64>(get(k)?, k);
        let opt_float = |k: &str| maybe::<f64>(get(k)?, k);
        let list = |k: &str| -> Result<Vec<f64>, String> {
            let v = get(k)?;
            if v.is_empty() {
                return Ok(Vec::new());
            }
            v.split(',')
                .map(|x| x.parse().map_err(|_| format!("bad {k}")))
                .collect()
        };
        Ok(Summary {
            url: get("url")?.to_string(),
            bitrate_bps: num("bitrate_bps")?,
            clients: num("clients")?,
            n: num("n")?,
            stall: num("stall")?,
            conc: num("conc")?,
            rate: num("rate")?,
            settle: num("settle")?,
            threads: num("threads")?,
            header_timeout_s: num("header_timeout_s")?,
            ramp_s: float("ramp_s")?,
            ramp_complete: num("ramp_complete")? != 0,
            listen_drops: opt_num("listen_drops")?,
            connected: num("connected")?,
            ok: num("ok")?,
            failed: num("failed")?,
            pending: num("pending")?,
            bad_status: num("bad_status")?,
            no_response: num("no_response")?,
            last_bad_status: num("last_bad_status")?,
            dropped: num("dropped")?,
            dropped_before: num("dropped_before")?,
            dropped_eof: num("dropped_eof")?,
            dropped_error: num("dropped_error")?,
            behind: num("behind")?,
            payload_b: num("payload_b")?,
            raw_b: num("raw_b")?,
            reads: num("reads")?,
            chunked: num("chunked")?,
            chunk_errors: num("chunk_errors")?,
            stalled: num("stalled")?,
            stalled_closed: num("stalled_closed")?,
            synced: num("synced")? != 0,
            window_s: float("window_s")?,
            server_pid: opt_num("server_pid")?.map(|p| p as u32),
            server_cpu_s: opt_float("server_cpu_s")?,
            server_cpu_ramp_s: opt_float("server_cpu_ramp_s")?,
            hwm_kib: opt_num("hwm_kib")?,
            rss_kib: opt_num("rss_kib")?,
            client_cpu_s: opt_float("client_cpu_s")?,
            rates: list("rates")?,
            header_ms: list("header_ms")?,
        })
    }

    /// Several clients' figures as one run's: counts and per-listener lists
    /// add up; the ramp is the longest one; the window, the server's CPU and
    /// memory are those of the client that watched the server (--pid); the
    /// listen drops, a system-wide counter each client read over its own
    /// (overlapping) ramp, are the largest reading.
    pub fn merge(parts: Vec<Summary>) -> Option<Summary> {
        let mut it = parts.into_iter();
        let mut m = it.next()?;
        for p in it {
            m.clients += p.clients;
            m.n += p.n;
            m.stall += p.stall;
            m.conc += p.conc;
            m.rate += p.rate;
            m.threads += p.threads;
            m.ramp_s = m.ramp_s.max(p.ramp_s);
            m.ramp_complete &= p.ramp_complete;
            m.listen_drops = match (m.listen_drops, p.listen_drops) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            m.connected += p.connected;
            m.ok += p.ok;
            m.failed += p.failed;
            m.pending += p.pending;
            m.bad_status += p.bad_status;
            m.no_response += p.no_response;
            if p.last_bad_status != 0 {
                m.last_bad_status = p.last_bad_status;
            }
            m.dropped += p.dropped;
            m.dropped_before += p.dropped_before;
            m.dropped_eof += p.dropped_eof;
            m.dropped_error += p.dropped_error;
            m.behind += p.behind;
            m.payload_b += p.payload_b;
            m.raw_b += p.raw_b;
            m.reads += p.reads;
            m.chunked += p.chunked;
            m.chunk_errors += p.chunk_errors;
            m.stalled += p.stalled;
            m.stalled_closed += p.stalled_closed;
            m.synced &= p.synced;
            if m.server_pid.is_none() && p.server_pid.is_some() {
                m.window_s = p.window_s;
                m.server_pid = p.server_pid;
                m.server_cpu_s = p.server_cpu_s;
                m.server_cpu_ramp_s = p.server_cpu_ramp_s;
                m.hwm_kib = p.hwm_kib;
                m.rss_kib = p.rss_kib;
            }
            m.client_cpu_s = match (m.client_cpu_s, p.client_cpu_s) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            m.rates.extend(p.rates);
            m.header_ms.extend(p.header_ms);
        }
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::Summary;

    fn sample(n: u64, pid: Option<u32>) -> Summary {
        Summary {
            url: "http://127.0.0.1:8000/live.mp3".into(),
            bitrate_bps: 128_000,
            clients: 1,
            n,
            conc: 100,
            rate: 1000,
            settle: 2,
            threads: 1,
            header_timeout_s: 20,
            ramp_s: 1.5,
            ramp_complete: true,
            listen_drops: Some(3),
            connected: n,
            ok: n,
            payload_b: 16_000 * n,
            raw_b: 16_100 * n,
            reads: 4 * n,
            chunked: n,
            synced: true,
            window_s: 1.0,
            server_pid: pid,
            server_cpu_s: pid.map(|_| 0.25),
            hwm_kib: pid.map(|_| 1000),
            rss_kib: pid.map(|_| 900),
            client_cpu_s: Some(0.1),
            rates: vec![128_000.0; n as usize],
            header_ms: vec![2.0; n as usize],
            ..Summary::default()
        }
    }

    #[test]
    fn a_dump_reads_back_as_it_was() {
        let s = sample(3, Some(42));
        assert_eq!(Summary::parse_dump(&s.dump()).unwrap(), s);
        let empty = Summary {
            rates: vec![],
            header_ms: vec![],
            ..sample(0, None)
        };
        assert_eq!(Summary::parse_dump(&empty.dump()).unwrap(), empty);
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_server_figures() {
        let m = Summary::merge(vec![sample(300, None), sample(200, Some(7))]).unwrap();
        assert_eq!((m.clients, m.n, m.ok, m.rate), (2, 500, 500, 2000));
        assert_eq!(m.rates.len(), 500);
        assert_eq!((m.server_pid, m.server_cpu_s), (Some(7), Some(0.25)));
        assert_eq!(m.client_cpu_s, Some(0.2));
        assert_eq!(m.listen_drops, Some(3));
        // 0.25 CPU s over 500 listeners x 1 s
        assert_eq!(m.cpu_us_per_listener_s().map(|v| v.round()), Some(500.0));
    }
}
