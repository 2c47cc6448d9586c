// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for the zero_page Rust module: one-line wrappers for static inline
 * functions and macros that bindgen cannot expose, and the non-temporal page
 * clear. No policy lives here.
 */

#include <linux/highmem.h>
#include <linux/kasan.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/scatterlist.h>

#include "zero_page_shim.h"

struct page *zp_sg_page(struct scatterlist *sg)
{
	return sg_page(sg);
}

struct page *zp_nth_page(struct page *page, unsigned long n)
{
	return nth_page(page, n);
}

/*
 * The pages are free: clear them without KASAN checks, like
 * kernel_init_pages() (clear_page() may be a checked memset(), e.g. on riscv).
 */
void zp_clear_highpage_kasan_tagged(struct page *page)
{
	kasan_disable_current();
	clear_highpage_kasan_tagged(page);
	kasan_enable_current();
}

/*
 * Clear one page with non-temporal stores, so that clearing free memory in
 * the background does not evict the caches of the running workload. The
 * trailing sfence orders the weakly-ordered stores before the page goes back
 * to the allocator (possibly to another CPU). Architectures without such
 * stores use clear_page().
 */
static void zp_clear_page_nt(void *addr)
{
#ifdef CONFIG_X86_64
	unsigned long lines = PAGE_SIZE / 64;

	asm volatile("1:	movnti %[zero], 0x00(%[p])\n"
		     "	movnti %[zero], 0x08(%[p])\n"
		     "	movnti %[zero], 0x10(%[p])\n"
		     "	movnti %[zero], 0x18(%[p])\n"
		     "	movnti %[zero], 0x20(%[p])\n"
		     "	movnti %[zero], 0x28(%[p])\n"
		     "	movnti %[zero], 0x30(%[p])\n"
		     "	movnti %[zero], 0x38(%[p])\n"
		     "	addq $64, %[p]\n"
		     "	decq %[n]\n"
		     "	jnz 1b\n"
		     "	sfence\n"
		     : [p] "+r" (addr), [n] "+r" (lines)
		     : [zero] "r" (0UL)
		     : "memory", "cc");
#else
	clear_page(addr);
#endif
}

/* As clear_highpage_kasan_tagged(), with non-temporal stores. */
void zp_clear_highpage_nt(struct page *page)
{
	void *kaddr = kmap_local_page(page);

	kasan_disable_current();
	zp_clear_page_nt(kasan_reset_tag(kaddr));
	kasan_enable_current();
	kunmap_local(kaddr);
}

void zp_cond_resched(void)
{
	cond_resched();
}

bool zp_debug_pagealloc_enabled(void)
{
	return debug_pagealloc_enabled();
}

bool zp_page_poisoning_enabled(void)
{
	return page_poisoning_enabled();
}

bool zp_want_init_on_free(void)
{
	return want_init_on_free();
}
