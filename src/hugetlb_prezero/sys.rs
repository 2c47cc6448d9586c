// SPDX-License-Identifier: GPL-2.0

//! The only place of the module that touches raw bindings, the hugetlb framework and the C shims.
//!
//! It offers safe wrappers for:
//!
//! - one huge page size on one node ([`NodeHstate`]): its counts, and zeroing one free huge page,
//! - files added to every per-node hstate directory ([`NodeAttr`], [`NodeAttrRegistration`]),
//! - the `/sys/kernel/mm/<name>` directory ([`KobjDir`]) and its static read-only files
//!   ([`Attribute`], [`AttrList`], [`AttrGroup`]), from the shared `common/sysfs.rs`,
//! - the framework's global statistics.
//!
//! C headers: [`include/linux/hugetlb.h`](srctree/include/linux/hugetlb.h),
//! [`include/linux/kobject.h`](srctree/include/linux/kobject.h),
//! [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h).

use core::{
    marker::{PhantomData, PhantomPinned},
    ptr::{self, NonNull},
};

use kernel::{
    bindings,
    error::{code::*, from_result},
    ffi::{c_char, c_int, c_long, c_ulong},
    prelude::*,
    str::CStr,
    types::Opaque,
};

use crate::sysfs::emit_u64;
pub(crate) use crate::sysfs::{AttrGroup, AttrList, Attribute, KobjDir, NumberFile};

/// `struct hstate`, only ever handled through pointers.
#[repr(C)]
struct Hstate {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

// The hugetlb pre-zeroing framework, `mm/hugetlb.c`, prototypes in `include/linux/hugetlb.h`.
extern "C" {
    fn hugetlb_zero_free_folio(h: *mut Hstate, nid: c_int) -> c_long;
    fn hugetlb_zero_nr_zeroable(h: *mut Hstate, nid: c_int) -> c_ulong;
    fn hugetlb_zero_nr_zeroed(h: *mut Hstate, nid: c_int) -> c_ulong;
    fn hugetlb_zero_nr_hits(h: *mut Hstate) -> c_ulong;
    fn hugetlb_zero_nr_waits(h: *mut Hstate) -> c_ulong;
    fn hugetlb_node_attr_register(attr: *mut bindings::kobj_attribute, notify: bool) -> c_int;
    fn hugetlb_node_attr_unregister(attr: *mut bindings::kobj_attribute);
    fn hugetlb_node_kobj_hstate(kobj: *mut bindings::kobject, nidp: *mut c_int) -> *mut Hstate;
}

// The shims of `src/hugetlb_prezero_shim.c`, prototypes in `include/hugetlb_prezero_shim.h`.
extern "C" {
    fn zh_cond_resched();
}

/// Yields the CPU if a reschedule is pending (`cond_resched()`).
pub(crate) fn cond_resched() {
    // SAFETY: Only called from process context without locks held (a sysfs writer).
    unsafe { zh_cond_resched() }
}

/// Allocations for users that got a zeroed huge page and skipped the clear, all sizes.
pub(crate) fn nr_hits() -> u64 {
    // SAFETY: A NULL hstate asks for the sum over all hstates.
    let nr = unsafe { hugetlb_zero_nr_hits(ptr::null_mut()) };
    nr as u64
}

/// Allocations that took a huge page being zeroed and waited for it, all sizes.
pub(crate) fn nr_waits() -> u64 {
    // SAFETY: A NULL hstate asks for the sum over all hstates.
    let nr = unsafe { hugetlb_zero_nr_waits(ptr::null_mut()) };
    nr as u64
}

/// One huge page size on one node: the pair behind a
/// `/sys/devices/system/node/nodeN/hugepages/hugepages-<size>kB` directory.
///
/// # Invariants
///
/// `h` points to an entry of the kernel's static `hstates[]` array, which lives as long as the
/// kernel, and `nid` is a node id below `MAX_NUMNODES`.
#[derive(Clone, Copy)]
pub(crate) struct NodeHstate {
    h: NonNull<Hstate>,
    nid: c_int,
}

impl NodeHstate {
    /// Maps the kobject of a per-node hstate directory back to its hstate and node.
    ///
    /// # Safety
    ///
    /// `kobj` must be a valid kobject, e.g. the one passed to an attribute's callback.
    unsafe fn from_kobj(kobj: *mut bindings::kobject) -> Result<Self> {
        let mut nid: c_int = 0;
        // SAFETY: `kobj` is valid by the safety requirements and `nid` a valid output location;
        // the lookup never dereferences `kobj` and returns NULL for a foreign kobject.
        let h = unsafe { hugetlb_node_kobj_hstate(kobj, &mut nid) };
        // INVARIANT: A non-NULL result is an entry of `hstates[]`, and `nid` the index of a node
        // directory, below `MAX_NUMNODES`.
        NonNull::new(h).map(|h| Self { h, nid }).ok_or(ENODEV)
    }

    /// Free huge pages on the node that are neither zeroed nor being zeroed.
    pub(crate) fn nr_zeroable(&self) -> u64 {
        // SAFETY: `h` and `nid` are valid by the type invariant.
        let nr = unsafe { hugetlb_zero_nr_zeroable(self.h.as_ptr(), self.nid) };
        nr as u64
    }

    /// Free huge pages on the node that are known to be zero.
    pub(crate) fn nr_zeroed(&self) -> u64 {
        // SAFETY: `h` and `nid` are valid by the type invariant.
        let nr = unsafe { hugetlb_zero_nr_zeroed(self.h.as_ptr(), self.nid) };
        nr as u64
    }

    /// Zeroes one free huge page of the node that is neither zeroed nor being zeroed, in the
    /// caller's context.
    ///
    /// Returns the number of bytes cleared, 0 if there was no such page, `EINTR` if a signal is
    /// pending (the page is left unzeroed), `EAGAIN` if the kernel took the page away while it
    /// was being cleared, `EOPNOTSUPP` where the data cache is aliasing.
    pub(crate) fn zero_one(&self) -> Result<u64> {
        // SAFETY: `h` and `nid` are valid by the type invariant; the call may sleep, and sysfs
        // writers run in process context without locks held.
        let ret = unsafe { hugetlb_zero_free_folio(self.h.as_ptr(), self.nid) };
        if ret < 0 {
            return Err(Error::from_errno(ret as c_int));
        }
        Ok(ret as u64)
    }
}

/// A file in every per-node hstate directory.
///
/// The callbacks run in the context of the process reading or writing the file and may sleep.
pub(crate) trait NodeFile {
    /// File name.
    const NAME: &'static CStr;

    /// Returns the number shown when the file is read.
    fn show(node: NodeHstate) -> Result<u64>;

    /// Handles what is written to the file: `input` is the text, without the NUL sysfs adds.
    fn store(_node: NodeHstate, _input: &[u8]) -> Result {
        Err(EINVAL)
    }
}

/// A static `struct kobj_attribute` for a [`NodeFile`].
#[repr(transparent)]
pub(crate) struct NodeAttr(Opaque<bindings::kobj_attribute>);

// SAFETY: The attribute is only read by the sysfs core after initialization (and lockdep uses
// the address of its embedded key); it is never mutated from Rust.
unsafe impl Sync for NodeAttr {}

impl NodeAttr {
    /// A file readable by everyone (0444).
    pub(crate) const fn ro<T: NodeFile>() -> Self {
        Self::build::<T>(0o444, false)
    }

    /// A file readable by everyone and writable by root (0644).
    pub(crate) const fn rw<T: NodeFile>() -> Self {
        Self::build::<T>(0o644, true)
    }

    const fn build<T: NodeFile>(mode: u16, store: bool) -> Self {
        Self(Opaque::new(bindings::kobj_attribute {
            attr: bindings::attribute {
                name: T::NAME.as_char_ptr(),
                mode,
                // SAFETY: The lockdep fields (if any) are a bitfield and a key, valid as zero.
                ..unsafe { core::mem::zeroed() }
            },
            show: Some(node_show_callback::<T>),
            store: if store {
                Some(node_store_callback::<T>)
            } else {
                None
            },
        }))
    }
}

/// A [`NodeAttr`] added to every per-node hstate directory, present and future.
///
/// # Invariants
///
/// `attr` is registered with `hugetlb_node_attr_register()`.
pub(crate) struct NodeAttrRegistration {
    attr: &'static NodeAttr,
}

impl NodeAttrRegistration {
    /// Adds `attr` to every per-node hstate directory. If `notify`, pollers of the file are woken
    /// (rate limited) when huge pages that can be zeroed are freed on the node.
    ///
    /// The callbacks of `attr` may run as soon as this returns and until the object is dropped.
    pub(crate) fn new(attr: &'static NodeAttr, notify: bool) -> Result<Self> {
        // SAFETY: `attr` is a static attribute whose callbacks are valid for its whole life.
        let ret = unsafe { hugetlb_node_attr_register(attr.0.get(), notify) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: The registration succeeded.
        Ok(Self { attr })
    }
}

impl Drop for NodeAttrRegistration {
    fn drop(&mut self) {
        // SAFETY: `attr` is registered by the type invariant. Unregistering removes its files,
        // waiting for running callbacks, which take no lock the caller may hold.
        unsafe { hugetlb_node_attr_unregister(self.attr.0.get()) };
    }
}

/// The `show` callback of the [`NodeAttr`] of `T`.
///
/// # Safety
///
/// Must only be called by sysfs with a valid `kobj` and `buf` pointing to a `PAGE_SIZE` buffer.
unsafe extern "C" fn node_show_callback<T: NodeFile>(
    kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    buf: *mut c_char,
) -> isize {
    from_result(|| {
        // SAFETY: sysfs passes the valid kobject of the file's directory.
        let node = unsafe { NodeHstate::from_kobj(kobj) }?;
        let value = T::show(node)?;
        // SAFETY: sysfs passes its `PAGE_SIZE` buffer.
        Ok(unsafe { emit_u64(buf, value) })
    })
}

/// The `store` callback of the [`NodeAttr`] of `T`.
///
/// # Safety
///
/// Must only be called by sysfs with a valid `kobj` and `buf` pointing to `count` bytes, as
/// `kernfs_fop_write_iter()` guarantees.
unsafe extern "C" fn node_store_callback<T: NodeFile>(
    kobj: *mut bindings::kobject,
    _attr: *mut bindings::kobj_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    from_result(|| {
        // SAFETY: `buf` holds `count` bytes.
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        // SAFETY: sysfs passes the valid kobject of the file's directory.
        let node = unsafe { NodeHstate::from_kobj(kobj) }?;
        T::store(node, input)?;
        isize::try_from(count).map_err(|_| EINVAL)
    })
}
