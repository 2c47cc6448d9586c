// SPDX-License-Identifier: GPL-2.0

//! Static sysfs files under `/sys/kernel/mm`, shared by the project's modules.
//!
//! Each module includes this file with `#[path = "common/sysfs.rs"] mod sysfs;` (every `.ko` is
//! its own crate). It offers safe wrappers for:
//!
//! - the `/sys/kernel/mm/<name>` directory ([`KobjDir`]),
//! - its static attributes ([`Attribute`], [`AttrList`], [`AttrGroup`]), each a file holding an
//!   unsigned decimal number ([`NumberFile`]),
//! - writing such a number into the buffer of any `show` callback ([`emit_u64`]).
//!
//! C headers: [`include/linux/kobject.h`](srctree/include/linux/kobject.h),
//! [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h).

use core::ptr;

use kernel::{
    bindings, c_str,
    error::{code::*, from_result},
    ffi::{c_char, c_ulonglong},
    prelude::*,
    str::CStr,
    types::Opaque,
};

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
    #[allow(
        dead_code,
        reason = "unused by some crates including this file, so `#[expect]` would fail in others"
    )]
    pub(crate) const fn rw<T: NumberFile>() -> Self {
        Self::build::<T>(0o644, true, true)
    }

    /// A read-only file (0444).
    pub(crate) const fn ro<T: NumberFile>() -> Self {
        Self::build::<T>(0o444, true, false)
    }

    /// A write-only file (0200).
    #[allow(
        dead_code,
        reason = "unused by some crates including this file, so `#[expect]` would fail in others"
    )]
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
        // SAFETY: sysfs passes its `PAGE_SIZE` buffer.
        Ok(unsafe { emit_u64(buf, value) })
    })
}

/// Writes `value` and a newline into the buffer of a sysfs `show` callback, as
/// `sysfs_emit(buf, "%llu\n", value)`, and returns the number of bytes written.
///
/// # Safety
///
/// `buf` must be the `PAGE_SIZE` buffer sysfs passes to a `show` callback.
pub(crate) unsafe fn emit_u64(buf: *mut c_char, value: u64) -> isize {
    // SAFETY: `buf` is the page-aligned `PAGE_SIZE` sysfs buffer by the safety requirements and
    // the format string consumes one `unsigned long long`.
    let len = unsafe { bindings::sysfs_emit(buf, c_str!("%llu\n").as_char_ptr(), value) };
    len as isize
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
