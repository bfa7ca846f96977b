/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page allocation hook behind virtio_numahint's first-touch events:
 * a callback for every page the allocator hands out, registered and
 * unregistered per device.
 *
 * This is the one piece of the driver that mm does not offer as an API.
 * It is built here on the mm_page_alloc tracepoint, which is not exported
 * to modules, so it is found by name.  An in-tree driver would replace
 * this header by a real mm interface with the same three parts: the
 * callback type, register and unregister.
 *
 * Copyright (c) 2026 The numahint authors.
 */
#ifndef _VIRTIO_NUMAHINT_HOOK_H
#define _VIRTIO_NUMAHINT_HOOK_H

#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/kconfig.h>
#include <linux/mm_types.h>
#include <linux/string.h>
#include <linux/tracepoint.h>

/*
 * Called for every page allocation with 2^@order pages at @page (NULL
 * if the allocation failed), its @gfp_flags and @migratetype, and the
 * @data given to virtnumahint_page_alloc_register().  It runs inside the
 * page allocator, in any context that allocates, interrupts included:
 * it must not sleep, allocate or take a lock the allocator may hold.
 * The prototype is that of the mm_page_alloc tracepoint's probes, the
 * same from Linux 6.1 to 6.12.
 */
typedef void (*virtnumahint_page_alloc_fn)(void *data, struct page *page,
					   unsigned int order, gfp_t gfp_flags,
					   int migratetype);

/*
 * Whether this kernel can hook page allocations at all; register and
 * unregister must not be called where it cannot.
 */
static inline bool virtnumahint_page_alloc_hook_supported(void)
{
	return IS_ENABLED(CONFIG_TRACEPOINTS);
}

static inline void virtnumahint_find_page_alloc(struct tracepoint *tp,
						void *priv)
{
	struct tracepoint **found = priv;

	if (!strcmp(tp->name, "mm_page_alloc"))
		*found = tp;
}

/* The mm_page_alloc tracepoint, or NULL; not exported to modules. */
static inline struct tracepoint *virtnumahint_page_alloc_tp(void)
{
	struct tracepoint *tp = NULL;

	for_each_kernel_tracepoint(virtnumahint_find_page_alloc, &tp);
	return tp;
}

/*
 * Have @fn called with @data for every page allocation from now on.
 * Returns 0, -ENOENT if the kernel has no mm_page_alloc tracepoint, or
 * the error of registering with it (-ENOMEM, or -EEXIST for a pair
 * already registered).
 */
static inline int
virtnumahint_page_alloc_register(virtnumahint_page_alloc_fn fn, void *data)
{
	struct tracepoint *tp = virtnumahint_page_alloc_tp();

	if (!tp)
		return -ENOENT;
	return tracepoint_probe_register(tp, (void *)fn, data);
}

/*
 * Stop calling @fn with @data.  Once this returns, no call of it is
 * running or will start.
 */
static inline void
virtnumahint_page_alloc_unregister(virtnumahint_page_alloc_fn fn, void *data)
{
	struct tracepoint *tp = virtnumahint_page_alloc_tp();

	if (tp)
		tracepoint_probe_unregister(tp, (void *)fn, data);
	tracepoint_synchronize_unregister();
}

#endif /* _VIRTIO_NUMAHINT_HOOK_H */
