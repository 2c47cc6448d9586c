// SPDX-License-Identifier: GPL-2.0

//! Clear free pages ahead of their allocation.
//!
//! The driver registers a free page reporting device whose handler clears the free blocks it is
//! handed and marks them as known to be zero. Allocations that want zeroed memory
//! (`__GFP_ZERO`, `init_on_alloc`, anonymous and THP faults) then skip the clear
//! (`prezero_alloc_hit` in `/proc/vmstat`).
//!
//! Interface: `/sys/kernel/mm/zero_page/`, see `Documentation/admin-guide/mm/zero_page.rst`. The
//! device is only registered while `enabled` is 1. It yields to virtio-balloon, the other user of
//! free page reporting: while the balloon reports free pages to the host, the device stands by,
//! and it clears again when the balloon goes away.

use kernel::{
    new_mutex,
    page::PAGE_SIZE,
    page_reporting::{
        self,
        Batch,
        Handler,
        Params,
        Registration,
        Stores, //
    },
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex, //
    },
    sysfs::{
        self,
        AttributeOperations,
        Dir, //
    },
    task::cond_resched,
    time::{
        msecs_to_jiffies,
        Instant,
        Monotonic, //
    },
};

module! {
    type: ZeroPageModule,
    name: "zero_page",
    authors: ["zero_page developers"],
    description: "Clear free pages ahead of their allocation",
    license: "GPL",
}

/// Default `batch_size`: 64 MiB per pass.
const DEFAULT_BATCH_SIZE: u64 = 64 << 20;
/// Largest `batch_size`: 1 TiB.
const MAX_BATCH_SIZE: u64 = 1 << 40;
/// Default `delay_millisecs`.
const DEFAULT_DELAY_MS: u32 = 1000;
/// Largest `delay_millisecs`: one hour.
const MAX_DELAY_MS: u32 = 3_600_000;
/// Default and smallest `mini_order`.
const MIN_ORDER: u32 = 1;
/// Pages cleared per [`page_reporting::Access`], with preemption disabled: 2 MiB.
const CLEAR_PAGES: usize = (2 << 20) / PAGE_SIZE;

/// The statistics, shared by the handler of the device and the files.
struct Stats {
    zeroed_pages: Atomic<u64>,
    batches: Atomic<u64>,
    zero_time_ns: Atomic<u64>,
}

/// What the handler reads: how to clear, and where to count.
struct Shared {
    /// `nontemporal`, read by the handler without the lock of [`Config`].
    nontemporal: Atomic<bool>,
    stats: Stats,
}

/// The knobs, and the device while `enabled` is 1.
struct Config {
    batch_size: u64,
    delay_ms: u32,
    mini_order: u32,
    background: bool,
    /// Set on unload: `enabled` cannot be set any more.
    unloading: bool,
    /// The registered device. A flush runs on its own reference, without the lock: disabling
    /// unregisters the device, which stops the flush.
    device: Option<Arc<Registration<Zeroer>>>,
}

impl Config {
    /// The device parameters the knobs translate to.
    fn params(&self) -> Params {
        Params {
            order: Some(self.mini_order),
            capacity: 0,
            // A delay of 0 selects the core's default: 0 ms means one jiffy.
            delay: msecs_to_jiffies(self.delay_ms).max(1),
            batch_size: self.batch_size,
            on_demand: !self.background,
        }
    }

    /// Passes the knobs on to the device, if registered, without registering it again: blocks
    /// cleared stay cleared.
    fn update(&self) {
        if let Some(device) = &self.device {
            device.set_params(self.params());
        }
    }
}

/// The driver: the data of `/sys/kernel/mm/zero_page/`.
///
/// `config` serializes the writers of the knobs, as `ksm_thread_mutex` does in `mm/ksm.c`.
#[pin_data]
struct ZeroPage {
    shared: Arc<Shared>,
    #[pin]
    config: Mutex<Config>,
}

impl ZeroPage {
    fn new() -> Result<Arc<Self>> {
        let shared = Arc::new(
            Shared {
                nontemporal: Atomic::new(page_reporting::HAVE_NONTEMPORAL),
                stats: Stats {
                    zeroed_pages: Atomic::new(0),
                    batches: Atomic::new(0),
                    zero_time_ns: Atomic::new(0),
                },
            },
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            pin_init!(Self {
                shared,
                config <- new_mutex!(Config {
                    batch_size: DEFAULT_BATCH_SIZE,
                    delay_ms: DEFAULT_DELAY_MS,
                    mini_order: MIN_ORDER,
                    background: true,
                    unloading: false,
                    device: None,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// Registers the device.
    fn enable(&self, config: &mut Config) -> Result {
        if config.unloading {
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

        let zeroer = Zeroer {
            shared: self.shared.clone(),
        };
        let device = Arc::pin_init(Registration::new(zeroer, config.params()), GFP_KERNEL)
            .inspect_err(|e| {
                if *e == EBUSY {
                    pr_err!("free page reporting is used by another device\n");
                }
            })?;
        config.device = Some(device);
        pr_info!(
            "enabled: mini_order {}, batch_size {} bytes, delay {} ms\n",
            config.mini_order,
            config.batch_size,
            config.delay_ms
        );
        Ok(())
    }

    /// Unregisters the device, stopping a running flush.
    fn disable(config: &mut Config) {
        if let Some(device) = config.device.take() {
            device.unregister();
            pr_info!("disabled\n");
        }
    }

    /// Returns a reference to the registered device, for a flush without the lock.
    fn device(&self) -> Result<Arc<Registration<Zeroer>>> {
        self.config.lock().device.clone().ok_or(EINVAL)
    }
}

/// The handler of the reporting device: clears every page it is handed.
struct Zeroer {
    shared: Arc<Shared>,
}

impl Zeroer {
    /// Clears the block and marks it zeroed. Returns the pages cleared, or `EAGAIN` (with the
    /// pages cleared so far) if the core took the batch back.
    fn clear_block(&self, block: &page_reporting::Block<'_>, stores: Stores) -> (u64, Result) {
        let mut pages = 0;
        for extent in block.extents_to_clear() {
            let mut start = extent.start;
            while start < extent.end {
                let end = extent.end.min(start + CLEAR_PAGES);
                // The core may take the batch back while this task waits for CPU time (a
                // `zero_bytes` writer throttled by its cgroup): a bounded extent at a time.
                let Some(access) = block.access() else {
                    return (pages, Err(EAGAIN));
                };
                if let Err(e) = block.clear(&access, start..end, stores) {
                    return (pages, Err(e));
                }
                drop(access);
                pages += (end - start) as u64;
                start = end;
                cond_resched();
            }
        }
        let Some(access) = block.access() else {
            return (pages, Err(EAGAIN));
        };
        // SAFETY: The pages of the block not known to be zero were cleared above.
        unsafe { block.mark_zeroed(&access) };
        (pages, Ok(()))
    }
}

impl Handler for Zeroer {
    const NAME: &'static CStr = c"zero_page";
    const SKIP_ZEROED: bool = true;
    const YIELDS: bool = true;
    const REVOCABLE: bool = true;

    fn report(&self, batch: &mut Batch<'_>) -> Result {
        let stores = if self.shared.nontemporal.load(Relaxed) {
            Stores::NonTemporal
        } else {
            Stores::Cached
        };
        let start = Instant::<Monotonic>::now();
        let mut pages = 0;
        let mut result = Ok(());

        for block in batch {
            let (cleared, res) = self.clear_block(&block, stores);
            pages += cleared;
            if res.is_err() {
                result = res;
                break;
            }
        }

        let stats = &self.shared.stats;
        stats.zeroed_pages.add(pages, Relaxed);
        stats.batches.add(1, Relaxed);
        let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(0);
        stats.zero_time_ns.add(elapsed, Relaxed);
        result
    }
}

/// `enabled`: 1 registers the reporting device, 0 unregisters it.
#[vtable]
impl AttributeOperations<0> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.config.lock().device.is_some().into())
    }

    fn store(zp: &ZeroPage, value: u64) -> Result {
        let mut config = zp.config.lock();
        match value {
            0 => {
                Self::disable(&mut config);
                Ok(())
            }
            1 if config.device.is_some() => Ok(()),
            1 => zp.enable(&mut config),
            _ => Err(EINVAL),
        }
    }
}

/// `batch_size`: bytes cleared per pass before waiting `delay_millisecs` again.
#[vtable]
impl AttributeOperations<1> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.config.lock().batch_size)
    }

    fn store(zp: &ZeroPage, value: u64) -> Result {
        if !(PAGE_SIZE as u64..=MAX_BATCH_SIZE).contains(&value) {
            return Err(EINVAL);
        }
        let mut config = zp.config.lock();
        config.batch_size = value;
        config.update();
        Ok(())
    }
}

/// `delay_millisecs`: the delay between free page notifications and a pass.
#[vtable]
impl AttributeOperations<2> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.config.lock().delay_ms.into())
    }

    fn store(zp: &ZeroPage, value: u64) -> Result {
        let value = u32::try_from(value).map_err(|_| EINVAL)?;
        if value > MAX_DELAY_MS {
            return Err(EINVAL);
        }
        let mut config = zp.config.lock();
        config.delay_ms = value;
        config.update();
        Ok(())
    }
}

/// `mini_order`: the smallest buddy order that is cleared.
#[vtable]
impl AttributeOperations<3> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.config.lock().mini_order.into())
    }

    fn store(zp: &ZeroPage, value: u64) -> Result {
        let value = u32::try_from(value).map_err(|_| EINVAL)?;
        if !(MIN_ORDER..=page_reporting::MAX_ORDER).contains(&value) {
            return Err(EINVAL);
        }
        let mut config = zp.config.lock();
        config.mini_order = value;
        config.update();
        Ok(())
    }
}

/// `flush`: writing 1 clears all free blocks of at least `mini_order` now, in the writer's
/// context.
#[vtable]
impl AttributeOperations<4> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn store(zp: &ZeroPage, value: u64) -> Result {
        if value != 1 {
            return Err(EINVAL);
        }
        // Without the lock, on a reference of our own: disabling stops the flush.
        zp.device()?.flush()
    }
}

/// `zero_bytes`: writing N (or `max`) clears up to N bytes of free memory of the writer's node
/// now, in the writer's context: its cgroup pays for it.
#[vtable]
impl AttributeOperations<5> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    const KEYWORDS: &'static [(&'static CStr, u64)] = &[(c"max", u64::MAX)];

    fn store(zp: &ZeroPage, value: u64) -> Result {
        if value == 0 {
            return Err(EINVAL);
        }
        let budget = (value != u64::MAX).then_some(value);
        // As for `flush`: without the lock, on a reference of our own.
        zp.device()?.flush_local_node(budget)?;
        Ok(())
    }
}

/// `background`: 1 (default) lets the reporting worker clear free memory in the background, 0
/// leaves all clearing to the writers of `flush` and `zero_bytes`.
#[vtable]
impl AttributeOperations<6> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.config.lock().background.into())
    }

    fn store(zp: &ZeroPage, value: u64) -> Result {
        let background = match value {
            0 => false,
            1 => true,
            _ => return Err(EINVAL),
        };
        let mut config = zp.config.lock();
        config.background = background;
        config.update();
        Ok(())
    }
}

/// `nontemporal`: 1 clears with non-temporal stores (the default where available), 0 with
/// `clear_pages()`. Meant for measurements.
#[vtable]
impl AttributeOperations<7> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.shared.nontemporal.load(Relaxed).into())
    }

    fn store(zp: &ZeroPage, value: u64) -> Result {
        let nontemporal = match value {
            0 => false,
            1 if page_reporting::HAVE_NONTEMPORAL => true,
            _ => return Err(EINVAL),
        };
        let _config = zp.config.lock();
        zp.shared.nontemporal.store(nontemporal, Relaxed);
        Ok(())
    }
}

/// `zeroed_pages`: pages cleared.
#[vtable]
impl AttributeOperations<8> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.shared.stats.zeroed_pages.load(Relaxed))
    }
}

/// `zeroed_bytes`: bytes cleared.
#[vtable]
impl AttributeOperations<9> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        let pages = zp.shared.stats.zeroed_pages.load(Relaxed);
        Ok(pages.saturating_mul(PAGE_SIZE as u64))
    }
}

/// `batches`: batches handled.
#[vtable]
impl AttributeOperations<10> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.shared.stats.batches.load(Relaxed))
    }
}

/// `zero_time_ns`: time spent handling batches.
#[vtable]
impl AttributeOperations<11> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(zp: &ZeroPage) -> Result<u64> {
        Ok(zp.shared.stats.zero_time_ns.load(Relaxed))
    }
}

/// `alloc_hits`: allocations that found their block zero, `prezero_alloc_hit` of
/// `/proc/vmstat`.
#[vtable]
impl AttributeOperations<12> for ZeroPage {
    type Data = ZeroPage;
    type Value = u64;

    fn show(_zp: &ZeroPage) -> Result<u64> {
        Ok(page_reporting::nr_alloc_hits())
    }
}

/// The module: `/sys/kernel/mm/zero_page/` and the device behind it.
struct ZeroPageModule {
    dir: Dir<ZeroPage>,
}

impl kernel::Module for ZeroPageModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let attrs = kernel::sysfs_attrs! {
            container: Dir<ZeroPage>,
            data: ZeroPage,
            attributes: [
                enabled: 0,
                batch_size: 1,
                delay_millisecs: 2,
                mini_order: 3,
                flush: 4,
                zero_bytes: 5,
                background: 6,
                nontemporal: 7,
                zeroed_pages: 8,
                zeroed_bytes: 9,
                batches: 10,
                zero_time_ns: 11,
                alloc_hits: 12,
            ],
        };
        let dir = Dir::new(sysfs::mm_kobj()?, c"zero_page", attrs, ZeroPage::new()?)?;
        Ok(Self { dir })
    }
}

impl Drop for ZeroPageModule {
    fn drop(&mut self) {
        // Stop a running flush before removing the files waits for its writer.
        let mut config = self.dir.data().config.lock();
        config.unloading = true;
        ZeroPage::disable(&mut config);
    }
}
