// SPDX-License-Identifier: GPL-2.0

//! Whether the CPUs are too busy to clear memory now.
//!
//! The primary signal is CPU utilization from `/proc/stat`: the share of the window in which
//! the *busiest* watched CPU ran tasks other than the daemon. The busiest CPU rather than the
//! average, because a single CPU-bound neighbour is what the daemon must not slow down, and the
//! average of a node hides it (one busy CPU of two is 50%, of 64 is 1.6%). The daemon's own CPU
//! time is known only as a total, not per CPU; it is taken off the least busy watched CPUs
//! first, which gives the highest busiest-CPU share consistent with the counters: never less
//! than the truth, never more than all other tasks' time put together.
//!
//! The additional signal, with `CONFIG_PSI`, is CPU pressure (`/proc/pressure/cpu`): the share
//! of time in which some runnable task waited for a CPU. It measures contention, not use: one
//! busy task on a machine with an idle CPU never waits, so PSI alone does not see a partly busy
//! machine. The CPUs are busy when either share is above the threshold. Both are measured over a
//! window of at least the check interval that ends now.
//!
//! Shares of a window see a neighbour late (up to a window after it starts) and may miss one that
//! moves between CPUs (a task that runs half of the window on each of two CPUs is 50% busy on
//! both). So the monitor also counts, at every check (before every write), the tasks that run or
//! wait to run right now, other than the daemon's own threads (`/proc/loadavg`, system-wide): a
//! CPU-bound neighbour is always among them, wherever it runs. More than the allowed number at
//! two checks in a row pauses a clearing worker at once; at one check keeps a paused worker
//! paused. Two in a row, because tasks that run for a moment (a kworker, a shell) should not cost
//! a whole window of clearing.

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use nix::time::{clock_gettime, ClockId};
use nix::unistd::{sysconf, SysconfVar};

/// Where the busy share comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdleSource {
    /// Utilization from `/proc/stat`, and CPU pressure too if `/proc/pressure/cpu` can be read.
    Auto,
    /// CPU pressure only: share of time some task waited for a CPU (system-wide).
    Psi,
    /// Utilization from `/proc/stat` only.
    Stat,
}

/// Which CPUs' utilization a worker watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdleScope {
    /// Every online CPU: a busy CPU anywhere pauses every worker.
    All,
    /// The CPUs of the worker's node (all CPUs for a node without CPUs).
    Node,
}

/// What a monitor measures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signals {
    /// Utilization from `/proc/stat`.
    pub(crate) stat: bool,
    /// CPU pressure.
    pub(crate) psi: bool,
}

const PSI_CPU: &str = "/proc/pressure/cpu";
const PROC_STAT: &str = "/proc/stat";
const LOADAVG: &str = "/proc/loadavg";

/// Tasks running or runnable now, on every CPU, the reading thread included: the first number of
/// the fourth field of `/proc/loadavg` (`nr_running()`; the second is the number of tasks).
fn read_running() -> Result<u64> {
    let text = fs::read_to_string(LOADAVG).context(LOADAVG)?;
    text.split_whitespace()
        .nth(3)
        .and_then(|f| f.split_once('/'))
        .and_then(|(running, _)| running.parse().ok())
        .with_context(|| format!("{LOADAVG}: no running/total field in '{}'", text.trim()))
}

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

/// Ticks of one CPU from `/proc/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CpuTicks {
    cpu: usize,
    /// Not idle: user, nice, system, irq, softirq, steal.
    busy: u64,
    /// All of the above plus idle and iowait.
    total: u64,
}

/// Ticks of each of `cpus` (every CPU if `None`) from `/proc/stat`, by CPU number.
fn read_stat(cpus: Option<&[usize]>) -> Result<Vec<CpuTicks>> {
    let text = fs::read_to_string(PROC_STAT).context(PROC_STAT)?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(Ok(cpu)) = fields
            .next()
            .and_then(|n| n.strip_prefix("cpu"))
            .map(str::parse::<usize>)
        else {
            continue;
        };
        if cpus.is_some_and(|list| !list.contains(&cpu)) {
            continue;
        }
        // user nice system idle iowait irq softirq steal (guest time is part of user).
        let v: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
        if v.len() < 5 {
            bail!("{PROC_STAT}: short line '{line}'");
        }
        let total: u64 = v.iter().sum();
        out.push(CpuTicks {
            cpu,
            busy: total - v[3] - v[4],
            total,
        });
    }
    if out.is_empty() {
        bail!("{PROC_STAT}: no line for CPUs {cpus:?}");
    }
    out.sort_by_key(|c| c.cpu);
    Ok(out)
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

/// The busiest CPU of a window: its number and the share (percent) of the window in which it
/// ran other tasks than the daemon.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Busiest {
    cpu: usize,
    share: f64,
}

/// The busiest CPU between two `/proc/stat` readings `a` and `b`, during which the daemon used
/// `own` ticks of these CPUs.
///
/// The daemon's time is taken off the least busy CPUs first, each down to 0: this is the
/// attribution that leaves the most busy time to the busiest CPU, so that the result is never
/// less than the truth. With `competes` (the daemon runs at a nice value rather than
/// `SCHED_IDLE`, so that it takes CPU time from others), a CPU's share is of the time the
/// daemon left on it (at least half of the window): what others would use without the daemon,
/// so that a task sharing a CPU with a daemon at nice 0 counts as 100% busy, not 50%.
fn busiest(a: &[CpuTicks], b: &[CpuTicks], own: f64, competes: bool) -> Option<Busiest> {
    let mut cpus: Vec<(usize, f64, f64)> = b
        .iter()
        .filter_map(|now| {
            let then = a[a.binary_search_by_key(&now.cpu, |c| c.cpu).ok()?];
            let busy = now.busy.saturating_sub(then.busy) as f64;
            let total = now.total.saturating_sub(then.total) as f64;
            (total >= 1.0).then_some((now.cpu, busy.min(total), total))
        })
        .collect();
    cpus.sort_by(|x, y| x.1.total_cmp(&y.1));
    let mut left = own.max(0.0);
    let mut best: Option<Busiest> = None;
    for (cpu, busy, total) in cpus {
        let mine = left.min(busy);
        left -= mine;
        let others = busy - mine;
        let base = if competes {
            (total - mine).max(total / 2.0)
        } else {
            total
        };
        let share = (others * 100.0 / base).clamp(0.0, 100.0);
        if best.is_none_or(|b| share > b.share) {
            best = Some(Busiest { cpu, share });
        }
    }
    best
}

#[derive(Clone, Debug)]
struct Sample {
    at: Instant,
    /// PSI: microseconds stalled.
    psi: u64,
    /// Ticks of the watched CPUs.
    stat: Vec<CpuTicks>,
    own: Duration,
}

/// Counts the checks in a row that saw too many other tasks running.
///
/// `awake` is kept by the workers: each counts itself from its start to its end except while it
/// waits in `poll()`, so that it is counted when it checks and the others are when they may run.
pub(crate) struct RunQueue {
    /// The daemon's threads that are not waiting in `poll()`.
    awake: Arc<AtomicUsize>,
    /// Pause when more other tasks than this run.
    max_running: u64,
    /// Other tasks running at the last check.
    others: Option<u64>,
    /// Checks in a row that saw more than `max_running` others.
    seen: u32,
}

impl RunQueue {
    pub(crate) fn new(awake: Arc<AtomicUsize>, max_running: u64) -> Self {
        Self {
            awake,
            max_running,
            others: None,
            seen: 0,
        }
    }

    /// Notes that `running` tasks run now, the daemon's included; returns whether too many
    /// others did at enough checks in a row: two if the worker is clearing (`paused` false),
    /// one if it is paused.
    fn note(&mut self, running: u64, paused: bool) -> bool {
        let own = self.awake.load(Ordering::Relaxed) as u64;
        let others = running.saturating_sub(own);
        self.others = Some(others);
        self.seen = if others > self.max_running {
            self.seen.saturating_add(1)
        } else {
            0
        };
        self.seen >= if paused { 1 } else { 2 }
    }

    /// Reads the run queues and notes what they hold, see [`Self::note`].
    fn crowded(&mut self, paused: bool) -> Result<bool> {
        Ok(self.note(read_running()?, paused))
    }
}

/// The busy shares of one worker's watched CPUs, kept between calls.
pub(crate) struct IdleMonitor {
    signals: Signals,
    /// Watched CPUs (the worker's node), or all.
    cpus: Option<Vec<usize>>,
    /// The daemon takes CPU time from others (a nice value, not `SCHED_IDLE`).
    competes: bool,
    /// Pause when a busy share is above this (percent); 100 disables the monitor.
    max_busy: f64,
    check: Duration,
    ticks_per_sec: f64,
    last: Option<Sample>,
    /// The last decision: paused.
    busy: bool,
    /// The last window's shares were above `max_busy`.
    loaded: bool,
    busiest: Option<Busiest>,
    psi_share: Option<f64>,
    /// Other tasks running now; `None` when not counted (PSI only, or one node's CPUs watched).
    queue: Option<RunQueue>,
}

impl IdleMonitor {
    /// A monitor for a worker that watches `cpus` (all CPUs if `None` or empty), to be used
    /// from that worker's thread only: with `cpus`, only its own CPU time is taken off them,
    /// else the whole daemon's. `queue` counts the tasks running now; it is used only with
    /// `/proc/stat` and every CPU watched, the count being system-wide.
    pub(crate) fn new(
        signals: Signals,
        cpus: Option<&[usize]>,
        competes: bool,
        max_busy: u8,
        check: Duration,
        queue: RunQueue,
    ) -> Self {
        let ticks = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100);
        let cpus = cpus.filter(|c| !c.is_empty()).map(<[usize]>::to_vec);
        Self {
            signals,
            queue: (signals.stat && cpus.is_none()).then_some(queue),
            cpus,
            competes,
            max_busy: f64::from(max_busy),
            check,
            ticks_per_sec: ticks as f64,
            last: None,
            busy: false,
            loaded: false,
            busiest: None,
            psi_share: None,
        }
    }

    /// The shares of the last window, for the log.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.busiest {
            parts.push(format!(
                "CPU {} {:.0}% busy with other tasks",
                b.cpu, b.share
            ));
        }
        if let Some(p) = self.psi_share {
            parts.push(format!("CPU pressure {p:.0}%"));
        }
        if let Some(n) = self.queue.as_ref().and_then(|q| q.others) {
            parts.push(format!("{n} other tasks running"));
        }
        parts.join(", ")
    }

    fn sample(&self) -> Result<Sample> {
        let at = Instant::now();
        let psi = if self.signals.psi { read_psi()? } else { 0 };
        let (stat, own) = if self.signals.stat {
            (
                read_stat(self.cpus.as_deref())?,
                own_cpu(self.cpus.is_some()),
            )
        } else {
            (Vec::new(), Duration::ZERO)
        };
        Ok(Sample { at, psi, stat, own })
    }

    /// Computes the shares between two samples.
    fn measure(&mut self, a: &Sample, b: &Sample) {
        self.psi_share = self.signals.psi.then(|| {
            let wall = b.at.duration_since(a.at).as_micros().max(1) as f64;
            (b.psi.saturating_sub(a.psi) as f64 * 100.0 / wall).clamp(0.0, 100.0)
        });
        self.busiest = if self.signals.stat {
            let own = b.own.saturating_sub(a.own).as_secs_f64() * self.ticks_per_sec;
            busiest(&a.stat, &b.stat, own, self.competes)
        } else {
            None
        };
    }

    /// Whether the CPUs are too busy to clear now, asked before every write. `None` when a new
    /// measurement window has just started (the last one is too old to tell): ask again after
    /// [`Self::window`].
    pub(crate) fn busy(&mut self) -> Result<Option<bool>> {
        if self.max_busy >= 100.0 {
            return Ok(Some(false));
        }
        let paused = self.busy;
        let crowded = match &mut self.queue {
            Some(q) => q.crowded(paused)?,
            None => false,
        };
        let now = Instant::now();
        let age = self.last.as_ref().map(|s| now.duration_since(s.at));
        match age {
            Some(age) if age < self.check => {}
            Some(age) if age <= self.check * 3 => {
                let sample = self.sample()?;
                let last = self.last.replace(sample.clone()).expect("checked above");
                self.measure(&last, &sample);
                let util = self.busiest.map_or(0.0, |b| b.share);
                self.loaded = util.max(self.psi_share.unwrap_or(0.0)) > self.max_busy;
            }
            _ => {
                self.last = Some(self.sample()?);
                return Ok(None);
            }
        }
        self.busy = self.loaded || crowded;
        Ok(Some(self.busy))
    }

    /// How long a measurement window lasts.
    pub(crate) fn window(&self) -> Duration {
        self.check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(busy, total)` ticks of CPUs 0, 1, ... during a window, as two readings.
    fn window(cpus: &[(u64, u64)]) -> (Vec<CpuTicks>, Vec<CpuTicks>) {
        let a = (0..cpus.len())
            .map(|cpu| CpuTicks {
                cpu,
                busy: 1000,
                total: 5000,
            })
            .collect();
        let b = cpus
            .iter()
            .enumerate()
            .map(|(cpu, &(busy, total))| CpuTicks {
                cpu,
                busy: 1000 + busy,
                total: 5000 + total,
            })
            .collect();
        (a, b)
    }

    fn share(cpus: &[(u64, u64)], own: f64, competes: bool) -> f64 {
        let (a, b) = window(cpus);
        busiest(&a, &b, own, competes).unwrap().share
    }

    #[test]
    fn one_busy_cpu_of_two() {
        // A neighbour on one CPU, the daemon paused: 100%, not the average of 50%.
        assert_eq!(share(&[(50, 50), (0, 50)], 0.0, false), 100.0);
        // The daemon clearing on the other CPU (all of it, or rate-limited).
        assert_eq!(share(&[(50, 50), (50, 50)], 50.0, false), 100.0);
        assert_eq!(share(&[(50, 50), (20, 50)], 20.0, false), 100.0);
        // Same when the neighbour is on the second CPU.
        assert_eq!(share(&[(20, 50), (50, 50)], 20.0, false), 100.0);
    }

    #[test]
    fn own_time_is_not_busy() {
        // The daemon alone, on one CPU or moving between them.
        assert!(share(&[(1, 50), (50, 50)], 50.0, false) <= 2.0);
        assert_eq!(share(&[(10, 50), (10, 50)], 20.0, false), 0.0);
        // More own time than the counters show (tick sampling): still 0.
        assert_eq!(share(&[(10, 50), (10, 50)], 25.0, false), 0.0);
        // A light neighbour next to a daemon clearing flat out is what it is.
        assert_eq!(share(&[(15, 50), (50, 50)], 50.0, false), 30.0);
    }

    #[test]
    fn competing_daemon() {
        // At nice 0, sharing the only CPU with a busy loop: others would use all of it.
        assert_eq!(share(&[(50, 50)], 25.0, true), 100.0);
        // The daemon using nearly all of it: at least half the window is the base.
        assert_eq!(share(&[(50, 50)], 49.0, true), 4.0);
        assert_eq!(share(&[(50, 50)], 25.0, false), 50.0);
    }

    #[test]
    fn run_queue() {
        let awake = Arc::new(AtomicUsize::new(1));
        let mut q = RunQueue::new(Arc::clone(&awake), 0);
        // The daemon alone: its own running thread is not another task.
        assert!(!q.note(1, false));
        assert_eq!(q.others, Some(0));
        // A neighbour seen once while clearing: not yet (it may be passing by); twice: pause.
        assert!(!q.note(2, false));
        assert!(q.note(2, false));
        // Paused: once is enough to stay paused; gone: clear again.
        assert!(q.note(2, true));
        assert!(!q.note(1, true));
        // One sighting, then none: the count starts again.
        assert!(!q.note(2, false));
        assert!(!q.note(1, false));
        assert!(!q.note(2, false));
        // Another worker of the daemon running is not a neighbour.
        awake.store(2, Ordering::Relaxed);
        assert!(!q.note(2, false));
        assert!(!q.note(2, false));
        // Fewer running than awake (a worker blocked in a write): no underflow.
        assert!(!q.note(1, false));
        // --max-running 1 lets one neighbour run next to the daemon.
        let mut q = RunQueue::new(Arc::new(AtomicUsize::new(1)), 1);
        assert!(!q.note(2, false) && !q.note(2, false));
        assert!(!q.note(3, false) && q.note(3, false));
    }

    #[test]
    fn cpus_that_come_and_go() {
        let (a, mut b) = window(&[(50, 50), (0, 50)]);
        b.push(CpuTicks {
            cpu: 7,
            busy: 5,
            total: 5,
        });
        let r = busiest(&a, &b, 0.0, false).unwrap();
        assert_eq!((r.cpu, r.share), (0, 100.0));
        assert!(busiest(&a, &[], 0.0, false).is_none());
    }
}
