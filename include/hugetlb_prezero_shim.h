/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shims for the hugetlb_prezero Rust module.
 *
 * Each function is a one-line wrapper around a static inline function or a
 * macro that Rust cannot call directly. They carry no policy; the module's
 * `sys` layer is their only caller.
 *
 * The module also calls the hugetlb pre-zeroing framework of mm/hugetlb.c
 * directly, through opaque pointers (rust/bindings does not include
 * <linux/hugetlb.h>). Its prototypes, in <linux/hugetlb.h>, are:
 *
 *   long hugetlb_zero_free_folio(struct hstate *h, int nid);
 *   unsigned long hugetlb_zero_nr_zeroable(struct hstate *h, int nid);
 *   unsigned long hugetlb_zero_nr_zeroed(struct hstate *h, int nid);
 *   unsigned long hugetlb_zero_nr_zeroing(struct hstate *h, int nid);
 *   unsigned long hugetlb_zero_nr_hits(struct hstate *h);
 *   unsigned long hugetlb_zero_nr_waits(struct hstate *h);
 *   int hugetlb_node_attr_register(struct kobj_attribute *attr, bool notify);
 *   void hugetlb_node_attr_unregister(struct kobj_attribute *attr);
 *   struct hstate *hugetlb_node_kobj_hstate(struct kobject *kobj, int *nidp);
 */
#ifndef _HUGETLB_PREZERO_SHIM_H
#define _HUGETLB_PREZERO_SHIM_H

#include <linux/types.h>

void zh_cond_resched(void);

#endif /* _HUGETLB_PREZERO_SHIM_H */
