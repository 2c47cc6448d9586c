// SPDX-License-Identifier: GPL-2.0

//! Zero free hugetlb pages ahead of time, on request, per node and page size.
//!
//! Every `/sys/devices/system/node/nodeN/hugepages/hugepages-<size>kB/` directory gets:
//!
//! - `zeroable_hugepages`: reading gives the free huge pages of that size on that node that are
//!   neither zeroed nor being zeroed. Writing `N` (1 or more) or `max` zeroes up to that many of
//!   them in the writer's context; several writers share the work, each taking different pages.
//!   A signal stops a write between two pages: it returns the byte count as usual if it zeroed
//!   at least one page, `-EINTR` if it zeroed none. Any other input fails with `-EINVAL` and
//!   zeroes nothing. `poll()` reports `POLLPRI` (rate limited) when free huge pages that can be
//!   zeroed appear.
//! - `zeroed_hugepages` (read-only): free huge pages there that are known to be zero.
//!
//! A fault, `fallocate()` or memfd pinning that gets a zeroed page skips the clear; one that
//! gets a page being zeroed waits for it. Statistics are in `/sys/kernel/mm/hugetlb_prezero/`.
//! See `Documentation/admin-guide/mm/hugetlb_prezero.rst`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{c_str, error::code::*, prelude::*, str::CStr, time::Ktime};

#[path = "hugetlb_prezero/sys.rs"]
mod sys;

#[path = "common/sysfs.rs"]
mod sysfs;

use sys::{
    AttrGroup, AttrList, Attribute, KobjDir, NodeAttr, NodeAttrRegistration, NodeFile, NodeHstate,
    NumberFile,
};

module! {
    type: HugetlbPrezero,
    name: "hugetlb_prezero",
    author: "The zero_page authors",
    description: "Zero free hugetlb pages on request, per node",
    license: "GPL",
}

/// Set when the module is being unloaded: writers stop before their next page.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Huge pages zeroed through `zeroable_hugepages`.
static ZEROED_PAGES: AtomicU64 = AtomicU64::new(0);
/// Bytes zeroed through `zeroable_hugepages`.
static ZEROED_BYTES: AtomicU64 = AtomicU64::new(0);
/// Time spent zeroing them, in nanoseconds.
static ZERO_TIME_NS: AtomicU64 = AtomicU64::new(0);
/// Writes stopped by a signal.
static INTERRUPTED: AtomicU64 = AtomicU64::new(0);

/// Parses what is written to `zeroable_hugepages`: a decimal number of at least 1, or `max`,
/// optionally followed by one newline.
///
/// Everything else (empty, not a number, 0, a sign, overflow, trailing garbage) is `EINVAL`.
fn parse_request(input: &[u8]) -> Result<u64> {
    let text = input.strip_suffix(b"\n").unwrap_or(input);
    if text == b"max" {
        return Ok(u64::MAX);
    }
    if text.is_empty() {
        return Err(EINVAL);
    }
    let mut value: u64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return Err(EINVAL);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(EINVAL)?;
    }
    if value == 0 {
        return Err(EINVAL);
    }
    Ok(value)
}

/// Zeroes up to `max` free huge pages of `node` in the caller's context.
///
/// Returns how many were zeroed, fewer if there were no more to zero, if a signal arrived or if
/// the module is being unloaded; `EINTR` if a signal arrived before the first one was done.
fn zero_pages(node: NodeHstate, max: u64) -> Result<u64> {
    let mut done = 0;

    while done < max {
        if STOPPING.load(Ordering::Relaxed) {
            break;
        }
        let start = Ktime::ktime_get();
        let bytes = match node.zero_one() {
            Ok(0) => break,
            Ok(bytes) => bytes,
            // The kernel needed the page (allocation, shrinking): go on with the next one.
            Err(e) if e == EAGAIN => continue,
            Err(e) if e == EINTR => {
                INTERRUPTED.fetch_add(1, Ordering::Relaxed);
                if done == 0 {
                    return Err(EINTR);
                }
                break;
            }
            Err(e) => return Err(e),
        };
        let ns = (Ktime::ktime_get() - start).to_ns();
        ZEROED_PAGES.fetch_add(1, Ordering::Relaxed);
        ZEROED_BYTES.fetch_add(bytes, Ordering::Relaxed);
        ZERO_TIME_NS.fetch_add(u64::try_from(ns).unwrap_or(0), Ordering::Relaxed);
        done += 1;
        sys::cond_resched();
    }
    Ok(done)
}

/// `zeroable_hugepages`.
struct ZeroableFile;

impl NodeFile for ZeroableFile {
    const NAME: &'static CStr = c_str!("zeroable_hugepages");

    fn show(node: NodeHstate) -> Result<u64> {
        Ok(node.nr_zeroable())
    }

    fn store(node: NodeHstate, input: &[u8]) -> Result {
        let max = parse_request(input)?;
        zero_pages(node, max).map(|_| ())
    }
}

/// `zeroed_hugepages`.
struct ZeroedFile;

impl NodeFile for ZeroedFile {
    const NAME: &'static CStr = c_str!("zeroed_hugepages");

    fn show(node: NodeHstate) -> Result<u64> {
        Ok(node.nr_zeroed())
    }
}

static ZEROABLE_ATTR: NodeAttr = NodeAttr::rw::<ZeroableFile>();
static ZEROED_ATTR: NodeAttr = NodeAttr::ro::<ZeroedFile>();

/// Declares a read-only statistics file showing `$value`, or the value of the counter `$counter`.
macro_rules! stat_file {
    ($ty:ident, $name:literal, counter $counter:ident) => {
        stat_file!($ty, $name, $counter.load(Ordering::Relaxed));
    };
    ($ty:ident, $name:literal, $value:expr) => {
        #[doc = concat!("`/sys/kernel/mm/hugetlb_prezero/", $name, "`.")]
        struct $ty;

        impl NumberFile for $ty {
            const NAME: &'static CStr = c_str!($name);

            fn show() -> Result<u64> {
                Ok($value)
            }
        }
    };
}

stat_file!(PagesFile, "zeroed_pages", counter ZEROED_PAGES);
stat_file!(BytesFile, "zeroed_bytes", counter ZEROED_BYTES);
stat_file!(TimeFile, "zero_time_ns", counter ZERO_TIME_NS);
stat_file!(InterruptedFile, "interrupted_writes", counter INTERRUPTED);
stat_file!(HitsFile, "fault_hits", sys::nr_hits());
stat_file!(WaitsFile, "fault_waits", sys::nr_waits());

static PAGES_ATTR: Attribute = Attribute::ro::<PagesFile>();
static BYTES_ATTR: Attribute = Attribute::ro::<BytesFile>();
static TIME_ATTR: Attribute = Attribute::ro::<TimeFile>();
static INTERRUPTED_ATTR: Attribute = Attribute::ro::<InterruptedFile>();
static HITS_ATTR: Attribute = Attribute::ro::<HitsFile>();
static WAITS_ATTR: Attribute = Attribute::ro::<WaitsFile>();

static STATS_LIST: AttrList<7> = AttrList::new([
    Some(&PAGES_ATTR),
    Some(&BYTES_ATTR),
    Some(&TIME_ATTR),
    Some(&INTERRUPTED_ATTR),
    Some(&HITS_ATTR),
    Some(&WAITS_ATTR),
    None,
]);
static STATS_GROUP: AttrGroup = AttrGroup::new(&STATS_LIST);

/// The module: its files, removed in declaration order on unload.
struct HugetlbPrezero {
    _zeroable: NodeAttrRegistration,
    _zeroed: NodeAttrRegistration,
    _stats: KobjDir,
}

impl kernel::Module for HugetlbPrezero {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        STOPPING.store(false, Ordering::Relaxed);
        let stats = KobjDir::new(c_str!("hugetlb_prezero"), &STATS_GROUP)?;
        let zeroed = NodeAttrRegistration::new(&ZEROED_ATTR, false)?;
        let zeroable = NodeAttrRegistration::new(&ZEROABLE_ATTR, true)?;
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
        STOPPING.store(true, Ordering::Relaxed);
    }
}
