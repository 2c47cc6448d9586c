/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The clearing routines of the zero_page Rust module (src/zero_page/).
 *
 * @page is a page of a block handed to the module's free page reporting
 * device, which owns it while its ->report() callback runs. The Rust side
 * passes it as a kernel::page_reporting::FreePage, which has the ABI of a
 * struct page pointer.
 */
#ifndef _ZERO_PAGE_SHIM_H
#define _ZERO_PAGE_SHIM_H

struct page;

void zp_clear_page(struct page *page);
void zp_clear_page_nt(struct page *page);

#endif /* _ZERO_PAGE_SHIM_H */
