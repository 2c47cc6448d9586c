// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for the hugetlb_prezero Rust module: one-line wrappers for static
 * inline functions and macros that bindgen cannot expose. No policy lives here.
 */

#include <linux/highmem.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/sched.h>

#include "hugetlb_prezero_shim.h"

unsigned long zh_folio_nr_pages(struct folio *folio)
{
	return folio_nr_pages(folio);
}

struct page *zh_folio_page(struct folio *folio, unsigned long n)
{
	return folio_page(folio, n);
}

void zh_clear_highpage(struct page *page)
{
	clear_highpage(page);
}

void zh_cond_resched(void)
{
	cond_resched();
}
