// SPDX-License-Identifier: GPL-2.0

//! Zero free huge pages ahead of their allocation, on request, per node and page size.
//!
//! Every `/sys/devices/system/node/nodeN/hugepages/hugepages-<size>kB/` directory gets:
//!
//! - `zeroable_hugepages`: reading gives the free huge pages of that size on that node that are
//!   neither known to be zero nor being zeroed. Writing `N` (1 or more) or `max` zeroes up to that
//!   many of them in the writer's context, charged to its cgroup; several writers share the work,
//!   each taking different pages. A signal stops a write between two pages: it returns the byte
//!   count as usual if it zeroed at least one page, `-EINTR` if it zeroed none. `poll()` reports
//!   `POLLPRI` (at most every 10 ms) when free huge pages that can be zeroed appear.
//! - `zeroed_hugepages` (read-only): the free huge pages there that are known to be zero.
//!
//! A fault, `fallocate()` or memfd pin that gets a zeroed page skips its clear; one that gets a
//! page being zeroed waits for it, briefly. The statistics are in
//! `/sys/kernel/mm/hugetlb_prezero/`. See
//! `Documentation/ABI/testing/sysfs-kernel-mm-hugetlb_prezero`.

use kernel::{
    hugetlb::{
        self,
        NodeAttributeOperations,
        NodeFile,
        NodeHstate, //
    },
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc, //
    },
    sysfs::{
        self,
        AttributeOperations,
        Dir, //
    },
    time::{
        Instant,
        Monotonic, //
    },
};

module! {
    type: HugetlbPrezeroModule,
    name: "hugetlb_prezero",
    authors: ["zero_page developers"],
    description: "Zero free hugetlb pages on request, per node",
    license: "GPL",
}

/// The driver: the data of the per-node files and of `/sys/kernel/mm/hugetlb_prezero/`.
struct HugetlbPrezero {
    /// Set on unload: writers stop before their next page.
    unloading: Atomic<bool>,
    zeroed_pages: Atomic<u64>,
    zeroed_bytes: Atomic<u64>,
    zero_time_ns: Atomic<u64>,
    interrupted_writes: Atomic<u64>,
}

impl HugetlbPrezero {
    /// Zeroes up to `max` free huge pages of `node` in the caller's context.
    ///
    /// Returns how many were zeroed, fewer if there were no more to zero, if a signal arrived or
    /// if the module is being unloaded; `EINTR` if a signal arrived before the first one.
    fn zero_pages(&self, node: &NodeHstate, max: u64) -> Result<u64> {
        let mut done = 0;

        while done < max && !self.unloading.load(Relaxed) {
            let start = Instant::<Monotonic>::now();
            let bytes = match node.zero_free_folio() {
                Ok(Some(bytes)) => bytes,
                Ok(None) => break,
                // The kernel took the page away while it was being zeroed: take the next one.
                Err(e) if e == EAGAIN => continue,
                Err(e) => {
                    if e == EINTR {
                        self.interrupted_writes.add(1, Relaxed);
                    }
                    if done == 0 {
                        return Err(e);
                    }
                    break;
                }
            };
            let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(0);
            self.zeroed_pages.add(1, Relaxed);
            self.zeroed_bytes.add(bytes, Relaxed);
            self.zero_time_ns.add(elapsed, Relaxed);
            done += 1;
        }
        Ok(done)
    }
}

/// `zeroable_hugepages`.
#[vtable]
impl NodeAttributeOperations<0> for HugetlbPrezero {
    type Data = HugetlbPrezero;
    type Value = u64;

    const KEYWORDS: &'static [(&'static CStr, u64)] = &[(c"max", u64::MAX)];

    fn show(_hp: &HugetlbPrezero, node: &NodeHstate) -> Result<u64> {
        Ok(node.nr_zeroable())
    }

    fn store(hp: &HugetlbPrezero, node: &NodeHstate, value: u64) -> Result {
        if value == 0 {
            return Err(EINVAL);
        }
        hp.zero_pages(node, value).map(|_| ())
    }
}

/// `zeroed_hugepages`.
#[vtable]
impl NodeAttributeOperations<1> for HugetlbPrezero {
    type Data = HugetlbPrezero;
    type Value = u64;

    fn show(_hp: &HugetlbPrezero, node: &NodeHstate) -> Result<u64> {
        Ok(node.nr_zeroed())
    }
}

/// Implements a read-only file of `/sys/kernel/mm/hugetlb_prezero/` showing `$value`, computed
/// from `$hp`, the driver.
macro_rules! stat_file {
    ($id:literal, |$hp:ident| $value:expr) => {
        #[vtable]
        impl AttributeOperations<$id> for HugetlbPrezero {
            type Data = HugetlbPrezero;
            type Value = u64;

            fn show($hp: &HugetlbPrezero) -> Result<u64> {
                Ok($value)
            }
        }
    };
}

stat_file!(0, |hp| hp.zeroed_pages.load(Relaxed));
stat_file!(1, |hp| hp.zeroed_bytes.load(Relaxed));
stat_file!(2, |hp| hp.zero_time_ns.load(Relaxed));
stat_file!(3, |hp| hp.interrupted_writes.load(Relaxed));
stat_file!(4, |_hp| hugetlb::nr_zero_hits());
stat_file!(5, |_hp| hugetlb::nr_zero_waits());

/// The module: its files, removed in declaration order on unload.
struct HugetlbPrezeroModule {
    zeroable: NodeFile<HugetlbPrezero>,
    _zeroed: NodeFile<HugetlbPrezero>,
    _stats: Dir<HugetlbPrezero>,
}

impl kernel::Module for HugetlbPrezeroModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let attrs = kernel::sysfs_attrs! {
            container: Dir<HugetlbPrezero>,
            data: HugetlbPrezero,
            attributes: [
                zeroed_pages: 0,
                zeroed_bytes: 1,
                zero_time_ns: 2,
                interrupted_writes: 3,
                alloc_hits: 4,
                alloc_waits: 5,
            ],
        };
        let hp = Arc::new(
            HugetlbPrezero {
                unloading: Atomic::new(false),
                zeroed_pages: Atomic::new(0),
                zeroed_bytes: Atomic::new(0),
                zero_time_ns: Atomic::new(0),
                interrupted_writes: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        let stats = Dir::new(sysfs::mm_kobj()?, c"hugetlb_prezero", attrs, hp.clone())?;
        let zeroed = NodeFile::new::<1, HugetlbPrezero>(c"zeroed_hugepages", hp.clone(), false)?;
        let zeroable = NodeFile::new::<0, HugetlbPrezero>(c"zeroable_hugepages", hp, true)?;
        Ok(Self {
            zeroable,
            _zeroed: zeroed,
            _stats: stats,
        })
    }
}

impl Drop for HugetlbPrezeroModule {
    fn drop(&mut self) {
        // Writers in flight finish the page they are zeroing and return; removing the files then
        // waits for them.
        self.zeroable.data().unloading.store(true, Relaxed);
    }
}
