// SPDX-License-Identifier: GPL-2.0
/*
 * The clearing routines of the zero_page Rust module. No policy lives here.
 *
 * The pages are free: they are cleared without KASAN checks and reports,
 * like kernel_init_pages() does (clear_page() may be a checked memset(),
 * e.g. on riscv).
 */

#include <linux/highmem.h>
#include <linux/kasan.h>
#include <linux/mm.h>

#include "zero_page_shim.h"

void zp_clear_page(struct page *page)
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
static void zp_clear_page_nt_addr(void *addr)
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

/* As zp_clear_page(), with non-temporal stores. */
void zp_clear_page_nt(struct page *page)
{
	void *kaddr;

	kasan_disable_current();
	kaddr = kmap_local_page(page);
	zp_clear_page_nt_addr(kasan_reset_tag(kaddr));
	kunmap_local(kaddr);
	kasan_enable_current();
}
