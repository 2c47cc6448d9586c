// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for the hugetlb_prezero Rust module: one-line wrappers for static
 * inline functions and macros that bindgen cannot expose. No policy lives here.
 */

#include <linux/sched.h>

#include "hugetlb_prezero_shim.h"

void zh_cond_resched(void)
{
	cond_resched();
}
