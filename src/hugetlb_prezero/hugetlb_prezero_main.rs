// SPDX-License-Identifier: GPL-2.0

//! Zero free hugetlb pages ahead of time, on request, per node and page size.
//!
//! Every `/sys/devices/system/node/nodeN/hugepages/hugepages-<size>kB/` directory gets:
//!
//! - `zeroable_hugepages`: reading gives the free huge pages of that size on that node that are
//!   neither zeroed nor being zeroed. Writing `N` (1 or more) or `max` zeroes up to that many of
//!   them in the writer's context; several writers share the work, each taking different pages.
//!   A signal stops a write: it returns the byte count as usual if it zeroed at least one page,
//!   `-EINTR` if it zeroed none. `poll()` reports `POLLPRI` (rate limited) when free huge pages
//!   that can be zeroed appear.
//! - `zeroed_hugepages` (read-only): free huge pages there that are known to be zero.
//!
//! A fault, `fallocate()` or memfd pinning that gets a zeroed page skips the clear; one that
//! gets a page being zeroed waits for it. Statistics are in `/sys/kernel/mm/hugetlb_prezero/`.
//! See `Documentation/admin-guide/mm/hugetlb_prezero.rst`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{
    c_str,
    hugetlb::{self, NodeFile, NodeHstate},
    prelude::*,
    str::CStr,
    sysfs::{Attribute, Dir, File},
    time::Ktime,
};

module! {
    type: HugetlbPrezero,
    name: "hugetlb_prezero",
    author: "The zero_page authors",
    description: "Zero free hugetlb pages on request, per node",
    license: "GPL",
}

/// Set when the module is being unloaded: writers stop before their next page.
static UNLOADING: AtomicBool = AtomicBool::new(false);

// Statistics.
static ZEROED_PAGES: AtomicU64 = AtomicU64::new(0);
static ZEROED_BYTES: AtomicU64 = AtomicU64::new(0);
static ZERO_TIME_NS: AtomicU64 = AtomicU64::new(0);
static INTERRUPTED_WRITES: AtomicU64 = AtomicU64::new(0);

/// Zeroes up to `max` free huge pages of `node` in the caller's context.
///
/// Returns how many were zeroed, fewer if there were no more to zero, if a signal arrived or if
/// the module is being unloaded; `EINTR` if a signal arrived before the first one.
fn zero_pages(node: &NodeHstate, max: u64) -> Result<u64> {
    let mut done = 0;

    while done < max && !UNLOADING.load(Ordering::Relaxed) {
        let start = Ktime::ktime_get();
        let bytes = match node.zero_free_folio() {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(e) if e == EAGAIN => continue,
            Err(e) => {
                if e == EINTR {
                    INTERRUPTED_WRITES.fetch_add(1, Ordering::Relaxed);
                }
                if done == 0 {
                    return Err(e);
                }
                break;
            }
        };
        let ns = (Ktime::ktime_get() - start).to_ns();
        ZEROED_PAGES.fetch_add(1, Ordering::Relaxed);
        ZEROED_BYTES.fetch_add(bytes, Ordering::Relaxed);
        ZERO_TIME_NS.fetch_add(u64::try_from(ns).unwrap_or(0), Ordering::Relaxed);
        done += 1;
    }
    Ok(done)
}

/// `zeroable_hugepages`.
struct Zeroable;

impl File<NodeHstate> for Zeroable {
    const NAME: &'static CStr = c_str!("zeroable_hugepages");
    const KEYWORDS: &'static [(&'static CStr, u64)] = &[(c_str!("max"), u64::MAX)];

    fn show(node: &NodeHstate) -> Result<u64> {
        Ok(node.nr_zeroable())
    }

    fn store(node: &NodeHstate, value: u64) -> Result {
        if value == 0 {
            return Err(EINVAL);
        }
        zero_pages(node, value).map(|_| ())
    }
}

/// `zeroed_hugepages`.
struct Zeroed;

impl File<NodeHstate> for Zeroed {
    const NAME: &'static CStr = c_str!("zeroed_hugepages");

    fn show(node: &NodeHstate) -> Result<u64> {
        Ok(node.nr_zeroed())
    }
}

static ZEROABLE_ATTR: Attribute<NodeHstate> = Attribute::rw::<Zeroable>();
static ZEROED_ATTR: Attribute<NodeHstate> = Attribute::ro::<Zeroed>();

/// Declares a read-only statistics file showing `$value`, or the value of the counter `$counter`.
macro_rules! stat_file {
    ($ty:ident, $name:literal, counter $counter:ident) => {
        stat_file!($ty, $name, $counter.load(Ordering::Relaxed));
    };
    ($ty:ident, $name:literal, $value:expr) => {
        #[doc = concat!("`/sys/kernel/mm/hugetlb_prezero/", $name, "`.")]
        struct $ty;

        impl File<Dir<()>> for $ty {
            const NAME: &'static CStr = c_str!($name);

            fn show(_: &()) -> Result<u64> {
                Ok($value)
            }
        }
    };
}

stat_file!(ZeroedPages, "zeroed_pages", counter ZEROED_PAGES);
stat_file!(ZeroedBytes, "zeroed_bytes", counter ZEROED_BYTES);
stat_file!(ZeroTimeNs, "zero_time_ns", counter ZERO_TIME_NS);
stat_file!(InterruptedWrites, "interrupted_writes", counter INTERRUPTED_WRITES);
stat_file!(AllocHits, "alloc_hits", hugetlb::nr_zero_hits());
stat_file!(AllocWaits, "alloc_waits", hugetlb::nr_zero_waits());

kernel::attribute_group! {
    static STATS_GROUP: Dir<()> = [
        ro ZeroedPages,
        ro ZeroedBytes,
        ro ZeroTimeNs,
        ro InterruptedWrites,
        ro AllocHits,
        ro AllocWaits,
    ];
}

/// The module: its files, removed in declaration order on unload.
struct HugetlbPrezero {
    _zeroable: NodeFile,
    _zeroed: NodeFile,
    _stats: Dir<()>,
}

impl kernel::Module for HugetlbPrezero {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let stats = Dir::without_data(c_str!("hugetlb_prezero"), &STATS_GROUP)?;
        let zeroed = NodeFile::new(&ZEROED_ATTR, false)?;
        let zeroable = NodeFile::new(&ZEROABLE_ATTR, true)?;
        Ok(Self {
            _zeroable: zeroable,
            _zeroed: zeroed,
            _stats: stats,
        })
    }
}

impl Drop for HugetlbPrezero {
    fn drop(&mut self) {
        // Writers in flight finish the page they are zeroing and return; removing the files
        // then waits for them.
        UNLOADING.store(true, Ordering::Relaxed);
    }
}
