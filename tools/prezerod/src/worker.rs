// SPDX-License-Identifier: GPL-2.0

//! One worker thread per NUMA node: it keeps the node's hugetlb pools and its free buddy
//! memory zeroed, pinned to the node's CPUs, while those CPUs are idle enough.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use log::{debug, info, warn};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::eventfd::EventFd;
use nix::unistd::Pid;

use crate::idle::{IdleMonitor, IdleScope, RunQueue, Signals};
use crate::sysfs::{self, HugetlbFile, Node, ZeroPage};

/// How often a worker looks for files that appeared (a module loaded later, a new huge page
/// size) and retries a zero_page that was disabled or standing by.
const RESCAN: Duration = Duration::from_secs(10);

/// What every worker needs to know, from the command line.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) hugetlb: bool,
    pub(crate) sizes: Option<Vec<u64>>,
    pub(crate) batch: u64,
    pub(crate) hugetlb_rate: Option<u64>,
    pub(crate) buddy: bool,
    pub(crate) buddy_rate: u64,
    pub(crate) buddy_chunk: u64,
    pub(crate) buddy_retry: Duration,
    pub(crate) zero_page: ZeroPage,
    pub(crate) signals: Signals,
    pub(crate) idle_scope: IdleScope,
    pub(crate) max_busy: u8,
    pub(crate) max_running: u64,
    pub(crate) idle_check: Duration,
    pub(crate) nice: Option<i32>,
    pub(crate) once: bool,
}

/// State shared by the main thread and the workers.
pub(crate) struct Shared {
    stop: AtomicBool,
    /// Readable once stopping: wakes up the workers' `poll()`.
    stop_fd: EventFd,
    /// Workers not waiting in `poll()`: the daemon's threads that may be running now.
    awake: Arc<AtomicUsize>,
    /// Bytes of huge pages asked for.
    pub(crate) hugetlb_bytes: AtomicU64,
    pub(crate) writes: AtomicU64,
}

impl Shared {
    pub(crate) fn new(stop_fd: EventFd) -> Self {
        Self {
            stop: AtomicBool::new(false),
            stop_fd,
            awake: Arc::new(AtomicUsize::new(0)),
            hugetlb_bytes: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Tells every worker to stop; writes in progress still need a signal.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Err(e) = self.stop_fd.write(1) {
            warn!("eventfd: {e}");
        }
    }
}

/// Errors meaning that a sysfs file went away (module unloaded).
fn gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENODEV))
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// One hugetlb pool of the node.
struct Pool {
    size_kb: u64,
    file: HugetlbFile,
    /// Zeroable pages at the last read.
    zeroable: u64,
    /// Rate limit: no write before this.
    next_at: Instant,
    gone: bool,
    /// `--once`: nothing more to do.
    done: bool,
}

impl Pool {
    fn has_work(&self) -> bool {
        self.zeroable > 0 && !self.done
    }
}

/// What zero_page's `zero_bytes` said last.
#[derive(Clone, Debug, PartialEq, Eq)]
enum BuddyState {
    /// Writes work.
    Ready,
    /// No `zero_bytes` file (module not loaded, or without the writer interface).
    Absent,
    /// `-EINVAL`: `enabled` is 0.
    Disabled,
    /// `-EBUSY`: standing by for virtio-balloon.
    Standby,
    /// Another error.
    Failing(String),
}

/// The node's free buddy memory, cleared through zero_page's `zero_bytes`.
struct Buddy {
    state: BuddyState,
    next_at: Instant,
    /// `--once`: nothing more to do.
    done: bool,
}

/// The worker of one node.
pub(crate) struct Worker {
    node: Node,
    cfg: Arc<Settings>,
    shared: Arc<Shared>,
    pools: Vec<Pool>,
    /// `None` if the buddy side is off or the node has no CPU to clear from.
    buddy: Option<Buddy>,
    idle: IdleMonitor,
    paused: bool,
    /// Running: files found from now on are logged.
    started: bool,
}

impl Worker {
    /// A worker for `node`, with the pools that exist now.
    pub(crate) fn new(node: Node, cfg: Arc<Settings>, shared: Arc<Shared>) -> Self {
        let buddy = (cfg.buddy && !node.cpus.is_empty()).then(|| Buddy {
            state: if cfg.zero_page.has_zero_bytes() {
                BuddyState::Ready
            } else {
                BuddyState::Absent
            },
            next_at: Instant::now(),
            done: false,
        });
        let watched = (cfg.idle_scope == IdleScope::Node).then_some(node.cpus.as_slice());
        let idle = IdleMonitor::new(
            cfg.signals,
            watched,
            cfg.nice.is_some(),
            cfg.max_busy,
            cfg.idle_check,
            RunQueue::new(Arc::clone(&shared.awake), cfg.max_running),
        );
        let mut w = Self {
            node,
            cfg,
            shared,
            pools: Vec::new(),
            buddy,
            idle,
            paused: false,
            started: false,
        };
        w.find_pools();
        w
    }

    /// Whether there is anything to keep zeroed on this node now.
    pub(crate) fn has_work_source(&self) -> bool {
        !self.pools.is_empty()
            || self
                .buddy
                .as_ref()
                .is_some_and(|b| b.state == BuddyState::Ready)
    }

    /// One line for the startup log.
    pub(crate) fn describe(&self) -> String {
        let cpus = if self.node.cpus.is_empty() {
            "no CPUs, runs anywhere".to_string()
        } else {
            format!("CPUs {}", list_string(&self.node.cpus))
        };
        let hugetlb = if !self.cfg.hugetlb {
            "off".to_string()
        } else if self.pools.is_empty() {
            "no zeroable_hugepages (hugetlb_prezero not loaded?)".to_string()
        } else {
            let sizes: Vec<String> = self
                .pools
                .iter()
                .map(|p| format!("{}kB", p.size_kb))
                .collect();
            sizes.join(" ")
        };
        let buddy = match &self.buddy {
            None if !self.cfg.buddy => "off",
            None => "off (no CPU on the node)",
            Some(b) if b.state == BuddyState::Ready => "zero_page zero_bytes",
            Some(_) => "no zero_page zero_bytes (not loaded or too old)",
        };
        format!(
            "node{} ({cpus}): hugetlb: {hugetlb}; buddy: {buddy}",
            self.node.id
        )
    }

    /// Opens the `zeroable_hugepages` files of the node that are not open yet.
    fn find_pools(&mut self) {
        if !self.cfg.hugetlb {
            return;
        }
        for size_kb in sysfs::hstate_sizes(&self.node.dir) {
            if self
                .cfg
                .sizes
                .as_ref()
                .is_some_and(|s| !s.contains(&size_kb))
                || self.pools.iter().any(|p| p.size_kb == size_kb)
            {
                continue;
            }
            let path = sysfs::zeroable_path(&self.node.dir, size_kb);
            match HugetlbFile::open(&path) {
                Ok(file) => {
                    if self.started {
                        info!("node{}: {size_kb}kB pool appeared", self.node.id);
                    }
                    self.pools.push(Pool {
                        size_kb,
                        file,
                        zeroable: 0,
                        next_at: Instant::now(),
                        gone: false,
                        done: false,
                    });
                }
                Err(e) if gone(&e) => {}
                Err(e) => warn!("{}: {e}", path.display()),
            }
        }
        self.pools.sort_by_key(|p| p.size_kb);
    }

    fn rescan(&mut self) {
        self.find_pools();
        let has_file = self.cfg.zero_page.has_zero_bytes();
        if let Some(b) = &mut self.buddy {
            if b.state == BuddyState::Absent && has_file {
                b.next_at = Instant::now();
                set_state(b, BuddyState::Ready, self.node.id);
            }
        }
    }

    /// Pins the thread to the node's CPUs and sets its scheduling policy.
    fn set_policy(&self) {
        if !self.node.cpus.is_empty() {
            let mut set = CpuSet::new();
            for &cpu in &self.node.cpus {
                if let Err(e) = set.set(cpu) {
                    warn!("node{}: CPU {cpu}: {e}", self.node.id);
                }
            }
            if let Err(e) = sched_setaffinity(Pid::from_raw(0), &set) {
                warn!("node{}: sched_setaffinity: {e}", self.node.id);
            }
        }
        let res = match self.cfg.nice {
            Some(nice) => crate::sched::set_nice(nice).context("setpriority"),
            None => crate::sched::set_idle().context("sched_setscheduler(SCHED_IDLE)"),
        };
        if let Err(e) = res {
            warn!("node{}: {e:#}", self.node.id);
        }
    }

    /// The worker's thread.
    pub(crate) fn run(self) -> Result<()> {
        let awake = Arc::clone(&self.shared.awake);
        awake.fetch_add(1, Ordering::Relaxed);
        let res = self.work();
        awake.fetch_sub(1, Ordering::Relaxed);
        res
    }

    fn work(mut self) -> Result<()> {
        self.set_policy();
        self.started = true;
        if self.cfg.once {
            if let Some(b) = &mut self.buddy {
                b.done = b.state != BuddyState::Ready;
            }
        }
        let mut next_rescan = Instant::now() + RESCAN;
        while !self.shared.stopping() {
            let now = Instant::now();
            if now >= next_rescan && !self.cfg.once {
                self.rescan();
                next_rescan = now + RESCAN;
            }
            self.read_counts()?;
            let pools_ready = self.pools.iter().any(|p| p.has_work() && p.next_at <= now);
            let buddy_ready = self
                .buddy
                .as_ref()
                .is_some_and(|b| !b.done && b.next_at <= now && b.state != BuddyState::Absent);
            if pools_ready || buddy_ready {
                match self.idle.busy()? {
                    None => {
                        self.wait(false, self.idle.window())?;
                        continue;
                    }
                    Some(busy) => self.note_busy(busy),
                }
                if self.paused {
                    self.wait(false, self.idle.window())?;
                    continue;
                }
                for i in 0..self.pools.len() {
                    let p = &self.pools[i];
                    if p.has_work() && p.next_at <= now && !self.shared.stopping() {
                        self.zero_pool(i)?;
                    }
                }
                self.pools.retain(|p| !p.gone);
                if buddy_ready && !self.shared.stopping() {
                    self.zero_buddy();
                }
                continue;
            }
            if self.cfg.once
                && !self.pools.iter().any(Pool::has_work)
                && self.buddy.as_ref().is_none_or(|b| b.done)
            {
                break;
            }
            let mut until = next_rescan;
            for p in self.pools.iter().filter(|p| p.has_work()) {
                until = until.min(p.next_at);
            }
            if let Some(b) = self
                .buddy
                .as_ref()
                .filter(|b| !b.done && b.state != BuddyState::Absent)
            {
                until = until.min(b.next_at);
            }
            self.wait(true, until.saturating_duration_since(now))?;
        }
        Ok(())
    }

    fn note_busy(&mut self, busy: bool) {
        if busy != self.paused {
            debug!(
                "node{}: {}, {}",
                self.node.id,
                self.idle.describe(),
                if busy { "pausing" } else { "clearing again" }
            );
            self.paused = busy;
        }
    }

    /// Reads how many pages every pool has to zero; forgets pools whose file went away.
    fn read_counts(&mut self) -> Result<()> {
        for p in &mut self.pools {
            match p.file.zeroable() {
                Ok(n) => p.zeroable = n,
                Err(e) if gone(&e) => {
                    info!("node{}: {}kB pool went away ({e})", self.node.id, p.size_kb);
                    p.gone = true;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "node{} {}kB: reading zeroable_hugepages",
                            self.node.id, p.size_kb
                        )
                    })
                }
            }
        }
        self.pools.retain(|p| !p.gone);
        Ok(())
    }

    /// Zeroes one batch of pool `i`.
    fn zero_pool(&mut self, i: usize) -> Result<()> {
        let p = &mut self.pools[i];
        let page = p.size_kb * 1024;
        let mut n = p.zeroable.min(self.cfg.batch);
        if let Some(rate) = self.cfg.hugetlb_rate {
            // At most one second's worth, and at least one page.
            n = n.min((rate / page).max(1));
        }
        let t0 = Instant::now();
        match p.file.zero(n) {
            Ok(()) => {
                self.shared.writes.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .hugetlb_bytes
                    .fetch_add(n * page, Ordering::Relaxed);
                debug!(
                    "node{} {}kB: asked for {n} of {} pages, {:?}",
                    self.node.id,
                    p.size_kb,
                    p.zeroable,
                    t0.elapsed()
                );
            }
            Err(e) if errno(&e) == libc::EINTR => {
                debug!("node{} {}kB: write interrupted", self.node.id, p.size_kb);
                return Ok(());
            }
            Err(e) if gone(&e) => {
                info!("node{}: {}kB pool went away ({e})", self.node.id, p.size_kb);
                p.gone = true;
                return Ok(());
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "node{} {}kB: writing zeroable_hugepages",
                        self.node.id, p.size_kb
                    )
                })
            }
        }
        if let Some(rate) = self.cfg.hugetlb_rate {
            p.next_at =
                p.next_at.max(t0) + Duration::from_secs_f64((n * page) as f64 / rate as f64);
        }
        // As many zeroable pages left as there were: the write found pages it could not
        // take, or as many were freed meanwhile. Do not spin on them.
        if p.file.zeroable().is_ok_and(|left| left >= p.zeroable) {
            p.next_at = p.next_at.max(t0 + self.cfg.idle_check);
            p.done = self.cfg.once;
        }
        Ok(())
    }

    /// Clears one chunk of the node's free memory through `zero_bytes`.
    fn zero_buddy(&mut self) {
        let cfg = &self.cfg;
        let node = self.node.id;
        let Some(b) = &mut self.buddy else {
            return;
        };
        let chunk = cfg.buddy_chunk;
        let before = cfg.zero_page.zeroed_bytes();
        let t0 = Instant::now();
        let state = match cfg.zero_page.zero_bytes(chunk) {
            Ok(()) => {
                self.shared.writes.fetch_add(1, Ordering::Relaxed);
                // zeroed_bytes counts every writer (other nodes' workers too) and zero_page's
                // own worker: this may be more than the write cleared, never less. Less than
                // asked for: the node has nothing left.
                let cleared = match (before, cfg.zero_page.zeroed_bytes()) {
                    (Some(a), Some(b)) => b.saturating_sub(a).min(chunk),
                    _ => 0,
                };
                debug!(
                    "node{node}: zero_bytes {chunk}: {cleared} bytes cleared, {:?}",
                    t0.elapsed()
                );
                if cleared < chunk {
                    b.next_at = t0 + cfg.buddy_retry;
                    b.done = cfg.once;
                } else {
                    let secs = chunk as f64 / cfg.buddy_rate as f64;
                    b.next_at = b.next_at.max(t0) + Duration::from_secs_f64(secs);
                }
                BuddyState::Ready
            }
            Err(e) if errno(&e) == libc::EINTR => {
                debug!("node{node}: zero_bytes interrupted");
                return;
            }
            Err(e) => {
                b.next_at = t0 + RESCAN;
                b.done = cfg.once;
                match errno(&e) {
                    // ENODEV: disabled while the write ran.
                    libc::EINVAL | libc::ENODEV => BuddyState::Disabled,
                    libc::EBUSY => BuddyState::Standby,
                    libc::ENOENT => BuddyState::Absent,
                    _ => BuddyState::Failing(e.to_string()),
                }
            }
        };
        set_state(b, state, node);
    }

    /// Waits for the stop event, new zeroable huge pages (`pools`) or `timeout`.
    fn wait(&self, pools: bool, timeout: Duration) -> Result<()> {
        let mut fds = Vec::with_capacity(1 + self.pools.len());
        fds.push(PollFd::new(self.shared.stop_fd.as_fd(), PollFlags::POLLIN));
        if pools {
            for p in &self.pools {
                fds.push(PollFd::new(p.file.poll_fd().as_fd(), PollFlags::POLLPRI));
            }
        }
        // Round up so that a deadline less than 1 ms away does not spin.
        let ms = Duration::from_millis(timeout.as_micros().div_ceil(1000) as u64);
        self.shared.awake.fetch_sub(1, Ordering::Relaxed);
        let res = poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
        self.shared.awake.fetch_add(1, Ordering::Relaxed);
        match res {
            Ok(_) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(e).context("poll"),
        }
    }
}

/// Records the buddy side's new state, logging changes.
fn set_state(b: &mut Buddy, state: BuddyState, node: usize) {
    if b.state == state {
        return;
    }
    match &state {
        BuddyState::Ready => info!("node{node}: clearing free memory through zero_page"),
        BuddyState::Absent => info!("node{node}: zero_page's zero_bytes went away"),
        BuddyState::Disabled => info!("node{node}: zero_page is disabled (enabled=0), waiting"),
        BuddyState::Standby => info!("node{node}: zero_page stands by for virtio-balloon, waiting"),
        BuddyState::Failing(e) => warn!("node{node}: zero_bytes: {e}, retrying in {RESCAN:?}"),
    }
    b.state = state;
}

/// `[0, 1, 2, 5]` as `0-2,5`.
pub(crate) fn list_string(list: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < list.len() {
        let mut j = i;
        while j + 1 < list.len() && list[j + 1] == list[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            list[i].to_string()
        } else {
            format!("{}-{}", list[i], list[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(list_string(&[0, 1, 2, 5]), "0-2,5");
        assert_eq!(list_string(&[3]), "3");
        assert_eq!(list_string(&[]), "");
    }
}
