// SPDX-License-Identifier: GPL-2.0

//! hugetlb-prezerod: keep free hugetlb pages zeroed.
//!
//! Watches `zeroable_hugepages` in every `/sys/devices/system/node/nodeN/hugepages/
//! hugepages-<size>kB/` directory (created by the `hugetlb_prezero` module) with epoll, and
//! writes to it whenever free huge pages that are not zero yet show up, so that faults on
//! hugetlb memory find zeroed pages. See README in this directory.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
Usage: hugetlb-prezerod [OPTIONS]

Keep free hugetlb pages zeroed ahead of time, using the zeroable_hugepages files of the
hugetlb_prezero kernel module.

Options:
  -t, --threads N      zeroing threads per node and huge page size (default 1)
  -c, --cpus LIST      run zeroing threads on these CPUs, e.g. 2-3,6 (default: the CPUs of the
                       node whose pages they zero; all CPUs if that node has none)
  -r, --rate MIB       zero at most MIB MiB per second per node and page size (default: no limit)
  -b, --batch N        huge pages asked for per write (default 8); a stop waits for at most
                       one batch
  -n, --nodes LIST     only these nodes (default: all)
  -s, --sizes LIST     only these huge page sizes in kB, e.g. 2048,1048576 (default: all)
  -N, --nice N         nice value of the zeroing threads (default 10)
  -1, --once           zero what is zeroable now, then exit
  -v, --verbose        log every write to stderr
      --root DIR       node directory (default /sys/devices/system/node)
  -h, --help           this text

Stops cleanly on SIGTERM or SIGINT, interrupting writes in progress.
";

/// Command line settings.
struct Config {
    threads: usize,
    cpus: Option<Vec<usize>>,
    rate_mib: Option<u64>,
    batch: u64,
    nodes: Option<Vec<usize>>,
    sizes_kb: Option<Vec<usize>>,
    nice: i32,
    once: bool,
    verbose: bool,
    root: PathBuf,
}

/// Parses a list like `0-3,8,10-11`.
fn parse_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a
            .trim()
            .parse()
            .map_err(|_| format!("bad list item '{part}'"))?;
        let b: usize = b
            .trim()
            .parse()
            .map_err(|_| format!("bad list item '{part}'"))?;
        if a > b || b - a > 65536 {
            return Err(format!("bad range '{part}'"));
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        return Err(format!("empty list '{s}'"));
    }
    Ok(out)
}

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config {
        threads: 1,
        cpus: None,
        rate_mib: None,
        batch: 8,
        nodes: None,
        sizes_kb: None,
        nice: 10,
        once: false,
        verbose: false,
        root: PathBuf::from("/sys/devices/system/node"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{what} needs a value"))
        };
        let num = |v: String| -> Result<u64, String> {
            v.parse::<u64>().map_err(|_| format!("bad number '{v}'"))
        };
        match name.as_str() {
            "-t" | "--threads" => {
                cfg.threads = num(value(&name)?)? as usize;
                if cfg.threads == 0 || cfg.threads > 1024 {
                    return Err("--threads must be 1..1024".into());
                }
            }
            "-c" | "--cpus" => cfg.cpus = Some(parse_list(&value(&name)?)?),
            "-r" | "--rate" => {
                let r = num(value(&name)?)?;
                if r == 0 {
                    return Err("--rate must be at least 1".into());
                }
                cfg.rate_mib = Some(r);
            }
            "-b" | "--batch" => {
                cfg.batch = num(value(&name)?)?;
                if cfg.batch == 0 {
                    return Err("--batch must be at least 1".into());
                }
            }
            "-n" | "--nodes" => cfg.nodes = Some(parse_list(&value(&name)?)?),
            "-s" | "--sizes" => cfg.sizes_kb = Some(parse_list(&value(&name)?)?),
            "-N" | "--nice" => {
                let v = value(&name)?;
                cfg.nice = v.parse().map_err(|_| format!("bad nice value '{v}'"))?;
            }
            "-1" | "--once" => cfg.once = true,
            "-v" | "--verbose" => cfg.verbose = true,
            "--root" => cfg.root = PathBuf::from(value(&name)?),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    Ok(cfg)
}

/// One `hugepages-<size>kB` directory of one node.
struct Target {
    node: usize,
    size_kb: usize,
    file: PathBuf,
    cpus: Vec<usize>,
}

/// Finds the `zeroable_hugepages` files to watch.
fn discover(cfg: &Config) -> io::Result<Vec<Target>> {
    let mut targets = Vec::new();
    for entry in fs::read_dir(&cfg.root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(node) = name
            .strip_prefix("node")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if cfg.nodes.as_ref().is_some_and(|l| !l.contains(&node)) {
            continue;
        }
        let node_cpus = fs::read_to_string(entry.path().join("cpulist"))
            .ok()
            .and_then(|s| parse_list(s.trim()).ok())
            .unwrap_or_default();
        let Ok(sizes) = fs::read_dir(entry.path().join("hugepages")) else {
            continue;
        };
        for size in sizes {
            let size = size?;
            let sname = size.file_name().to_string_lossy().into_owned();
            let Some(size_kb) = sname
                .strip_prefix("hugepages-")
                .and_then(|s| s.strip_suffix("kB"))
                .and_then(|s| s.parse::<usize>().ok())
            else {
                continue;
            };
            if cfg.sizes_kb.as_ref().is_some_and(|l| !l.contains(&size_kb)) {
                continue;
            }
            let file = size.path().join("zeroable_hugepages");
            if !file.exists() {
                continue;
            }
            let cpus = cfg.cpus.clone().unwrap_or_else(|| node_cpus.clone());
            targets.push(Target {
                node,
                size_kb,
                file,
                cpus,
            });
        }
    }
    targets.sort_by_key(|t| (t.node, t.size_kb));
    Ok(targets)
}

fn last_os_error() -> io::Error {
    io::Error::last_os_error()
}

fn open(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(last_os_error());
    }
    // SAFETY: `fd` is a freshly opened descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the number in a sysfs file from offset 0; this also re-arms `poll()` on it.
fn read_count(fd: &OwnedFd) -> io::Result<u64> {
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is a valid writable buffer of the given length.
    let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(last_os_error());
    }
    std::str::from_utf8(&buf[..n as usize])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
}

/// Asks the kernel to zero up to `n` huge pages. `Ok(false)` if a signal stopped it first.
fn request_zeroing(fd: &OwnedFd, n: u64) -> io::Result<bool> {
    let text = format!("{n}\n");
    // SAFETY: `text` is a valid buffer of the given length.
    let r = unsafe { libc::pwrite(fd.as_raw_fd(), text.as_ptr().cast(), text.len(), 0) };
    if r < 0 {
        let err = last_os_error();
        if err.raw_os_error() == Some(libc::EINTR) {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(true)
}

/// State shared by all threads.
struct Shared {
    stop: AtomicBool,
    /// eventfd, readable once stopping.
    stop_fd: OwnedFd,
    writes: AtomicU64,
    requested_bytes: AtomicU64,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// Waits until a file watched by `epfd` reports an event (zeroable pages, or the stop eventfd),
/// a signal arrives, or `timeout` passes.
fn wait_event(epfd: &OwnedFd, timeout: Option<Duration>) -> io::Result<()> {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
    // SAFETY: `events` is a valid array of the given length.
    let r = unsafe { libc::epoll_wait(epfd.as_raw_fd(), events.as_mut_ptr(), 2, ms) };
    if r < 0 {
        let err = last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
    Ok(())
}

fn epoll_add(epfd: &OwnedFd, fd: &OwnedFd, events: u32) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events,
        u64: fd.as_raw_fd() as u64,
    };
    // SAFETY: Both descriptors are valid and `ev` is a valid event.
    if unsafe {
        libc::epoll_ctl(
            epfd.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut ev,
        )
    } < 0
    {
        return Err(last_os_error());
    }
    Ok(())
}

/// Pins the calling thread to `cpus` (ignored if empty) and sets its nice value.
fn set_thread_policy(cpus: &[usize], nice: i32) {
    if !cpus.is_empty() {
        // SAFETY: `cpu_set_t` is plain data, valid when zeroed.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &cpu in cpus {
            if cpu < libc::CPU_SETSIZE as usize {
                // SAFETY: `cpu` is within the set.
                unsafe { libc::CPU_SET(cpu, &mut set) };
            }
        }
        // SAFETY: `set` is a valid CPU set for the calling thread (pid 0).
        if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) } < 0 {
            eprintln!("hugetlb-prezerod: sched_setaffinity: {}", last_os_error());
        }
    }
    // SAFETY: Sets the nice value of the calling thread (its tid).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
}

/// One zeroing thread: waits for zeroable pages of `target` and zeroes them.
fn worker(target: &Target, cfg: &Config, nthreads: usize, shared: &Shared) -> io::Result<()> {
    set_thread_policy(&target.cpus, cfg.nice);

    let rfd = open(&target.file, libc::O_RDONLY)?;
    let wfd = open(&target.file, libc::O_WRONLY)?;
    // SAFETY: Plain syscall.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(last_os_error());
    }
    // SAFETY: `ep` is a new descriptor that nothing else owns.
    let epfd = unsafe { OwnedFd::from_raw_fd(ep) };
    epoll_add(&epfd, &rfd, (libc::EPOLLPRI | libc::EPOLLERR) as u32)?;
    epoll_add(&epfd, &shared.stop_fd, libc::EPOLLIN as u32)?;

    let page_bytes = target.size_kb as u64 * 1024;
    // Bytes per second this thread may zero.
    let rate = cfg.rate_mib.map(|r| (r << 20) / nthreads as u64);
    let started = Instant::now();
    let mut done_bytes: u64 = 0;

    while !shared.stopping() {
        let zeroable = read_count(&rfd)?;
        if zeroable == 0 {
            if cfg.once {
                break;
            }
            // Also wake up now and then in case a notification was rate limited away.
            wait_event(&epfd, Some(Duration::from_secs(5)))?;
            continue;
        }
        let mut n = zeroable.min(cfg.batch);
        if let Some(rate) = rate {
            // Never ask for more than one second's worth, and at least one page.
            n = n.min((rate / page_bytes).max(1));
        }
        let t0 = Instant::now();
        let completed = request_zeroing(&wfd, n)?;
        shared.writes.fetch_add(1, Ordering::Relaxed);
        shared
            .requested_bytes
            .fetch_add(n * page_bytes, Ordering::Relaxed);
        if cfg.verbose {
            eprintln!(
                "hugetlb-prezerod: node{} {}kB: asked for {n} of {zeroable} in {:?}{}",
                target.node,
                target.size_kb,
                t0.elapsed(),
                if completed { "" } else { " (interrupted)" }
            );
        }
        if let Some(rate) = rate {
            done_bytes += n * page_bytes;
            let due = Duration::from_secs_f64(done_bytes as f64 / rate as f64);
            let elapsed = started.elapsed();
            if due > elapsed {
                wait_event(&epfd, Some(due - elapsed))?;
            }
        }
    }
    Ok(())
}

extern "C" fn on_wakeup_signal(_: libc::c_int) {}

/// Signal used to interrupt the workers' writes when stopping.
const WAKEUP_SIGNAL: libc::c_int = libc::SIGUSR1;

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: `sigset_t` is plain data, initialized by `sigemptyset()`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

fn run(cfg: Config) -> Result<(), String> {
    let targets = discover(&cfg).map_err(|e| format!("{}: {e}", cfg.root.display()))?;
    if targets.is_empty() {
        return Err(format!(
            "no zeroable_hugepages file under {} (is the hugetlb_prezero module loaded?)",
            cfg.root.display()
        ));
    }

    // SIGTERM and SIGINT go to the main thread only (blocked everywhere, taken with
    // sigwait()); the wakeup signal has a handler without SA_RESTART so that it interrupts a
    // worker's write.
    let stop_signals = sigset(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP]);
    // SAFETY: Plain signal mask and handler setup before any thread exists.
    unsafe {
        if !cfg.once {
            libc::pthread_sigmask(libc::SIG_BLOCK, &stop_signals, std::ptr::null_mut());
        }
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_wakeup_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(WAKEUP_SIGNAL, &sa, std::ptr::null_mut());
    }

    // SAFETY: Plain syscall.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if efd < 0 {
        return Err(format!("eventfd: {}", last_os_error()));
    }
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        // SAFETY: `efd` is a new descriptor that nothing else owns.
        stop_fd: unsafe { OwnedFd::from_raw_fd(efd) },
        writes: AtomicU64::new(0),
        requested_bytes: AtomicU64::new(0),
    });
    let cfg = Arc::new(cfg);
    let targets: Vec<Arc<Target>> = targets.into_iter().map(Arc::new).collect();

    for t in &targets {
        eprintln!(
            "hugetlb-prezerod: watching node{} {}kB with {} thread(s){}",
            t.node,
            t.size_kb,
            cfg.threads,
            if t.cpus.is_empty() {
                String::new()
            } else {
                format!(" on CPUs {:?}", t.cpus)
            }
        );
    }

    let mut handles = Vec::new();
    for t in &targets {
        for i in 0..cfg.threads {
            let (t, cfg, shared) = (Arc::clone(t), Arc::clone(&cfg), Arc::clone(&shared));
            let h = thread::Builder::new()
                .name(format!("prezero-n{}-{}", t.node, i))
                .spawn(move || {
                    if let Err(e) = worker(&t, &cfg, cfg.threads, &shared) {
                        eprintln!("hugetlb-prezerod: node{} {}kB: {e}", t.node, t.size_kb);
                    }
                })
                .map_err(|e| format!("spawning a thread: {e}"))?;
            handles.push(h);
        }
    }

    if cfg.once {
        for h in handles {
            let _ = h.join();
        }
    } else {
        let mut sig: libc::c_int = 0;
        // SAFETY: `stop_signals` is blocked in every thread; sigwait() takes one of them.
        unsafe { libc::sigwait(&stop_signals, &mut sig) };
        eprintln!("hugetlb-prezerod: signal {sig}, stopping");
        shared.stop.store(true, Ordering::Release);
        let one: u64 = 1;
        // SAFETY: Writes 8 bytes to the eventfd.
        unsafe { libc::write(shared.stop_fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        // Interrupt writes in progress until every worker is gone.
        while handles.iter().any(|h| !h.is_finished()) {
            for h in handles.iter().filter(|h| !h.is_finished()) {
                use std::os::unix::thread::JoinHandleExt;
                // SAFETY: The thread has not been joined, so its pthread_t is valid.
                unsafe { libc::pthread_kill(h.as_pthread_t(), WAKEUP_SIGNAL) };
            }
            thread::sleep(Duration::from_millis(20));
        }
        for h in handles {
            let _ = h.join();
        }
    }

    eprintln!(
        "hugetlb-prezerod: {} writes, {} MiB requested",
        shared.writes.load(Ordering::Relaxed),
        shared.requested_bytes.load(Ordering::Relaxed) >> 20
    );
    Ok(())
}

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hugetlb-prezerod: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hugetlb-prezerod: {e}");
            ExitCode::FAILURE
        }
    }
}
