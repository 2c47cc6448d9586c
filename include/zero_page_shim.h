/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shims for the zero_page Rust module.
 *
 * One-line wrappers around static inline functions and macros that Rust
 * cannot call directly, plus the non-temporal page clear, which has no
 * kernel equivalent. They carry no policy; the module's `sys` layer is their
 * only caller.
 */
#ifndef _ZERO_PAGE_SHIM_H
#define _ZERO_PAGE_SHIM_H

#include <linux/types.h>

struct page;
struct scatterlist;

struct page *zp_sg_page(struct scatterlist *sg);
struct page *zp_nth_page(struct page *page, unsigned long n);
void zp_clear_highpage_kasan_tagged(struct page *page);
void zp_clear_highpage_nt(struct page *page);
void zp_cond_resched(void);
bool zp_debug_pagealloc_enabled(void);
bool zp_page_poisoning_enabled(void);
bool zp_want_init_on_free(void);

#endif /* _ZERO_PAGE_SHIM_H */
