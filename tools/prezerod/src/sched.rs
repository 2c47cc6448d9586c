// SPDX-License-Identifier: GPL-2.0

//! Scheduling policy of the calling thread, which `nix` does not cover.

use std::io;

/// Makes the calling thread `SCHED_IDLE`: it runs only when nothing else wants its CPU.
pub(crate) fn set_idle() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is an initialized `sched_param` that lives across the call, which only
    // reads it; pid 0 is the calling thread.
    let ret = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Gives the calling thread the nice value `nice` (`SCHED_OTHER`).
pub(crate) fn set_nice(nice: i32) -> io::Result<()> {
    let tid = nix::unistd::gettid().as_raw();
    // SAFETY: `setpriority()` takes plain integers and touches no memory of ours; on Linux a
    // thread id as `PRIO_PROCESS` selects that thread only.
    let ret = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
