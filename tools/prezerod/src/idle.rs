// SPDX-License-Identifier: GPL-2.0

//! Whether the CPUs are too busy to clear memory now.
//!
//! Two sources: CPU pressure (`/proc/pressure/cpu`, with `CONFIG_PSI`), the share of time in
//! which some runnable task waited for a CPU; or `/proc/stat`, the share of the time the daemon
//! did not use in which the CPUs were not idle. Both are measured over a window of at
//! least the check interval that ends now.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use nix::time::{clock_gettime, ClockId};
use nix::unistd::{sysconf, SysconfVar};

/// Where the busy share comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdleSource {
    /// PSI if `/proc/pressure/cpu` can be read, else `/proc/stat`.
    Auto,
    /// CPU pressure: share of time some task waited for a CPU (system-wide).
    Psi,
    /// CPU utilization from `/proc/stat` (of the node's CPUs), without the daemon's own time.
    Stat,
}

const PSI_CPU: &str = "/proc/pressure/cpu";
const PROC_STAT: &str = "/proc/stat";

/// The `total` of the `some` line of `/proc/pressure/cpu`: microseconds in which some runnable
/// task waited for a CPU. `avg10` is the same share averaged over 10 s, which lags several
/// seconds behind a change; the monitor computes it over its own window instead.
fn read_psi() -> Result<u64> {
    let text = fs::read_to_string(PSI_CPU).with_context(|| PSI_CPU.to_string())?;
    let line = text
        .lines()
        .find(|l| l.starts_with("some "))
        .with_context(|| format!("{PSI_CPU}: no 'some' line"))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix("total="))
        .with_context(|| format!("{PSI_CPU}: no total"))?
        .parse()
        .with_context(|| format!("{PSI_CPU}: bad total"))
}

/// Whether PSI can be used.
pub(crate) fn psi_available() -> bool {
    read_psi().is_ok()
}

/// Busy and total ticks of `cpus` (all CPUs if `None`) from `/proc/stat`.
fn read_stat(cpus: Option<&[usize]>) -> Result<(u64, u64)> {
    let text = fs::read_to_string(PROC_STAT).context(PROC_STAT)?;
    let (mut busy, mut total) = (0u64, 0u64);
    let mut found = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next().and_then(|n| n.strip_prefix("cpu")) else {
            continue;
        };
        let wanted = match cpus {
            None => name.is_empty(),
            Some(list) => name.parse().is_ok_and(|c: usize| list.contains(&c)),
        };
        if !wanted {
            continue;
        }
        // user nice system idle iowait irq softirq steal (guest time is part of user).
        let v: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
        if v.len() < 5 {
            bail!("{PROC_STAT}: short line '{line}'");
        }
        let t: u64 = v.iter().sum();
        total += t;
        busy += t - v[3] - v[4];
        found = true;
    }
    if !found {
        bail!("{PROC_STAT}: no line for CPUs {cpus:?}");
    }
    Ok((busy, total))
}

/// CPU time of the calling thread (`thread == true`) or of the whole process.
fn own_cpu(thread: bool) -> Duration {
    let clock = if thread {
        ClockId::CLOCK_THREAD_CPUTIME_ID
    } else {
        ClockId::CLOCK_PROCESS_CPUTIME_ID
    };
    clock_gettime(clock).map(Duration::from).unwrap_or_default()
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Instant,
    /// PSI: microseconds stalled. Stat: busy ticks.
    busy: u64,
    /// Stat: total ticks.
    total: u64,
    own: Duration,
}

/// The busy share of one worker's CPUs, kept between calls.
pub(crate) struct IdleMonitor {
    psi: bool,
    /// Stat source: these CPUs (the worker's node), or all.
    cpus: Option<Vec<usize>>,
    /// Pause when the busy share is above this (percent); 100 disables the monitor.
    max_busy: f64,
    check: Duration,
    ticks_per_sec: f64,
    last: Option<Sample>,
    busy: bool,
    share: f64,
}

impl IdleMonitor {
    /// A monitor for a worker pinned to `cpus` (all CPUs if empty), to be used from that
    /// worker's thread only (its own CPU time is subtracted).
    pub(crate) fn new(psi: bool, cpus: &[usize], max_busy: u8, check: Duration) -> Self {
        let ticks = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100);
        Self {
            psi,
            cpus: (!cpus.is_empty()).then(|| cpus.to_vec()),
            max_busy: f64::from(max_busy),
            check,
            ticks_per_sec: ticks as f64,
            last: None,
            busy: false,
            share: 0.0,
        }
    }

    /// The busy share (percent) of the last window.
    pub(crate) fn share(&self) -> f64 {
        self.share
    }

    fn sample(&self) -> Result<Sample> {
        let at = Instant::now();
        if self.psi {
            let total = read_psi()?;
            return Ok(Sample {
                at,
                busy: total,
                total: 0,
                own: Duration::ZERO,
            });
        }
        let (busy, total) = read_stat(self.cpus.as_deref())?;
        Ok(Sample {
            at,
            busy,
            total,
            own: own_cpu(self.cpus.is_some()),
        })
    }

    /// Busy share (percent) between two samples.
    fn busy_share(&self, a: &Sample, b: &Sample) -> f64 {
        if self.psi {
            let wall = b.at.duration_since(a.at).as_micros().max(1) as f64;
            return (b.busy.saturating_sub(a.busy) as f64 * 100.0 / wall).clamp(0.0, 100.0);
        }
        // Of the CPU time the daemon did not use, the share others used: what they would use
        // without the daemon, so that a task sharing a CPU with a daemon at nice 0 counts as
        // 100% busy, not 50%. At least half of the window, so that a daemon using nearly all
        // of it does not pause for the few interrupts in what is left.
        let total = b.total.saturating_sub(a.total) as f64;
        let own = b.own.saturating_sub(a.own).as_secs_f64() * self.ticks_per_sec;
        let others = b.busy.saturating_sub(a.busy) as f64 - own;
        let base = (total - own).max(total / 2.0);
        if base < 1.0 {
            return 0.0;
        }
        (others * 100.0 / base).clamp(0.0, 100.0)
    }

    /// Whether the CPUs are too busy to clear now. `None` when a new measurement window has
    /// just started (the last one is too old to tell): ask again after [`Self::window`].
    pub(crate) fn busy(&mut self) -> Result<Option<bool>> {
        if self.max_busy >= 100.0 {
            return Ok(Some(false));
        }
        let now = Instant::now();
        let age = self.last.map(|s| now.duration_since(s.at));
        match age {
            Some(age) if age < self.check => Ok(Some(self.busy)),
            Some(age) if age <= self.check * 3 => {
                let sample = self.sample()?;
                let last = self.last.replace(sample).expect("checked above");
                self.share = self.busy_share(&last, &sample);
                self.busy = self.share > self.max_busy;
                Ok(Some(self.busy))
            }
            _ => {
                self.last = Some(self.sample()?);
                Ok(None)
            }
        }
    }

    /// How long a measurement window lasts.
    pub(crate) fn window(&self) -> Duration {
        self.check
    }
}
