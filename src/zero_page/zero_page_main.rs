// SPDX-License-Identifier: GPL-2.0

//! Pre-zero free pages in the background.
//!
//! The module registers a free page reporting device whose handler clears every page of the free
//! blocks it is handed and marks them as known to be zero. Allocations that want zeroed memory
//! (`__GFP_ZERO`, anonymous and THP faults) then skip the clear (`prezero_alloc_hit` in
//! `/proc/vmstat`).
//!
//! Interface: `/sys/kernel/mm/zero_page/`, see `Documentation/admin-guide/mm/zero_page.rst`. The
//! device is only registered while `enabled` is 1. It yields to virtio-balloon, the other user of
//! free page reporting: while the balloon reports free pages to the host (which may zero them,
//! see `virtio_balloon.host_zeroes_pages`), the device stands by, and it reports again when the
//! balloon goes away.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{
    c_str,
    page::PAGE_SIZE,
    page_reporting::{self, Batch, FreePage, Handler, Params, Registration},
    prelude::*,
    str::CStr,
    sync::{new_mutex, Arc, Mutex},
    sysfs::{Dir, File},
    task::cond_resched,
    time::{msecs_to_jiffies, Ktime},
};

module! {
    type: ZeroPage,
    name: "zero_page",
    author: "The zero_page authors",
    description: "Pre-zero free pages through free page reporting",
    license: "GPL",
}

// The clearing routines of `src/zero_page/zero_page_shim.c`, prototypes in
// `include/zero_page_shim.h`. `FreePage` has the ABI of `struct page *`.
extern "C" {
    fn zp_clear_page(page: FreePage<'_>);
    fn zp_clear_page_nt(page: FreePage<'_>);
}

/// Default `batch_size`: 64 MiB per pass.
const DEFAULT_BATCH_SIZE: u64 = 64 << 20;
/// Largest `batch_size`: 1 TiB.
const MAX_BATCH_SIZE: u64 = 1 << 40;
/// Default `delay_millisecs`.
const DEFAULT_DELAY_MS: u64 = 1000;
/// Largest `delay_millisecs`: one hour.
const MAX_DELAY_MS: u64 = 3_600_000;
/// Default and smallest `mini_order`: the smallest order the reporting core reports.
const MIN_ORDER: u64 = 1;
/// Whether `nontemporal` can be 1: non-temporal stores are implemented on this architecture.
const HAVE_NT_CLEAR: bool = cfg!(CONFIG_X86_64);

// The knobs, written with the `Device` mutex held, read without it.
static ENABLED: AtomicBool = AtomicBool::new(false);
static BATCH_SIZE: AtomicU64 = AtomicU64::new(DEFAULT_BATCH_SIZE);
static DELAY_MS: AtomicU64 = AtomicU64::new(DEFAULT_DELAY_MS);
static MINI_ORDER: AtomicU64 = AtomicU64::new(MIN_ORDER);
static NONTEMPORAL: AtomicBool = AtomicBool::new(HAVE_NT_CLEAR);
static BACKGROUND: AtomicBool = AtomicBool::new(true);
/// Set on unload: `enabled` cannot be set any more.
static UNLOADING: AtomicBool = AtomicBool::new(false);

// Statistics.
static ZEROED_PAGES: AtomicU64 = AtomicU64::new(0);
static ZEROED_BYTES: AtomicU64 = AtomicU64::new(0);
static BATCHES: AtomicU64 = AtomicU64::new(0);
static ZERO_TIME_NS: AtomicU64 = AtomicU64::new(0);

/// The reporting device while `enabled` is 1, behind the mutex that serializes the writers of
/// the knobs (like `ksm_thread_mutex` in `mm/ksm.c`).
///
/// A flush runs on its own reference to the device, without the mutex: disabling unregisters the
/// device, which stops the flush.
type Device = Mutex<Option<Arc<Registration<Zeroer>>>>;

/// The device parameters the knobs translate to.
fn params() -> Params {
    let delay_ms = u32::try_from(DELAY_MS.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
    Params {
        order: MINI_ORDER.load(Ordering::Relaxed) as u32,
        // A delay of 0 selects the default (2 s) to the core: 0 ms means one jiffy.
        delay: msecs_to_jiffies(delay_ms).max(1),
        batch_size: BATCH_SIZE.load(Ordering::Relaxed),
        on_demand: !BACKGROUND.load(Ordering::Relaxed),
    }
}

/// The handler of the reporting device: zeroes every page it is given.
struct Zeroer;

impl Handler for Zeroer {
    const NAME: &'static CStr = c_str!("zero_page");
    const SKIP_ZEROED: bool = true;
    const YIELDS: bool = true;
    const REVOCABLE: bool = true;

    fn report(&self, batch: Batch<'_>) -> Result {
        let nontemporal = NONTEMPORAL.load(Ordering::Relaxed);
        let start = Ktime::ktime_get();
        let mut pages: u64 = 0;
        let mut result = Ok(());

        'batch: for block in batch {
            for page in block.pages_to_zero() {
                // The core may take the batch back while this task waits for CPU time (a
                // `zero_bytes` writer throttled by its cgroup): a page at a time.
                let Some(_access) = block.access() else {
                    result = Err(EAGAIN);
                    break 'batch;
                };
                // SAFETY: The page belongs to a block isolated for the device, which owns it
                // while `_access` lives: nobody else uses it. The shims clear it through
                // `kmap_local_page()` without KASAN checks, as free pages require, and without
                // sleeping.
                unsafe {
                    if nontemporal {
                        zp_clear_page_nt(page);
                    } else {
                        zp_clear_page(page);
                    }
                }
                pages += 1;
                drop(_access);
                cond_resched();
            }
            let Some(access) = block.access() else {
                result = Err(EAGAIN);
                break;
            };
            // SAFETY: The pages of the block not known to be zero were cleared above.
            unsafe { block.mark_zeroed(&access) };
        }

        let elapsed = (Ktime::ktime_get() - start).to_ns();
        ZEROED_PAGES.fetch_add(pages, Ordering::Relaxed);
        ZEROED_BYTES.fetch_add(pages * PAGE_SIZE as u64, Ordering::Relaxed);
        BATCHES.fetch_add(1, Ordering::Relaxed);
        ZERO_TIME_NS.fetch_add(u64::try_from(elapsed).unwrap_or(0), Ordering::Relaxed);
        result
    }
}

/// Registers the device.
fn enable(dev: &mut Option<Arc<Registration<Zeroer>>>) -> Result {
    if UNLOADING.load(Ordering::Relaxed) {
        return Err(ENODEV);
    }
    if page_reporting::debug_pagealloc_enabled() {
        pr_err!("refusing to enable: debug_pagealloc is on and watches free pages\n");
        return Err(EINVAL);
    }
    if page_reporting::page_poisoning_enabled() {
        pr_err!("refusing to enable: page poisoning checks the content of free pages\n");
        return Err(EINVAL);
    }
    if page_reporting::want_init_on_free() {
        pr_info!("init_on_free: freed pages are known to be zero, only the rest is cleared\n");
    }

    let params = params();
    let reg = Arc::pin_init(Registration::new(Zeroer, params), GFP_KERNEL).inspect_err(|e| {
        if *e == EBUSY {
            pr_err!("free page reporting is used by another device\n");
        }
    })?;
    *dev = Some(reg);
    ENABLED.store(true, Ordering::Relaxed);
    pr_info!(
        "enabled: mini_order {}, batch_size {} bytes, delay {} ms\n",
        params.order,
        params.batch_size,
        DELAY_MS.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Unregisters the device, stopping a running flush.
fn disable(dev: &mut Option<Arc<Registration<Zeroer>>>) {
    if let Some(reg) = dev.take() {
        reg.unregister();
        ENABLED.store(false, Ordering::Relaxed);
        pr_info!("disabled\n");
    }
}

/// Sets the knob `knob` to `value` and passes it on to the device, if registered, without
/// registering it again (pages already zeroed stay zeroed).
fn set_knob(dev: &Device, knob: &AtomicU64, value: u64) {
    let dev = dev.lock();
    knob.store(value, Ordering::Relaxed);
    if let Some(reg) = &*dev {
        reg.set_params(params());
    }
}

/// `enabled`: 1 registers the reporting device, 0 unregisters it.
struct Enabled;

impl File<Dir<Device>> for Enabled {
    const NAME: &'static CStr = c_str!("enabled");

    fn show(_: &Device) -> Result<u64> {
        Ok(ENABLED.load(Ordering::Relaxed).into())
    }

    fn store(dev: &Device, value: u64) -> Result {
        match value {
            0 => {
                disable(&mut dev.lock());
                Ok(())
            }
            1 => {
                let mut dev = dev.lock();
                if dev.is_some() {
                    return Ok(());
                }
                enable(&mut dev)
            }
            _ => Err(EINVAL),
        }
    }
}

/// Declares the file of the knob `$knob`, which takes values in `$range`.
macro_rules! knob_file {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $knob:ident, $range:expr) => {
        $(#[$doc])*
        struct $ty;

        impl File<Dir<Device>> for $ty {
            const NAME: &'static CStr = c_str!($name);

            fn show(_: &Device) -> Result<u64> {
                Ok($knob.load(Ordering::Relaxed))
            }

            fn store(dev: &Device, value: u64) -> Result {
                if !($range).contains(&value) {
                    return Err(EINVAL);
                }
                set_knob(dev, &$knob, value);
                Ok(())
            }
        }
    };
}

knob_file!(
    /// `batch_size`: bytes zeroed per pass before waiting `delay_millisecs` again.
    BatchSize,
    "batch_size",
    BATCH_SIZE,
    PAGE_SIZE as u64..=MAX_BATCH_SIZE
);
knob_file!(
    /// `delay_millisecs`: delay between free page notifications and a pass.
    DelayMillisecs,
    "delay_millisecs",
    DELAY_MS,
    0..=MAX_DELAY_MS
);
knob_file!(
    /// `mini_order`: smallest buddy order that is zeroed.
    MiniOrder,
    "mini_order",
    MINI_ORDER,
    MIN_ORDER..=page_reporting::MAX_ORDER.into()
);

/// `flush`: writing 1 zeroes all free blocks of at least `mini_order` now.
struct Flush;

impl File<Dir<Device>> for Flush {
    const NAME: &'static CStr = c_str!("flush");

    fn store(dev: &Device, value: u64) -> Result {
        if value != 1 {
            return Err(EINVAL);
        }
        // Flush without the mutex, on a reference of our own: disabling stops the flush.
        let reg = dev.lock().clone().ok_or(EINVAL)?;
        reg.flush()
    }
}

/// `zero_bytes`: writing N (or `max`) clears up to N bytes of free memory of the writer's node
/// now, in the writer's context: its cgroup pays for it.
struct ZeroBytes;

impl File<Dir<Device>> for ZeroBytes {
    const NAME: &'static CStr = c_str!("zero_bytes");
    const KEYWORDS: &'static [(&'static CStr, u64)] = &[(c_str!("max"), u64::MAX)];

    fn store(dev: &Device, value: u64) -> Result {
        if value == 0 {
            return Err(EINVAL);
        }
        // As for `flush`: without the mutex, on a reference of our own.
        let reg = dev.lock().clone().ok_or(EINVAL)?;
        reg.flush_local_node(if value == u64::MAX { 0 } else { value })?;
        Ok(())
    }
}

/// Parses the value written to a file that takes 0 or 1; 1 only where `one_allowed`.
fn parse_bool(value: u64, one_allowed: bool) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 if one_allowed => Ok(true),
        _ => Err(EINVAL),
    }
}

/// `background`: 1 (default) lets the reporting worker clear free memory in the background, 0
/// leaves all clearing to the writers of `flush` and `zero_bytes`.
struct Background;

impl File<Dir<Device>> for Background {
    const NAME: &'static CStr = c_str!("background");

    fn show(_: &Device) -> Result<u64> {
        Ok(BACKGROUND.load(Ordering::Relaxed).into())
    }

    fn store(dev: &Device, value: u64) -> Result {
        let background = parse_bool(value, true)?;
        let dev = dev.lock();
        BACKGROUND.store(background, Ordering::Relaxed);
        if let Some(reg) = &*dev {
            reg.set_params(params());
        }
        Ok(())
    }
}

/// `nontemporal`: 1 clears with non-temporal stores (default where available), 0 with
/// `clear_page()`. Meant for measurements.
struct NonTemporal;

impl File<Dir<Device>> for NonTemporal {
    const NAME: &'static CStr = c_str!("nontemporal");

    fn show(_: &Device) -> Result<u64> {
        Ok(NONTEMPORAL.load(Ordering::Relaxed).into())
    }

    fn store(dev: &Device, value: u64) -> Result {
        let nontemporal = parse_bool(value, HAVE_NT_CLEAR)?;
        let _dev = dev.lock();
        NONTEMPORAL.store(nontemporal, Ordering::Relaxed);
        Ok(())
    }
}

/// Declares a read-only statistics file showing `$value`, or the value of the counter `$counter`.
macro_rules! stat_file {
    ($ty:ident, $name:literal, counter $counter:ident) => {
        stat_file!($ty, $name, Ok($counter.load(Ordering::Relaxed)));
    };
    ($ty:ident, $name:literal, $value:expr) => {
        #[doc = concat!("`", $name, "`: statistics.")]
        struct $ty;

        impl File<Dir<Device>> for $ty {
            const NAME: &'static CStr = c_str!($name);

            fn show(_: &Device) -> Result<u64> {
                $value
            }
        }
    };
}

stat_file!(ZeroedPages, "zeroed_pages", counter ZEROED_PAGES);
stat_file!(ZeroedBytes, "zeroed_bytes", counter ZEROED_BYTES);
stat_file!(Batches, "batches", counter BATCHES);
stat_file!(ZeroTimeNs, "zero_time_ns", counter ZERO_TIME_NS);
stat_file!(AllocHits, "alloc_hits", page_reporting::nr_alloc_hits());

kernel::attribute_group! {
    static ZERO_PAGE_GROUP: Dir<Device> = [
        rw Enabled,
        rw BatchSize,
        rw DelayMillisecs,
        rw MiniOrder,
        wo Flush,
        wo ZeroBytes,
        rw Background,
        rw NonTemporal,
        ro ZeroedPages,
        ro ZeroedBytes,
        ro Batches,
        ro ZeroTimeNs,
        ro AllocHits,
    ];
}

/// The module: `/sys/kernel/mm/zero_page` and the device behind it.
struct ZeroPage {
    dir: Dir<Device>,
}

impl kernel::Module for ZeroPage {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let device = new_mutex!(None, "zero_page_device");
        Ok(Self {
            dir: Dir::new(c_str!("zero_page"), &ZERO_PAGE_GROUP, device)?,
        })
    }
}

impl Drop for ZeroPage {
    fn drop(&mut self) {
        // Stop a running flush before removing the files waits for its writer.
        let mut dev = self.dir.data().lock();
        UNLOADING.store(true, Ordering::Relaxed);
        disable(&mut dev);
    }
}
