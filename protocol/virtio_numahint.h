/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Virtio NUMA hint device (numahint): guest-to-host NUMA placement events.
 *
 * This header is BSD licensed so anyone can use the definitions
 * to implement compatible drivers/servers.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * Overview
 * --------
 * The host places the memory behind a VM by first touch: the host page
 * that backs a guest page lands on the host NUMA node of the vCPU thread
 * that touched it first.  That decision is never revisited, so once the
 * guest recycles a guest-physical page for another task on another vCPU
 * the host backing is on the wrong node.  A numahint device lets the
 * guest tell the host two things:
 *
 *  - free page reports (VIRTIO_NUMAHINT_F_FREE_REPORT): ranges of guest
 *    memory that the guest page allocator has isolated as free.  The device
 *    may discard their host backing, so the next touch is placed by first
 *    touch again.  A range is owned by the device until the request that
 *    carries it has been used; the driver must not hand it out before.
 *
 *  - first-touch events (VIRTIO_NUMAHINT_F_FIRST_TOUCH): guest-physical
 *    extents that the guest has just allocated for a task, and the vCPU
 *    that allocated them.  The device may migrate (never discard) the host
 *    pages behind them to the host node local to that vCPU.
 *
 * A third, debugging feature (VIRTIO_NUMAHINT_F_LOCALITY_PROBE) lets the
 * guest ask which host node backs a guest page and which host node is
 * local to a vCPU.  It reveals host placement to the guest and is meant
 * for tests; devices should offer it only when asked to.
 *
 * All fields are little endian: this is a modern-only (VIRTIO_F_VERSION_1)
 * device.  Addresses are guest-physical; page counts are in units of
 * VIRTIO_NUMAHINT_PAGE_SIZE whatever the guest's own page size.
 */
#ifndef _LINUX_VIRTIO_NUMAHINT_H
#define _LINUX_VIRTIO_NUMAHINT_H

#include <linux/types.h>
#include <linux/virtio_types.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_config.h>

/* --- virtio-numahint: device ID --- */

/*
 * Provisional: the ID has not been reserved with the virtio TC yet and
 * may change before the device is merged anywhere.  Modern virtio-pci
 * device IDs run up to 63 (PCI device ID 0x1040 + 63 = 0x107f).
 */
#ifndef VIRTIO_ID_NUMAHINT
#define VIRTIO_ID_NUMAHINT			60
#endif

/* --- virtio-numahint: feature bits --- */

/* The driver reports free page ranges on the report queue. */
#define VIRTIO_NUMAHINT_F_FREE_REPORT		0
/* The driver reports first-touch events on the touch queue. */
#define VIRTIO_NUMAHINT_F_FIRST_TOUCH		1
/* Debug: the driver may query host placement on the probe queue. */
#define VIRTIO_NUMAHINT_F_LOCALITY_PROBE	2

/* --- virtio-numahint: virtqueues --- */

/*
 * The device always provides all three queues, whatever was negotiated,
 * so that queue indices never depend on the feature set.  A driver uses
 * only the queues of the features it negotiated.
 */
#define VIRTIO_NUMAHINT_VQ_REPORT		0
#define VIRTIO_NUMAHINT_VQ_TOUCH		1
#define VIRTIO_NUMAHINT_VQ_PROBE		2
#define VIRTIO_NUMAHINT_NUM_VQS			3

/* The unit of page counts and of address alignment: 4 KiB. */
#define VIRTIO_NUMAHINT_PAGE_SHIFT		12
#define VIRTIO_NUMAHINT_PAGE_SIZE		(1U << VIRTIO_NUMAHINT_PAGE_SHIFT)

/* --- virtio-numahint: configuration --- */

struct virtio_numahint_config {
	/*
	 * Smallest order (log2 of VIRTIO_NUMAHINT_PAGE_SIZE units) of free
	 * blocks the device suggests the driver report, e.g. 9 for 2 MiB
	 * host huge pages; 0 means no preference.  Cannot change.
	 */
	__le32 report_order;
	/* Maximum number of ranges in one free page report; >= 1. Cannot change. */
	__le32 max_report_ranges;
	/* Maximum number of events in one first-touch request; >= 1. Cannot change. */
	__le32 max_touch_events;
	/*
	 * Longest time, in milliseconds, the driver should hold a first-touch
	 * event before sending it; 1 to 60000.  Can change: the device may
	 * raise it to slow down a guest that sends more than it can place,
	 * and then sends a configuration change notification.
	 */
	__le32 touch_flush_ms;
	/* Maximum number of entries in one probe request; >= 1. Cannot change. */
	__le32 max_probe_entries;
};

/*
 * Bounds of the configuration fields.  A device never offers a value
 * outside them, and never accepts a request larger than they allow
 * whatever it offers; a driver refuses a device that offers one.
 */
#define VIRTIO_NUMAHINT_REPORT_ORDER_MAX		20
#define VIRTIO_NUMAHINT_MAX_REPORT_RANGES_MAX		4096
#define VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_MAX		65536
#define VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_MAX		4096
#define VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN		1
#define VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX		60000

/* --- virtio-numahint: guest -> host requests --- */

/*
 * Every request is a chain of one device-readable buffer, holding a
 * struct virtio_numahint_req immediately followed by nr_entries entries
 * of the type's entry struct, and one device-writable buffer holding a
 * struct virtio_numahint_resp (followed, for probe requests, by one
 * __le32 node per entry).  Either buffer may be split across several
 * descriptors.
 */

/* Free page report, report queue; entries: struct virtio_numahint_range. */
#define VIRTIO_NUMAHINT_REQ_FREE_REPORT		0
/* First-touch events, touch queue; entries: struct virtio_numahint_touch. */
#define VIRTIO_NUMAHINT_REQ_TOUCH		1
/* Host node of guest pages, probe queue; entries: guest-physical addresses. */
#define VIRTIO_NUMAHINT_REQ_PROBE_PAGE		2
/* Host node local to vCPUs, probe queue; entries: CPU ids. */
#define VIRTIO_NUMAHINT_REQ_PROBE_CPU		3

struct virtio_numahint_req {
	/* VIRTIO_NUMAHINT_REQ_* */
	__le16 type;
	__le16 padding;
	/* Number of entries that follow; 1 to the matching config maximum. */
	__le32 nr_entries;
};

/*
 * A free range.  addr and len are multiples of VIRTIO_NUMAHINT_PAGE_SIZE,
 * len is not zero and [addr, addr + len) lies in guest RAM.
 */
struct virtio_numahint_range {
	__le64 addr;
	__le64 len;
};

/*
 * An extent of nr_pages pages at addr, allocated by the vCPU cpu_id.
 * cpu_id is the vCPU's architectural id: the x2APIC ID on x86 (the
 * initial APIC ID where there is no x2APIC), the MPIDR affinity bits
 * packed as Aff3 << 24 | Aff2 << 16 | Aff1 << 8 | Aff0 on Arm, the hart
 * ID on RISC-V.
 */
struct virtio_numahint_touch {
	__le64 addr;
	__le32 nr_pages;
	__le32 cpu_id;
};

/*
 * A probe entry: a guest-physical address, a multiple of
 * VIRTIO_NUMAHINT_PAGE_SIZE, for VIRTIO_NUMAHINT_REQ_PROBE_PAGE; an
 * architectural CPU id (as in struct virtio_numahint_touch, zero-extended)
 * for VIRTIO_NUMAHINT_REQ_PROBE_CPU.
 */
struct virtio_numahint_probe {
	__le64 id;
};

/* --- virtio-numahint: host -> guest responses --- */

/* No entry was invalid.  Applicable for all requests. */
#define VIRTIO_NUMAHINT_RESP_OK			0
/*
 * One or more entries were invalid (outside guest RAM, misaligned, of
 * zero length, overflowing, an unknown vCPU) and were ignored; nr_done
 * counts the others.  Applicable for all requests.
 */
#define VIRTIO_NUMAHINT_RESP_REJECTED		1
/*
 * The request type is unknown, is not valid on this queue, or belongs to
 * a feature that was not negotiated.  Applicable for all requests.
 */
#define VIRTIO_NUMAHINT_RESP_UNSUPPORTED	2

/* Probe result for a page that is not backed, or a vCPU of unknown node. */
#define VIRTIO_NUMAHINT_NODE_NONE		0xffffffffU

struct virtio_numahint_resp {
	/* VIRTIO_NUMAHINT_RESP_* */
	__le16 status;
	__le16 padding;
	/*
	 * Entries acted upon: ranges accepted (discarded, or kept because
	 * the host cannot discard now), events accepted for placement (not
	 * dropped), probe entries answered.
	 */
	__le32 nr_done;
	/* Probe requests only: followed by __le32 node[nr_entries]. */
};

#endif /* _LINUX_VIRTIO_NUMAHINT_H */
