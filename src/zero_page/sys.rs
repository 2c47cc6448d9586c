// SPDX-License-Identifier: GPL-2.0

//! The only place of the module that touches raw bindings and the C shims.
//!
//! It offers safe wrappers for:
//!
//! - the page reporting device ([`Reporter`]) and the batches handed to its callback
//!   ([`ReportBatch`], [`ReportedBlock`]),
//! - the `/sys/kernel/mm/<name>` directory ([`KobjDir`]) and its static attributes
//!   ([`Attribute`], [`AttrList`], [`AttrGroup`]),
//! - a few global queries (debug_pagealloc, page poisoning, init_on_free, vm events).
//!
//! C headers: [`include/linux/page_reporting.h`](srctree/include/linux/page_reporting.h),
//! [`include/linux/kobject.h`](srctree/include/linux/kobject.h),
//! [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h).

use core::{marker::PhantomData, pin::Pin, ptr};

use kernel::{
    bindings, c_str,
    error::{code::*, from_result, to_result},
    ffi::{c_char, c_int, c_uint, c_ulong, c_ulonglong},
    prelude::*,
    str::CStr,
    time::Jiffies,
    types::Opaque,
};

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
/// - `inner` is initialized and registered with `page_reporting_register()` for the whole
///   lifetime of the object; `inner.report` is [`Reporter::report_callback`] for `H`.
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

#[pinned_drop]
impl<H: ReportHandler> PinnedDrop for Reporter<H> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant `inner` is registered. `page_reporting_unregister()`
        // stops notifications, waits for RCU readers and cancels or waits for the work item,
        // so no callback runs or will run once it returns. `handler` is dropped afterwards.
        unsafe { bindings::page_reporting_unregister(self.inner.get()) };
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
/// for `'a`. Base pages `0..cleared` have been completely zeroed.
pub(crate) struct ReportedBlock<'a> {
    page: *mut bindings::page,
    nr_pages: usize,
    cleared: usize,
    _p: PhantomData<&'a ()>,
}

impl ReportedBlock<'_> {
    /// Zeroes the next base page of the block. Returns `false` once every page is zeroed.
    pub(crate) fn zero_next(&mut self, method: ClearMethod) -> bool {
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

/// A directory under `/sys/kernel/mm` holding one static attribute group.
///
/// # Invariants
///
/// `kobj` is a valid kobject created by `kobject_create_and_add()` whose directory holds the
/// files of `group`; the object owns one reference.
pub(crate) struct KobjDir {
    kobj: *mut bindings::kobject,
}

// SAFETY: kobjects are reference counted and usable from any thread.
unsafe impl Send for KobjDir {}

// SAFETY: `KobjDir` has no `&self` methods.
unsafe impl Sync for KobjDir {}

impl KobjDir {
    /// Creates `/sys/kernel/mm/<name>` with the files of `group`.
    ///
    /// The `show`/`store` callbacks of `group` may run as soon as this returns and until the
    /// object is dropped.
    pub(crate) fn new(name: &'static CStr, group: &'static AttrGroup) -> Result<Self> {
        // SAFETY: `mm_kobj` is set up by `mm_sysfs_init()` at boot, long before modules load,
        // and never changes.
        let parent = unsafe { bindings::mm_kobj };
        // SAFETY: `name` is a NUL-terminated string and `parent` a valid kobject.
        let kobj = unsafe { bindings::kobject_create_and_add(name.as_char_ptr(), parent) };
        if kobj.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `kobj` is valid and `group` is a static, NULL-terminated attribute group.
        let ret = unsafe { bindings::sysfs_create_group(kobj, group.0.get()) };
        if ret != 0 {
            // SAFETY: We own the only reference to `kobj`.
            unsafe { bindings::kobject_put(kobj) };
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: `kobj` is valid and holds the files of `group`.
        Ok(Self { kobj })
    }
}

impl Drop for KobjDir {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `kobj` is valid. `kobject_del()` removes the directory
        // and its files now, waiting for running `show`/`store` callbacks, even if the final
        // put is delayed (CONFIG_DEBUG_KOBJECT_RELEASE). We then drop our reference.
        unsafe {
            bindings::kobject_del(self.kobj);
            bindings::kobject_put(self.kobj);
        }
    }
}

/// A sysfs file whose content is an unsigned decimal number.
///
/// The callbacks run in the context of the process reading or writing the file and may sleep.
pub(crate) trait NumberFile {
    /// File name.
    const NAME: &'static CStr;

    /// Returns the value shown when the file is read.
    fn show() -> Result<u64> {
        Err(EINVAL)
    }

    /// Handles the value written to the file.
    ///
    /// `value` was parsed like `kstrtoull(buf, 10, ...)`: decimal digits, an optional leading
    /// `+`, an optional single trailing newline, no overflow. Anything else never reaches it and
    /// fails with `EINVAL`.
    fn store(_value: u64) -> Result {
        Err(EINVAL)
    }
}

/// A static `struct kobj_attribute` for a [`NumberFile`].
#[repr(transparent)]
pub(crate) struct Attribute(Opaque<bindings::kobj_attribute>);

// SAFETY: The attribute is only read by the sysfs core after initialization (and lockdep uses
// the address of its embedded key); it is never mutated from Rust.
unsafe impl Sync for Attribute {}

impl Attribute {
    const fn build<T: NumberFile>(mode: u16, show: bool, store: bool) -> Self {
        Self(Opaque::new(bindings::kobj_attribute {
            attr: bindings::attribute {
                name: T::NAME.as_char_ptr(),
                mode,
                // SAFETY: The lockdep fields (if any) are a bitfield and a key, valid as zero.
                ..unsafe { core::mem::zeroed() }
            },
            show: if show { Some(show_callback::<T>) } else { None },
            store: if store {
                Some(store_callback::<T>)
            } else {
                None
            },
        }))
    }

    /// A file readable by everyone and writable by root (0644).
    pub(crate) const fn rw<T: NumberFile>() -> Self {
        Self::build::<T>(0o644, true, true)
    }

    /// A read-only file (0444).
    pub(crate) const fn ro<T: NumberFile>() -> Self {
        Self::build::<T>(0o444, true, false)
    }

    /// A write-only file (0200).
    pub(crate) const fn wo<T: NumberFile>() -> Self {
        Self::build::<T>(0o200, false, true)
    }

    const fn as_raw(&'static self) -> *mut bindings::attribute {
        // `attr` is the first field of the `#[repr(C)]` `struct kobj_attribute`.
        self.0.get().cast::<bindings::attribute>()
    }
}

/// A NULL-terminated array of attribute pointers, for an [`AttrGroup`].
pub(crate) struct AttrList<const N: usize>([*mut bindings::attribute; N]);

// SAFETY: The array is never written after its constant initialization.
unsafe impl<const N: usize> Sync for AttrList<N> {}

impl<const N: usize> AttrList<N> {
    /// Builds the list; the last element must be `None`, the others `Some`.
    pub(crate) const fn new(attrs: [Option<&'static Attribute>; N]) -> Self {
        let mut raw = [ptr::null_mut(); N];
        let mut i = 0;
        while i < N {
            if let Some(attr) = attrs[i] {
                raw[i] = attr.as_raw();
            } else {
                assert!(i == N - 1, "only the last attribute may be None");
            }
            i += 1;
        }
        assert!(
            N > 0 && attrs[N - 1].is_none(),
            "the list must end with None"
        );
        Self(raw)
    }
}

/// A static, unnamed `struct attribute_group` (its files go straight into the directory).
#[repr(transparent)]
pub(crate) struct AttrGroup(Opaque<bindings::attribute_group>);

// SAFETY: The group is only read by the sysfs core.
unsafe impl Sync for AttrGroup {}

impl AttrGroup {
    /// Builds a group from a static attribute list.
    pub(crate) const fn new<const N: usize>(list: &'static AttrList<N>) -> Self {
        Self(Opaque::new(bindings::attribute_group {
            attrs: list.0.as_ptr().cast_mut(),
            // SAFETY: The other fields (name, visibility callbacks, binary attributes) are
            // valid as NULL.
            ..unsafe { core::mem::zeroed() }
        }))
    }
}

/// The `show` callback of the [`Attribute`] of `T`.
///
/// # Safety
///
/// Must only be called by sysfs with `buf` pointing to a `PAGE_SIZE` buffer.
unsafe extern "C" fn show_callback<T: NumberFile>(
    _kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    buf: *mut c_char,
) -> isize {
    from_result(|| {
        let value = T::show()?;
        // SAFETY: `buf` is the page-aligned `PAGE_SIZE` sysfs buffer and the format string
        // consumes one `unsigned long long`.
        let len = unsafe { bindings::sysfs_emit(buf, c_str!("%llu\n").as_char_ptr(), value) };
        Ok(len as isize)
    })
}

/// The `store` callback of the [`Attribute`] of `T`.
///
/// # Safety
///
/// Must only be called by sysfs with `buf` pointing to `count` bytes followed by a NUL, as
/// `kernfs_fop_write_iter()` guarantees.
unsafe extern "C" fn store_callback<T: NumberFile>(
    _kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    from_result(|| {
        // SAFETY: `buf` holds `count` bytes and a terminating NUL.
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count + 1) };
        T::store(parse_u64(input)?)?;
        isize::try_from(count).map_err(|_| EINVAL)
    })
}

/// Parses a NUL-terminated sysfs input with `kstrtoull(.., 10, ..)`.
///
/// Every failure (empty, not a number, negative, trailing garbage, overflow, embedded NUL) is
/// `EINVAL`.
fn parse_u64(input: &[u8]) -> Result<u64> {
    match input.split_last() {
        // An embedded NUL would hide trailing garbage from `kstrtoull()`.
        Some((&0, text)) if !text.contains(&0) => {}
        _ => return Err(EINVAL),
    }
    let mut value: c_ulonglong = 0;
    // SAFETY: `input` is NUL-terminated and `value` is a valid output location.
    let ret = unsafe { bindings::kstrtoull(input.as_ptr(), 10, &mut value) };
    if ret != 0 {
        return Err(EINVAL);
    }
    Ok(value)
}
