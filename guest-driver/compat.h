/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version shims for the out-of-tree build of
 * virtio_numahint.  The driver itself is written against the newest API;
 * everything older kernels need is backported here and nowhere else, so
 * that this file can simply be dropped once the driver is in mainline.
 *
 * Copyright (c) 2026 The numahint authors.
 */
#ifndef _NUMAHINT_COMPAT_H
#define _NUMAHINT_COMPAT_H

#include <linux/mmzone.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/virtio_config.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "virtio_numahint needs Linux 6.1 or later"
#endif

/*
 * The largest order the buddy allocator hands out.  Linux 6.4 turned
 * MAX_ORDER from "one past the largest order" into the largest order
 * itself, and 6.8 renamed it MAX_PAGE_ORDER; the old name with the old
 * meaning would silently be off by one.
 */
#if defined(MAX_PAGE_ORDER)
#define NUMAHINT_MAX_PAGE_ORDER		MAX_PAGE_ORDER
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define NUMAHINT_MAX_PAGE_ORDER		MAX_ORDER
#else
#define NUMAHINT_MAX_PAGE_ORDER		(MAX_ORDER - 1)
#endif

/*
 * Linux 6.11 replaced the parallel callbacks[]/names[]/ctx[] arrays of
 * virtio_find_vqs() by one array of struct virtqueue_info.  Older kernels
 * get the new calling convention, translated into the old one.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
struct virtqueue_info {
	/* Queue name; NULL skips the queue and renumbers the ones after it. */
	const char *name;
	/* Used buffer notification handler, or NULL for none. */
	vq_callback_t *callback;
	/* Keep an extra context per buffer; unsupported by this shim. */
	bool ctx;
};

static inline int numahint_compat_find_vqs(struct virtio_device *vdev,
					   unsigned int nvqs,
					   struct virtqueue *vqs[],
					   struct virtqueue_info vqs_info[],
					   struct irq_affinity *desc)
{
	vq_callback_t **callbacks;
	const char **names;
	unsigned int i;
	int err;

	callbacks = kmalloc_array(nvqs, sizeof(*callbacks), GFP_KERNEL);
	names = kmalloc_array(nvqs, sizeof(*names), GFP_KERNEL);
	if (!callbacks || !names) {
		err = -ENOMEM;
		goto out_free;
	}

	for (i = 0; i < nvqs; i++) {
		if (WARN_ON_ONCE(vqs_info[i].ctx)) {
			err = -EINVAL;
			goto out_free;
		}
		callbacks[i] = vqs_info[i].callback;
		names[i] = vqs_info[i].name;
	}

	err = virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, desc);

out_free:
	kfree(names);
	kfree(callbacks);
	return err;
}

#define virtio_find_vqs numahint_compat_find_vqs
#endif

/*
 * The mm_page_alloc tracepoint, whose probe is
 * (void *data, struct page *page, unsigned int order, gfp_t gfp_flags,
 *  int migratetype), has the same prototype in 6.1 and 6.12 and every
 * release between: no shim.  A kernel that changes it must get one here.
 */

#endif /* _NUMAHINT_COMPAT_H */
