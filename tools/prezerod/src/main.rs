// SPDX-License-Identifier: GPL-2.0

//! prezerod: keep free memory pre-zeroed, in the daemon's own context.
//!
//! - hugetlb pools: `zeroable_hugepages` in every `/sys/devices/system/node/nodeN/hugepages/
//!   hugepages-<size>kB/` (the `hugetlb_prezero` module). Polled for `POLLPRI`; writing N
//!   zeroes up to N free huge pages.
//! - buddy memory: `/sys/kernel/mm/zero_page/zero_bytes` (the `zero_page` module). Writing N
//!   clears up to N bytes of free memory of the writer's node; there is no notification, so
//!   the daemon writes a budget per second.
//!
//! One worker thread per node, pinned to the node's CPUs, `SCHED_IDLE`, rate limited, pausing
//! while the CPUs are busy. See README in this directory.

#![deny(clippy::undocumented_unsafe_blocks)]

mod idle;
mod sched;
mod sysfs;
mod worker;

use std::os::fd::AsFd;
use std::os::unix::thread::JoinHandleExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use log::{error, info, warn};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::pthread::pthread_kill;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use idle::{IdleScope, IdleSource, Signals};
use sysfs::ZeroPage;
use worker::{Settings, Shared, Worker};

/// Keep free memory pre-zeroed: free huge pages of the hugetlb pools (hugetlb_prezero) and
/// free buddy memory (zero_page), cleared in this daemon's context while the CPUs are idle.
#[derive(Parser, Debug)]
#[command(name = "prezerod", version, max_term_width = 100)]
#[command(after_help = "\
SIGTERM, SIGINT or SIGHUP interrupt the writes in progress (memory already cleared stays \
cleared), restore what --exclusive changed and exit with status 0. Exit status 1 on errors \
or when there is nothing to keep zeroed (neither module loaded), 2 on bad options.")]
struct Args {
    /// Only these NUMA nodes, e.g. 0-1,3 [default: all]
    #[arg(short, long, value_name = "LIST", value_parser = parse_nodes)]
    nodes: Option<NodeList>,

    /// Do not clear hugetlb pools
    #[arg(long)]
    no_hugetlb: bool,

    /// Do not clear free buddy memory
    #[arg(long)]
    no_buddy: bool,

    /// Only these huge page sizes in kB, e.g. 2048,1048576 [default: all]
    #[arg(short, long, value_name = "KB", value_delimiter = ',')]
    sizes: Vec<u64>,

    /// Huge pages asked for per write (a stop waits for at most one page)
    #[arg(short, long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,

    /// Clear at most BYTES of huge pages per second per node (K, M, G suffixes) [default: no
    /// limit]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    hugetlb_rate: Option<u64>,

    /// Clear at most BYTES of buddy memory per second per node (K, M, G suffixes)
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_size)]
    buddy_rate: u64,

    /// Bytes of buddy memory asked for per write: how much work a pause or stop may wait for
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    buddy_chunk: u64,

    /// After a node had no buddy memory left to clear, ask again after MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    buddy_retry_ms: u64,

    /// Pause while a watched CPU spends more than PERCENT of the --idle-check-ms window on other
    /// tasks than the daemon (the busiest CPU counts, not the average: one busy CPU of two is
    /// 100%), or while CPU pressure (PSI some) is above PERCENT; 100: never pause
    #[arg(long, value_name = "PERCENT", default_value_t = 50,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    max_busy: u8,

    /// Also pause while more than N tasks other than the daemon's run or wait to run
    /// (/proc/loadavg, system-wide; counted before every write, at two checks in a row, so
    /// that a neighbour is seen at once and wherever it runs); only with the stat source and
    /// --idle-scope all
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    max_running: u64,

    /// Length of a busy measurement: how often a paused worker checks again
    #[arg(long, value_name = "MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    idle_check_ms: u64,

    /// How busy the CPUs are: stat: utilization from /proc/stat, without the daemon's own time;
    /// psi: CPU pressure only (contention: does not see a partly busy machine); auto: stat, and
    /// PSI too when /proc/pressure/cpu exists (busy if either is above --max-busy)
    #[arg(long, value_enum, value_name = "SOURCE", default_value_t = IdleSource::Auto)]
    idle_source: IdleSource,

    /// Which CPUs' utilization a worker watches: all online CPUs (a busy CPU anywhere pauses
    /// every worker) or the CPUs of its own node
    #[arg(long, value_enum, value_name = "SCOPE", default_value_t = IdleScope::All)]
    idle_scope: IdleScope,

    /// Run the workers at this nice value (-20 to 19) instead of SCHED_IDLE
    #[arg(short = 'N', long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-20..=19))]
    nice: Option<i32>,

    /// Stop zero_page's own background clearing (background=0) while running, so that only
    /// this daemon clears buddy memory; restored on exit
    #[arg(long)]
    exclusive: bool,

    /// Clear what is there now, then exit
    #[arg(long)]
    once: bool,

    /// More log output (-v: every write, -vv: trace); RUST_LOG works too
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// NUMA node directory
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/sys/devices/system/node",
        alias = "root"
    )]
    node_dir: PathBuf,

    /// zero_page's sysfs directory
    #[arg(long, value_name = "DIR", default_value = "/sys/kernel/mm/zero_page")]
    zero_page_dir: PathBuf,
}

/// A list of node numbers.
#[derive(Clone, Debug)]
struct NodeList(Vec<usize>);

fn parse_nodes(s: &str) -> Result<NodeList, String> {
    match sysfs::parse_list(s) {
        Ok(l) if !l.is_empty() => Ok(NodeList(l)),
        Ok(_) => Err("empty list".into()),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Parses a byte count such as `4096`, `16M` or `1GiB`; 0 is rejected.
fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a size (bytes, optionally with K, M, G or T)");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad()),
    };
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if bytes == 0 {
        return Err("must be at least 1".into());
    }
    Ok(bytes)
}

/// `268435456` as `256 MiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut i = 0;
    while i + 1 < UNITS.len() && v >= 1024 && v.is_multiple_of(1024) {
        v /= 1024;
        i += 1;
    }
    format!("{v} {}", UNITS[i])
}

/// Exits with status 2 and a usage message, as clap does for bad options.
fn usage_error(msg: impl std::fmt::Display) -> ! {
    Args::command()
        .error(ErrorKind::ValueValidation, msg)
        .exit()
}

fn init_logging(verbose: u8) {
    let mut b = env_logger::Builder::new();
    b.filter_level(log::LevelFilter::Info);
    b.parse_default_env();
    match verbose {
        0 => {}
        1 => {
            b.filter_level(log::LevelFilter::Debug);
        }
        _ => {
            b.filter_level(log::LevelFilter::Trace);
        }
    }
    b.format_target(false);
    b.init();
}

/// zero_page's `background`, set to 0 by `--exclusive` and put back when dropped.
struct Exclusive {
    path: PathBuf,
    saved: String,
}

impl Exclusive {
    fn take(zp: &ZeroPage) -> Option<Self> {
        let path = zp.file("background");
        let saved = match std::fs::read_to_string(&path) {
            Ok(s) => s.trim().to_string(),
            Err(e) => {
                warn!(
                    "--exclusive: {}: {e}; zero_page keeps clearing by itself",
                    path.display()
                );
                return None;
            }
        };
        if saved == "0" {
            info!("--exclusive: zero_page's background clearing is already off");
            return None;
        }
        match sysfs::write_str(&path, "0\n") {
            Ok(()) => {
                info!("--exclusive: zero_page's background clearing off until exit");
                Some(Self { path, saved })
            }
            Err(e) => {
                warn!("--exclusive: writing 0 to {}: {e}", path.display());
                None
            }
        }
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        match sysfs::write_str(&self.path, &format!("{}\n", self.saved)) {
            Ok(()) => info!("background={} restored", self.saved),
            Err(e) => error!("restoring {} to {}: {e}", self.path.display(), self.saved),
        }
    }
}

/// The SIGUSR1 handler: does nothing, but its delivery makes the write in progress in the
/// thread it was sent to return (`-EINTR`, or what was done so far).
extern "C" fn on_wakeup(_: libc::c_int) {}

const WAKEUP: Signal = Signal::SIGUSR1;

fn run(args: Args) -> Result<()> {
    // Options that depend on the system: checked before anything changes, exit status 2.
    let all = sysfs::nodes(&args.node_dir)?;
    let nodes: Vec<_> = match &args.nodes {
        None => all.clone(),
        Some(NodeList(want)) => {
            if let Some(n) = want.iter().find(|n| !all.iter().any(|a| a.id == **n)) {
                usage_error(format!(
                    "node {n} does not exist (see {})",
                    args.node_dir.display()
                ));
            }
            all.iter()
                .filter(|a| want.contains(&a.id))
                .cloned()
                .collect()
        }
    };
    if args.no_hugetlb && args.no_buddy {
        usage_error("--no-hugetlb and --no-buddy leave nothing to do");
    }
    let sizes = (!args.sizes.is_empty()).then(|| args.sizes.clone());
    if let Some(sizes) = &sizes {
        for s in sizes {
            if !nodes
                .iter()
                .any(|n| sysfs::hstate_sizes(&n.dir).contains(s))
            {
                usage_error(format!(
                    "there are no {s}kB huge pages on the selected nodes"
                ));
            }
        }
    }
    let signals = match args.idle_source {
        IdleSource::Auto => Signals {
            stat: true,
            psi: idle::psi_available(),
        },
        IdleSource::Psi if !idle::psi_available() => {
            usage_error("--idle-source psi: /proc/pressure/cpu cannot be read (no CONFIG_PSI?)")
        }
        IdleSource::Psi => Signals {
            stat: false,
            psi: true,
        },
        IdleSource::Stat => Signals {
            stat: true,
            psi: false,
        },
    };

    let settings = Arc::new(Settings {
        hugetlb: !args.no_hugetlb,
        sizes,
        batch: args.batch,
        hugetlb_rate: args.hugetlb_rate,
        buddy: !args.no_buddy,
        buddy_rate: args.buddy_rate,
        buddy_chunk: args.buddy_chunk,
        buddy_retry: Duration::from_millis(args.buddy_retry_ms),
        zero_page: ZeroPage::new(args.zero_page_dir.clone()),
        signals,
        idle_scope: args.idle_scope,
        max_busy: args.max_busy,
        max_running: args.max_running,
        idle_check: Duration::from_millis(args.idle_check_ms),
        nice: args.nice,
        once: args.once,
    });

    // SIGTERM, SIGINT and SIGHUP are blocked in every thread and read from a signalfd by this
    // one. SIGUSR1, sent to the workers when stopping, has a handler without SA_RESTART.
    let mut stop_signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        stop_signals.add(s);
    }
    stop_signals.thread_block().context("blocking signals")?;
    let signal_fd = SignalFd::with_flags(
        &stop_signals,
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .context("signalfd")?;
    let wakeup = SigAction::new(
        SigHandler::Handler(on_wakeup),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: `on_wakeup` does nothing, which is async-signal-safe, and no other handler for
    // SIGUSR1 exists in this program, so the previous action returned is valid.
    unsafe { sigaction(WAKEUP, &wakeup) }.context("sigaction")?;

    let flags = EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK;
    let shared = Arc::new(Shared::new(EventFd::from_flags(flags).context("eventfd")?));
    let done = Arc::new(EventFd::from_flags(flags).context("eventfd")?);
    let failed = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicUsize::new(0));

    let workers: Vec<Worker> = nodes
        .iter()
        .map(|n| Worker::new(n.clone(), Arc::clone(&settings), Arc::clone(&shared)))
        .collect();
    let hugetlb = if args.no_hugetlb {
        "off".to_string()
    } else {
        let rate = args
            .hugetlb_rate
            .map_or(String::new(), |r| format!(", {}/s", human(r)));
        format!("{} pages per write{rate}", args.batch)
    };
    let buddy = if args.no_buddy {
        "off".to_string()
    } else {
        format!(
            "{}/s in writes of {}",
            human(args.buddy_rate),
            human(args.buddy_chunk)
        )
    };
    let watched = match args.idle_scope {
        IdleScope::All => "every CPU",
        IdleScope::Node => "each node's CPUs",
    };
    let mut sources = match (signals.stat, signals.psi) {
        (true, true) => format!("busiest CPU of {watched} (/proc/stat) or PSI cpu some"),
        (true, false) => format!("busiest CPU of {watched} (/proc/stat)"),
        _ => "PSI cpu some (system-wide)".to_string(),
    };
    if signals.stat && args.idle_scope == IdleScope::All {
        sources += &format!(", or more than {} other tasks running", args.max_running);
    }
    info!(
        "prezerod {}: pause above {}% {sources}, checked over {} ms; {}; hugetlb: {}; buddy: {}",
        env!("CARGO_PKG_VERSION"),
        args.max_busy,
        args.idle_check_ms,
        match args.nice {
            Some(n) => format!("nice {n}"),
            None => "SCHED_IDLE".to_string(),
        },
        hugetlb,
        buddy,
    );
    for w in &workers {
        info!("{}", w.describe());
    }
    if !workers.iter().any(Worker::has_work_source) {
        bail!(
            "nothing to keep zeroed: no zeroable_hugepages file and no {} (load hugetlb_prezero \
             or zero_page)",
            settings.zero_page.file("zero_bytes").display()
        );
    }
    let exclusive = if args.exclusive && !args.no_buddy {
        Exclusive::take(&settings.zero_page)
    } else {
        None
    };

    let zeroed_at_start = settings.zero_page.zeroed_bytes();
    let mut handles = Vec::new();
    for w in workers {
        let (done, failed, finished) = (
            Arc::clone(&done),
            Arc::clone(&failed),
            Arc::clone(&finished),
        );
        let id = nodes[handles.len()].id;
        let h = thread::Builder::new()
            .name(format!("prezerod-node{id}"))
            .spawn(move || {
                if let Err(e) = w.run() {
                    error!("node{id}: {e:#}");
                    failed.store(true, Ordering::Release);
                }
                finished.fetch_add(1, Ordering::AcqRel);
                let _ = done.write(1);
            })
            .context("spawning a worker")?;
        handles.push(h);
    }

    // Wait for a stop signal, all workers done (--once) or a worker failing.
    loop {
        let mut fds = [
            PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN),
            PollFd::new(done.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        if let Ok(Some(info)) = signal_fd.read_signal() {
            let name = Signal::try_from(info.ssi_signo as i32).map_or("signal", Signal::as_str);
            info!("{name}, stopping");
            break;
        }
        let _ = done.read();
        if failed.load(Ordering::Acquire) || finished.load(Ordering::Acquire) == handles.len() {
            break;
        }
    }

    shared.stop();
    // Interrupt writes in progress until every worker is gone: a signal sent just before a
    // worker enters write() does not interrupt it, hence the repetition.
    while handles.iter().any(|h| !h.is_finished()) {
        for h in handles.iter().filter(|h| !h.is_finished()) {
            let _ = pthread_kill(h.as_pthread_t(), WAKEUP);
        }
        thread::sleep(Duration::from_millis(20));
    }
    for h in handles {
        let _ = h.join();
    }
    drop(exclusive);
    let zeroed = match (zeroed_at_start, settings.zero_page.zeroed_bytes()) {
        (Some(a), Some(b)) if settings.buddy => format!(
            ", zero_page's zeroed_bytes: +{}",
            human(b.saturating_sub(a) & !0xfffff)
        ),
        _ => String::new(),
    };
    info!(
        "writes: {}, huge pages asked for: {}{zeroed}",
        shared.writes.load(Ordering::Relaxed),
        human(shared.hugetlb_bytes.load(Ordering::Relaxed) & !0xfffff),
    );
    if failed.load(Ordering::Acquire) {
        bail!("a worker failed");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.verbose);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("0").is_err());
        assert!(parse_size("0M").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(human(256 << 20), "256 MiB");
        assert_eq!(human(1000), "1000 B");
    }

    #[test]
    fn cli() {
        Args::command().debug_assert();
        let a = Args::try_parse_from(["prezerod", "--nice", "-5", "--nodes", "0-1"]).unwrap();
        assert_eq!(a.nice, Some(-5));
        assert_eq!(a.nodes.unwrap().0, [0, 1]);
        assert_eq!((a.max_busy, a.idle_scope), (50, IdleScope::All));
        assert_eq!(a.max_running, 0);
        let a = Args::try_parse_from(["prezerod", "--idle-scope", "node"]).unwrap();
        assert_eq!(a.idle_scope, IdleScope::Node);
        for bad in [
            &["prezerod", "--bogus"][..],
            &["prezerod", "--max-busy", "101"],
            &["prezerod", "--max-busy", "x"],
            &["prezerod", "--buddy-rate", "0"],
            &["prezerod", "--nice", "20"],
            &["prezerod", "--batch", "0"],
            &["prezerod", "--idle-check-ms", "0"],
            &["prezerod", "--nodes", ""],
            &["prezerod", "--idle-scope", "cpu"],
            &["prezerod", "--idle-source", "load"],
            &["prezerod", "--max-running", "-1"],
            &["prezerod", "--max-running", "1000001"],
        ] {
            let e = Args::try_parse_from(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }
}
