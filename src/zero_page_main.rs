// SPDX-License-Identifier: GPL-2.0

//! Pre-zero free pages in the background.
//!
//! The module registers a free page reporting device (`mm/page_reporting.c`) whose callback
//! clears every page of the free blocks it is handed and marks them as known to be zero
//! (`page_reporting_mark_zeroed()`). Allocations that want zeroed memory (`__GFP_ZERO`,
//! anonymous and THP faults) then skip the clear (`prezero_alloc_hit` in `/proc/vmstat`).
//!
//! Interface: `/sys/kernel/mm/zero_page/`, see
//! `Documentation/admin-guide/mm/zero_page.rst`. The device is only registered while
//! `enabled` is 1, so that virtio-balloon (the other user of free page reporting, which allows
//! one device at a time) can have it otherwise.

use core::{
    pin::Pin,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering},
};

use kernel::{
    c_str,
    error::code::*,
    new_mutex,
    prelude::*,
    str::CStr,
    sync::{Arc, Mutex},
    time::{msecs_to_jiffies, Jiffies, Ktime},
};

#[path = "zero_page/sys.rs"]
mod sys;

#[path = "common/sysfs.rs"]
mod sysfs;

use sys::{
    AttrGroup, AttrList, Attribute, ClearMethod, KobjDir, NumberFile, ReportBatch, ReportHandler,
    ReportParams, Reporter,
};

module! {
    type: ZeroPageModule,
    name: "zero_page",
    author: "The zero_page authors",
    description: "Pre-zero free pages through free page reporting",
    license: "GPL",
}

/// Default for `batch_size`: 64 MiB per pass.
const DEFAULT_BATCH_SIZE: u64 = 64 << 20;
/// Largest `batch_size`: 1 TiB.
const MAX_BATCH_SIZE: u64 = 1 << 40;
/// Default for `delay_millisecs`.
const DEFAULT_DELAY_MS: u32 = 1000;
/// Largest `delay_millisecs`: one hour.
const MAX_DELAY_MS: u64 = 3_600_000;
/// Default for `mini_order`: as small as the reporting core allows (it cannot report single
/// pages), as in the original RFC.
const DEFAULT_MINI_ORDER: u32 = 1;

/// The tunables of the reporting device.
#[derive(Clone, Copy)]
struct Knobs {
    batch_size: u64,
    delay_ms: u32,
    mini_order: u32,
}

impl Knobs {
    /// The device parameters the knobs translate to.
    fn params(&self) -> ReportParams {
        ReportParams {
            order: self.mini_order,
            delay: delay_jiffies(self.delay_ms),
            batch_size: self.batch_size,
        }
    }
}

/// A copy of the settings that `show` callbacks read without waiting for [`State::inner`],
/// which a flush may hold for a long time. Only written with [`State::inner`] held.
struct Mirror {
    enabled: AtomicBool,
    batch_size: AtomicU64,
    delay_ms: AtomicU32,
    mini_order: AtomicU32,
}

impl Mirror {
    fn new(knobs: &Knobs) -> Self {
        Self {
            enabled: AtomicBool::new(false),
            batch_size: AtomicU64::new(knobs.batch_size),
            delay_ms: AtomicU32::new(knobs.delay_ms),
            mini_order: AtomicU32::new(knobs.mini_order),
        }
    }

    fn publish(&self, inner: &Inner) {
        self.enabled.store(inner.dev.is_some(), Ordering::Relaxed);
        self.batch_size
            .store(inner.knobs.batch_size, Ordering::Relaxed);
        self.delay_ms.store(inner.knobs.delay_ms, Ordering::Relaxed);
        self.mini_order
            .store(inner.knobs.mini_order, Ordering::Relaxed);
    }
}

/// Converts `delay_millisecs` to the device's delay; 0 ms means "as soon as possible", i.e. one
/// jiffy, because a delay of 0 means "default" (2 s) to the core.
fn delay_jiffies(ms: u32) -> Jiffies {
    msecs_to_jiffies(ms).max(1)
}

/// State shared with the reporting callback: statistics and the clearing method.
struct Shared {
    pages_zeroed: AtomicU64,
    bytes_zeroed: AtomicU64,
    batches: AtomicU64,
    zero_time_ns: AtomicU64,
    nontemporal: AtomicBool,
}

impl Shared {
    fn method(&self) -> ClearMethod {
        if self.nontemporal.load(Ordering::Relaxed) {
            ClearMethod::NonTemporal
        } else {
            ClearMethod::ClearPage
        }
    }
}

/// The handler of the reporting device: zeroes every page it is given.
struct Zeroer {
    shared: Arc<Shared>,
}

impl ReportHandler for Zeroer {
    fn report(&self, batch: ReportBatch<'_>) -> Result {
        let method = self.shared.method();
        let start = Ktime::ktime_get();
        let mut pages: u64 = 0;

        for mut block in batch {
            while block.zero_next(method) {
                pages += 1;
                sys::cond_resched();
            }
            block.mark_zeroed();
        }

        let elapsed = (Ktime::ktime_get() - start).to_ns();
        let shared = &self.shared;
        shared.pages_zeroed.fetch_add(pages, Ordering::Relaxed);
        shared
            .bytes_zeroed
            .fetch_add(pages * sys::PAGE_SIZE as u64, Ordering::Relaxed);
        shared.batches.fetch_add(1, Ordering::Relaxed);
        shared
            .zero_time_ns
            .fetch_add(u64::try_from(elapsed).unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }
}

/// The part of the state protected by [`State::inner`].
struct Inner {
    knobs: Knobs,
    /// The registered device, present exactly while `enabled` is 1. A flush holds another
    /// reference without the mutex, so that disabling does not wait for the whole flush.
    dev: Option<Arc<Reporter<Zeroer>>>,
}

/// The module state behind the sysfs files.
#[pin_data]
struct State {
    shared: Arc<Shared>,
    mirror: Mirror,
    /// Serializes the sysfs writers (like `ksm_thread_mutex` in `mm/ksm.c`); held across
    /// registration, unregistration and flushes, never taken by the reporting callback.
    #[pin]
    inner: Mutex<Inner>,
}

impl State {
    fn new(shared: Arc<Shared>) -> impl PinInit<Self> {
        let knobs = Knobs {
            batch_size: DEFAULT_BATCH_SIZE,
            delay_ms: DEFAULT_DELAY_MS,
            mini_order: DEFAULT_MINI_ORDER,
        };
        pin_init!(Self {
            shared,
            mirror: Mirror::new(&knobs),
            inner <- new_mutex!(Inner { knobs, dev: None }, "zero_page_state"),
        })
    }

    fn set_enabled(&self, enable: bool) -> Result {
        let mut inner = self.inner.lock();
        if enable == inner.dev.is_some() {
            return Ok(());
        }
        if !enable {
            // Unregisters the device; waits for a running batch to finish and stops a flush.
            if let Some(dev) = inner.dev.take() {
                dev.unregister();
            }
            self.mirror.publish(&inner);
            pr_info!("disabled\n");
            return Ok(());
        }

        if sys::debug_pagealloc_enabled() {
            pr_err!("refusing to enable: debug_pagealloc is on and watches free pages\n");
            return Err(EINVAL);
        }
        if sys::page_poisoning_enabled() {
            pr_err!("refusing to enable: page poisoning checks the content of free pages\n");
            return Err(EINVAL);
        }
        if sys::want_init_on_free() {
            pr_warn!("init_on_free already zeroes freed pages; pre-zeroing only costs CPU\n");
        }

        let handler = Zeroer {
            shared: self.shared.clone(),
        };
        let knobs = inner.knobs;
        match Arc::pin_init(Reporter::new(handler, knobs.params()), GFP_KERNEL) {
            Ok(dev) => {
                inner.dev = Some(dev);
                self.mirror.publish(&inner);
                pr_info!(
                    "enabled: mini_order {}, batch_size {} bytes, delay {} ms\n",
                    knobs.mini_order,
                    knobs.batch_size,
                    knobs.delay_ms
                );
                Ok(())
            }
            Err(e) if e == EBUSY => {
                pr_err!("free page reporting is used by another device (virtio-balloon?)\n");
                Err(EBUSY)
            }
            Err(e) => Err(e),
        }
    }

    /// Changes the knobs with `f` and applies them to the registered device, if any, without
    /// re-registering it (pages already zeroed stay zeroed).
    fn update(&self, f: impl FnOnce(&mut Knobs)) {
        let mut inner = self.inner.lock();
        f(&mut inner.knobs);
        self.mirror.publish(&inner);
        let params = inner.knobs.params();
        if let Some(dev) = &inner.dev {
            dev.set_order(params.order);
            dev.set_delay(params.delay);
            dev.set_batch_size(params.batch_size);
        }
    }

    /// Zeroes all free blocks now. Not under the mutex: `enabled=0` stops it.
    fn flush(&self) -> Result {
        let dev = self.inner.lock().dev.clone().ok_or(EINVAL)?;
        dev.flush()
    }
}

/// The state seen by the sysfs callbacks, null while the sysfs directory does not exist.
static STATE: AtomicPtr<State> = AtomicPtr::new(ptr::null_mut());

/// Runs `f` on the published module state.
fn with_state<R>(f: impl FnOnce(&State) -> Result<R>) -> Result<R> {
    let state = STATE.load(Ordering::Acquire);
    if state.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: A non-null `STATE` points to the module's pinned `State`, which `Published`
    // keeps alive: it is published before the sysfs directory is created and retracted after
    // `KobjDir` removed the directory and waited for running callbacks, which are the only
    // callers.
    f(unsafe { &*state })
}

/// Publishes the state to the sysfs callbacks for its lifetime.
struct Published;

impl Published {
    /// # Safety
    ///
    /// `state` must stay valid until the returned guard is dropped.
    unsafe fn new(state: Pin<&State>) -> Self {
        STATE.store(ptr::from_ref(state.get_ref()).cast_mut(), Ordering::Release);
        Published
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        STATE.store(ptr::null_mut(), Ordering::Release);
    }
}

/// `enabled`: 1 registers the reporting device, 0 unregisters it.
struct Enabled;

impl NumberFile for Enabled {
    const NAME: &'static CStr = c_str!("enabled");

    fn show() -> Result<u64> {
        with_state(|s| Ok(u64::from(s.mirror.enabled.load(Ordering::Relaxed))))
    }

    fn store(value: u64) -> Result {
        match value {
            0 | 1 => with_state(|s| s.set_enabled(value == 1)),
            _ => Err(EINVAL),
        }
    }
}

/// `batch_size`: bytes zeroed per pass before waiting `delay_millisecs` again.
struct BatchSize;

impl NumberFile for BatchSize {
    const NAME: &'static CStr = c_str!("batch_size");

    fn show() -> Result<u64> {
        with_state(|s| Ok(s.mirror.batch_size.load(Ordering::Relaxed)))
    }

    fn store(value: u64) -> Result {
        if !(sys::PAGE_SIZE as u64..=MAX_BATCH_SIZE).contains(&value) {
            return Err(EINVAL);
        }
        with_state(|s| {
            s.update(|k| k.batch_size = value);
            Ok(())
        })
    }
}

/// `delay_millisecs`: delay between free page notifications and a pass.
struct DelayMillisecs;

impl NumberFile for DelayMillisecs {
    const NAME: &'static CStr = c_str!("delay_millisecs");

    fn show() -> Result<u64> {
        with_state(|s| Ok(u64::from(s.mirror.delay_ms.load(Ordering::Relaxed))))
    }

    fn store(value: u64) -> Result {
        if value > MAX_DELAY_MS {
            return Err(EINVAL);
        }
        let ms = u32::try_from(value).map_err(|_| EINVAL)?;
        with_state(|s| {
            s.update(|k| k.delay_ms = ms);
            Ok(())
        })
    }
}

/// `mini_order`: smallest buddy order that is zeroed.
struct MiniOrder;

impl NumberFile for MiniOrder {
    const NAME: &'static CStr = c_str!("mini_order");

    fn show() -> Result<u64> {
        with_state(|s| Ok(u64::from(s.mirror.mini_order.load(Ordering::Relaxed))))
    }

    fn store(value: u64) -> Result {
        // The reporting core cannot report single pages: order 0 is rejected.
        if !(1..=u64::from(sys::MAX_PAGE_ORDER)).contains(&value) {
            return Err(EINVAL);
        }
        let order = u32::try_from(value).map_err(|_| EINVAL)?;
        with_state(|s| {
            s.update(|k| k.mini_order = order);
            Ok(())
        })
    }
}

/// `flush`: writing 1 zeroes all free blocks of at least `mini_order` now.
struct Flush;

impl NumberFile for Flush {
    const NAME: &'static CStr = c_str!("flush");

    fn store(value: u64) -> Result {
        if value != 1 {
            return Err(EINVAL);
        }
        with_state(|s| s.flush())
    }
}

/// `nontemporal`: 1 clears with non-temporal stores (default where available), 0 with
/// `clear_page()`. Meant for measurements.
struct NonTemporal;

impl NumberFile for NonTemporal {
    const NAME: &'static CStr = c_str!("nontemporal");

    fn show() -> Result<u64> {
        with_state(|s| Ok(u64::from(s.shared.nontemporal.load(Ordering::Relaxed))))
    }

    fn store(value: u64) -> Result {
        let nt = match value {
            0 => false,
            1 if sys::HAVE_NT_CLEAR => true,
            _ => return Err(EINVAL),
        };
        with_state(|s| {
            // Taken so that the change is ordered with the other writers.
            let _guard = s.inner.lock();
            s.shared.nontemporal.store(nt, Ordering::Relaxed);
            Ok(())
        })
    }
}

/// Declares a read-only statistics file showing an expression of the shared state.
macro_rules! stat_file {
    ($ty:ident, $name:literal, $field:ident) => {
        #[doc = concat!("`", $name, "`: statistics counter.")]
        struct $ty;

        impl NumberFile for $ty {
            const NAME: &'static CStr = c_str!($name);

            fn show() -> Result<u64> {
                with_state(|s| Ok(s.shared.$field.load(Ordering::Relaxed)))
            }
        }
    };
}

stat_file!(PagesZeroed, "pages_zeroed", pages_zeroed);
stat_file!(BytesZeroed, "bytes_zeroed", bytes_zeroed);
stat_file!(Batches, "batches", batches);
stat_file!(ZeroTimeNs, "zero_time_ns", zero_time_ns);

/// `alloc_hits`: the system-wide `prezero_alloc_hit` counter of `/proc/vmstat`.
struct AllocHits;

impl NumberFile for AllocHits {
    const NAME: &'static CStr = c_str!("alloc_hits");

    fn show() -> Result<u64> {
        sys::prezero_alloc_hits()
    }
}

static ENABLED_ATTR: Attribute = Attribute::rw::<Enabled>();
static BATCH_SIZE_ATTR: Attribute = Attribute::rw::<BatchSize>();
static DELAY_MILLISECS_ATTR: Attribute = Attribute::rw::<DelayMillisecs>();
static MINI_ORDER_ATTR: Attribute = Attribute::rw::<MiniOrder>();
static FLUSH_ATTR: Attribute = Attribute::wo::<Flush>();
static NONTEMPORAL_ATTR: Attribute = Attribute::rw::<NonTemporal>();
static PAGES_ZEROED_ATTR: Attribute = Attribute::ro::<PagesZeroed>();
static BYTES_ZEROED_ATTR: Attribute = Attribute::ro::<BytesZeroed>();
static BATCHES_ATTR: Attribute = Attribute::ro::<Batches>();
static ZERO_TIME_NS_ATTR: Attribute = Attribute::ro::<ZeroTimeNs>();
static ALLOC_HITS_ATTR: Attribute = Attribute::ro::<AllocHits>();

static ZERO_PAGE_ATTRS: AttrList<12> = AttrList::new([
    Some(&ENABLED_ATTR),
    Some(&BATCH_SIZE_ATTR),
    Some(&DELAY_MILLISECS_ATTR),
    Some(&MINI_ORDER_ATTR),
    Some(&FLUSH_ATTR),
    Some(&NONTEMPORAL_ATTR),
    Some(&PAGES_ZEROED_ATTR),
    Some(&BYTES_ZEROED_ATTR),
    Some(&BATCHES_ATTR),
    Some(&ZERO_TIME_NS_ATTR),
    Some(&ALLOC_HITS_ATTR),
    None,
]);

static ZERO_PAGE_GROUP: AttrGroup = AttrGroup::new(&ZERO_PAGE_ATTRS);

/// The module: `/sys/kernel/mm/zero_page` and the state behind it.
///
/// Fields drop in declaration order: the directory goes first (waiting for running sysfs
/// callbacks), then the state is retracted from the callbacks, then the state is freed, which
/// unregisters the device (waiting for a running batch).
struct ZeroPageModule {
    _dir: KobjDir,
    _published: Published,
    _state: Pin<KBox<State>>,
}

impl kernel::Module for ZeroPageModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let shared = Arc::new(
            Shared {
                pages_zeroed: AtomicU64::new(0),
                bytes_zeroed: AtomicU64::new(0),
                batches: AtomicU64::new(0),
                zero_time_ns: AtomicU64::new(0),
                nontemporal: AtomicBool::new(sys::HAVE_NT_CLEAR),
            },
            GFP_KERNEL,
        )?;
        let state = KBox::pin_init(State::new(shared), GFP_KERNEL)?;
        // SAFETY: `published` is dropped before `state`, here on error and in `ZeroPageModule`
        // by field order.
        let published = unsafe { Published::new(state.as_ref()) };
        let dir = KobjDir::new(c_str!("zero_page"), &ZERO_PAGE_GROUP)?;

        Ok(ZeroPageModule {
            _dir: dir,
            _published: published,
            _state: state,
        })
    }
}
