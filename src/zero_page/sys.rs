// SPDX-License-Identifier: GPL-2.0

//! The only place of the module that touches raw bindings and the C shims.
//!
//! It offers safe wrappers for:
//!
//! - the page reporting device ([`Reporter`]) and the batches handed to its callback
//!   ([`ReportBatch`], [`ReportedBlock`]),
//! - the `/sys/kernel/mm/<name>` directory ([`KobjDir`]) and its static attributes
//!   ([`Attribute`], [`AttrList`], [`AttrGroup`]), from the shared `common/sysfs.rs`,
//! - a few global queries (debug_pagealloc, page poisoning, init_on_free, vm events).
//!
//! C header: [`include/linux/page_reporting.h`](srctree/include/linux/page_reporting.h).

use core::{marker::PhantomData, pin::Pin, ptr};

use kernel::{
    bindings,
    error::{from_result, to_result},
    ffi::{c_int, c_uint, c_ulong},
    prelude::*,
    time::Jiffies,
    types::Opaque,
};

pub(crate) use crate::sysfs::{AttrGroup, AttrList, Attribute, KobjDir, NumberFile};

// The shims of `src/zero_page_shim.c`, prototypes in `include/zero_page_shim.h`.
//
// `struct page` and `struct scatterlist` are not FFI-safe in the eyes of rustc (bindgen
// bitfields and unions), as in `rust/bindings/lib.rs`.
#[allow(improper_ctypes)]
extern "C" {
    fn zp_sg_page(sg: *mut bindings::scatterlist) -> *mut bindings::page;
    fn zp_nth_page(page: *mut bindings::page, n: c_ulong) -> *mut bindings::page;
    fn zp_clear_highpage_kasan_tagged(page: *mut bindings::page);
    fn zp_clear_highpage_nt(page: *mut bindings::page);
    fn zp_cond_resched();
    fn zp_debug_pagealloc_enabled() -> bool;
    fn zp_page_poisoning_enabled() -> bool;
    fn zp_want_init_on_free() -> bool;
}

/// Size of a base page in bytes.
pub(crate) const PAGE_SIZE: usize = bindings::PAGE_SIZE;

/// Largest buddy order (`MAX_PAGE_ORDER`).
pub(crate) const MAX_PAGE_ORDER: u32 = bindings::MAX_PAGE_ORDER;

/// Whether [`ClearMethod::NonTemporal`] really uses non-temporal stores on this architecture.
pub(crate) const HAVE_NT_CLEAR: bool = cfg!(CONFIG_X86_64);

/// Yields the CPU if a reschedule is pending (`cond_resched()`).
pub(crate) fn cond_resched() {
    // SAFETY: Only called from process context without spinlocks held (the reporting worker,
    // or a sysfs writer running `page_reporting_flush()`).
    unsafe { zp_cond_resched() }
}

/// Whether `debug_pagealloc` is active: free pages are then unmapped from the direct map.
pub(crate) fn debug_pagealloc_enabled() -> bool {
    // SAFETY: Reads a boolean set once at boot.
    unsafe { zp_debug_pagealloc_enabled() }
}

/// Whether page poisoning is active: free pages then hold a pattern checked on allocation.
pub(crate) fn page_poisoning_enabled() -> bool {
    // SAFETY: Reads a boolean set once at boot.
    unsafe { zp_page_poisoning_enabled() }
}

/// Whether `init_on_free` already zeroes every freed page.
pub(crate) fn want_init_on_free() -> bool {
    // SAFETY: Reads a static key set once at boot.
    unsafe { zp_want_init_on_free() }
}

/// Returns the system-wide `prezero_alloc_hit` vm event counter (`/proc/vmstat`).
pub(crate) fn prezero_alloc_hits() -> Result<u64> {
    let nr = bindings::vm_event_item_NR_VM_EVENT_ITEMS as usize;
    let mut events = KVec::<c_ulong>::from_elem(0, nr, GFP_KERNEL)?;
    // SAFETY: `events` holds `NR_VM_EVENT_ITEMS` elements, as `all_vm_events()` expects; it
    // may sleep (cpus_read_lock()), callers are sysfs `show` callbacks.
    unsafe { bindings::all_vm_events(events.as_mut_ptr()) };
    let hit = bindings::vm_event_item_PREZERO_ALLOC_HIT as usize;
    Ok(events.get(hit).copied().unwrap_or(0) as u64)
}

/// How a page is cleared.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClearMethod {
    /// `clear_page()`: `rep stosb`/`rep stosq` on x86, the data goes through the caches.
    ClearPage,
    /// `movnti` stores and one `sfence` per page: the caches are not polluted.
    NonTemporal,
}

/// Parameters of a page reporting device, as read by the core at the start of every pass.
#[derive(Clone, Copy)]
pub(crate) struct ReportParams {
    /// Smallest buddy order reported; 0 means `pageblock_order` to the core.
    pub(crate) order: u32,
    /// Delay between a request and a pass, in jiffies; never 0 (0 means 2 seconds to the core).
    pub(crate) delay: Jiffies,
    /// Bytes reported per pass before waiting `delay` again.
    pub(crate) batch_size: u64,
}

/// The handler of the page reporting callback of a [`Reporter`].
pub(crate) trait ReportHandler: Send + Sync + Sized {
    /// Handles one batch of isolated free blocks.
    ///
    /// Runs in the reporting worker (or in the caller of [`Reporter::flush`]): process context,
    /// may sleep, no zone lock held. Must not unregister the device. An error makes the core
    /// put the blocks back without marking them reported or zeroed.
    fn report(&self, batch: ReportBatch<'_>) -> Result;
}

/// A registered free page reporting device (`struct page_reporting_dev_info`).
///
/// # Invariants
///
/// - `inner` is initialized and was registered with `page_reporting_register()`; it stays
///   registered until [`Reporter::unregister`] or the drop, and is never registered again.
///   `inner.report` is [`Reporter::report_callback`] for `H`.
/// - `handler` is initialized before `inner` is registered and dropped after it is
///   unregistered.
#[pin_data(PinnedDrop)]
pub(crate) struct Reporter<H: ReportHandler> {
    handler: H,
    #[pin]
    inner: Opaque<bindings::page_reporting_dev_info>,
}

// SAFETY: The C object may be used from any thread: the core serializes registration with its
// own mutex and the fields the module writes after registration are plain words read with
// `READ_ONCE()`. `H` is `Send`.
unsafe impl<H: ReportHandler> Send for Reporter<H> {}

// SAFETY: All methods taking `&self` are safe to call concurrently (see `Send`), `H` is `Sync`.
unsafe impl<H: ReportHandler> Sync for Reporter<H> {}

impl<H: ReportHandler> Reporter<H> {
    /// Creates a device calling `handler` and registers it as the system's only page reporting
    /// device.
    ///
    /// Fails with `EBUSY` if another device (e.g. virtio-balloon) is registered.
    pub(crate) fn new(handler: H, params: ReportParams) -> impl PinInit<Self, Error> {
        let prdev = bindings::page_reporting_dev_info {
            report: Some(Self::report_callback),
            // The handler only clears pages: blocks already zero need no report.
            skip_zeroed: true,
            order: params.order,
            delay: params.delay,
            batch_size: params.batch_size as c_ulong,
            // SAFETY: The remaining fields (work item, state) are integers and pointers for
            // which zero is valid; `page_reporting_register()` initializes them.
            ..unsafe { core::mem::zeroed() }
        };

        try_pin_init!(Self {
            handler,
            // Registration is the last fallible step: once it succeeds, nothing can fail and
            // `PinnedDrop` unregisters.
            inner <- PinInit::<_, Error>::pin_chain(Opaque::new(prdev), |inner| {
                // SAFETY: `inner` is initialized, pinned, and lives until `PinnedDrop`
                // unregisters it; `handler` is already initialized, so the callback, which may
                // run as soon as this returns, finds it.
                to_result(unsafe { bindings::page_reporting_register(inner.get()) })
            }),
        })
    }

    /// Sets the smallest order reported; the core picks it up at its next pass.
    pub(crate) fn set_order(&self, order: u32) {
        // SAFETY: By the type invariant `inner` is valid; the core reads the aligned word with
        // `READ_ONCE()`.
        unsafe { ptr::write_volatile(ptr::addr_of_mut!((*self.inner.get()).order), order) };
    }

    /// Sets the delay between a request and a pass; the core picks it up at its next request.
    pub(crate) fn set_delay(&self, delay: Jiffies) {
        // SAFETY: As in `set_order()`.
        unsafe { ptr::write_volatile(ptr::addr_of_mut!((*self.inner.get()).delay), delay) };
    }

    /// Sets the bytes reported per pass; the core picks it up at its next pass.
    pub(crate) fn set_batch_size(&self, bytes: u64) {
        let bytes = bytes as c_ulong;
        // SAFETY: As in `set_order()`.
        unsafe { ptr::write_volatile(ptr::addr_of_mut!((*self.inner.get()).batch_size), bytes) };
    }

    /// Runs reporting passes now until no unreported free block of the device's order is left.
    ///
    /// Sleeps, and calls the handler in the caller's context. Fails with `EINTR` on a fatal
    /// signal.
    pub(crate) fn flush(&self) -> Result {
        // SAFETY: By the type invariant `inner` is registered. We are not inside the callback:
        // the handler never sees the `Reporter`.
        to_result(unsafe { bindings::page_reporting_flush(self.inner.get()) })
    }

    /// The `report` callback of `struct page_reporting_dev_info`.
    ///
    /// # Safety
    ///
    /// Must only be called by the page reporting core for a device created by [`Reporter::new`],
    /// with `sgl` pointing to `nents` scatterlist entries of isolated free blocks.
    unsafe extern "C" fn report_callback(
        prdev: *mut bindings::page_reporting_dev_info,
        sgl: *mut bindings::scatterlist,
        nents: c_uint,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `prdev` is the `inner` field of a registered `Reporter<H>` (only `new()`
            // installs this callback), which stays alive while the callback runs: its
            // `PinnedDrop` waits for the work item in `page_reporting_unregister()`.
            let this = unsafe { &*kernel::container_of!(prdev, Self, inner) };
            // SAFETY: The core hands us `nents` entries of isolated blocks, owned by the device
            // until the callback returns; the batch cannot outlive this call.
            let batch = unsafe { ReportBatch::new(sgl, nents) };
            this.handler.report(batch)?;
            Ok(0)
        })
    }
}

impl<H: ReportHandler> Reporter<H> {
    /// Unregisters the device now, even while other references to it exist (e.g. a
    /// [`Reporter::flush`] in progress, which then stops at its next report with `ENODEV`).
    ///
    /// No callback runs once this returns. Dropping the device later unregisters nothing.
    pub(crate) fn unregister(&self) {
        // SAFETY: By the type invariant `inner` was registered and is still valid.
        // `page_reporting_unregister()` does nothing for a device that is not the registered
        // one; otherwise it stops notifications, stops a running flush at its next report,
        // waits for RCU readers and cancels or waits for the work item.
        unsafe { bindings::page_reporting_unregister(self.inner.get()) };
    }
}

#[pinned_drop]
impl<H: ReportHandler> PinnedDrop for Reporter<H> {
    fn drop(self: Pin<&mut Self>) {
        // No callback runs or will run once this returns; `handler` is dropped afterwards.
        self.unregister();
    }
}

/// One batch of isolated free blocks handed to [`ReportHandler::report`].
///
/// # Invariants
///
/// `sg` is null or points to the next of `left` valid scatterlist entries describing isolated
/// free blocks, each owned by the reporting device for the lifetime `'a`.
pub(crate) struct ReportBatch<'a> {
    sg: *mut bindings::scatterlist,
    left: u32,
    _p: PhantomData<&'a ()>,
}

impl ReportBatch<'_> {
    /// # Safety
    ///
    /// `sgl` must point to `nents` valid scatterlist entries of isolated free blocks that stay
    /// owned by the caller while the batch and its blocks are alive.
    unsafe fn new(sgl: *mut bindings::scatterlist, nents: c_uint) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            sg: sgl,
            left: nents,
            _p: PhantomData,
        }
    }
}

impl<'a> Iterator for ReportBatch<'a> {
    type Item = ReportedBlock<'a>;

    fn next(&mut self) -> Option<ReportedBlock<'a>> {
        if self.left == 0 || self.sg.is_null() {
            return None;
        }
        let sg = self.sg;
        self.left -= 1;
        self.sg = if self.left > 0 {
            // SAFETY: By the type invariant `sg` is a valid entry, and another entry of the
            // batch follows it.
            unsafe { bindings::sg_next(sg) }
        } else {
            ptr::null_mut()
        };
        // SAFETY: By the type invariant `sg` is a valid entry set with `sg_set_page()`.
        let (page, length) = unsafe { (zp_sg_page(sg), (*sg).length) };
        // INVARIANT: The core reports whole buddy blocks: `length` is `PAGE_SIZE << order`.
        Some(ReportedBlock {
            page,
            nr_pages: length as usize / PAGE_SIZE,
            cleared: 0,
            _p: PhantomData,
        })
    }
}

/// One isolated free buddy block of a [`ReportBatch`].
///
/// # Invariants
///
/// `page` is the head of an isolated free block of `nr_pages` base pages, not in any free
/// list and not mapped by anyone but the kernel's direct map, owned by the reporting device
/// for `'a`. Base pages `0..cleared` are zero: zeroed by the device, or known to be zero.
pub(crate) struct ReportedBlock<'a> {
    page: *mut bindings::page,
    nr_pages: usize,
    cleared: usize,
    _p: PhantomData<&'a ()>,
}

impl ReportedBlock<'_> {
    /// Zeroes the next base page of the block that is not known to be zero. Returns `false`
    /// once every page is zero.
    pub(crate) fn zero_next(&mut self, method: ClearMethod) -> bool {
        while self.cleared < self.nr_pages {
            // SAFETY: By the type invariant `page` heads a block that the device owns inside its
            // `report` callback, of which `cleared` is a page index. The device is registered
            // with `skip_zeroed` and writes nothing but zeroes.
            let run =
                unsafe { bindings::page_reporting_zeroed_run(self.page, self.cleared as c_ulong) };
            if run == 0 {
                break;
            }
            // INVARIANT: The core knows the `run` pages from `cleared` on to be zero.
            self.cleared = self.cleared.saturating_add(run as usize).min(self.nr_pages);
        }
        if self.cleared >= self.nr_pages {
            return false;
        }
        // SAFETY: `cleared < nr_pages`, so `nth_page()` stays inside the block.
        let page = unsafe { zp_nth_page(self.page, self.cleared as c_ulong) };
        // SAFETY: By the type invariant nobody else uses the pages of the block while the device
        // owns them. The shims map the page with `kmap_local_page()` (the core maps free pages
        // for `->report()` under debug_pagealloc) and clear it without KASAN checks, as the
        // core requires for free pages.
        unsafe {
            match method {
                ClearMethod::ClearPage => zp_clear_highpage_kasan_tagged(page),
                ClearMethod::NonTemporal => zp_clear_highpage_nt(page),
            }
        }
        // INVARIANT: The page at index `cleared` is now zero.
        self.cleared += 1;
        true
    }

    /// Tells the core that every byte of the block is zero, if that is true.
    ///
    /// Returns whether the block was marked: it is only marked when every base page has been
    /// zeroed by [`ReportedBlock::zero_next`]. The core keeps the mark only if the handler
    /// returns `Ok`.
    pub(crate) fn mark_zeroed(self) -> bool {
        if self.cleared != self.nr_pages || self.nr_pages == 0 {
            return false;
        }
        // SAFETY: By the type invariant `page` is the head of a block owned by the device
        // inside its `report` callback, and every byte of it is zero.
        unsafe { bindings::page_reporting_mark_zeroed(self.page) };
        true
    }
}
