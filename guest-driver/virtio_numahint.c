// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio NUMA hint driver.
 *
 * The host places the memory behind a guest by first touch and never
 * revisits that decision, so guest-physical pages recycled between tasks
 * on different vCPUs end up backed on the wrong host node.  A numahint
 * device lets the guest tell the host what it knows about placement; the
 * wire format and its rationale are in virtio_numahint.h.
 *
 * This driver implements free page reports (VIRTIO_NUMAHINT_F_FREE_REPORT)
 * through the kernel's page reporting API, as virtio_balloon does,
 * first-touch events (VIRTIO_NUMAHINT_F_FIRST_TOUCH) from a page
 * allocation hook, and the debugging locality probe
 * (VIRTIO_NUMAHINT_F_LOCALITY_PROBE), exposed in debugfs.
 *
 * First-touch events are recorded by a callback that runs inside the page
 * allocator, in any context that allocates, interrupts included; the hook
 * is virtio_numahint_hook.h, today the mm_page_alloc tracepoint.  It only
 * appends to its CPU's buffer with interrupts off, takes no lock, never
 * sleeps, allocates or touches a shared cache line for writing.  One
 * delayed work per device drains the buffers of all possible CPUs, each
 * on its own CPU through a cross-call (an offline CPU's from wherever
 * the work runs, so a CPU that goes offline leaves nothing behind), and
 * sends the extents on the touch queue without waiting for answers:
 * request buffers come from a small pool, are taken back from the queue
 * callback, and when none is free the events are dropped and counted.
 * The callback wakes the drain through an irq_work, as it cannot queue
 * work from inside the allocator.
 *
 * The file has one section per part, in this order: the definitions all
 * share; the transport (sending requests, checking answers, resetting a
 * failed device); free page reports; first touch; the locality probe;
 * sysfs and debugfs; and the lifecycle (configuration, probe, remove,
 * freeze, restore), which sets up the others.  Functions and file-scope
 * variables are virtnumahint_*, types numahint_*, macros NUMAHINT_*.
 *
 * Copyright (c) 2026 The numahint authors.
 */

#include <linux/atomic.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/page_reporting.h>
#include <linux/percpu.h>
#include <linux/pfn.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "virtio_numahint.h"
#include "virtio_numahint_hook.h"
#include "compat.h"

#if defined(CONFIG_X86)
/* cpu_physical_id() for !CONFIG_SMP */
#include <asm/cpu.h>
#elif defined(CONFIG_ARM64)
#include <asm/cputype.h>
#endif

/*
 * The bounds of the configuration are the protocol's (virtio_numahint.h):
 * they keep the buffers of one request within a few contiguous pages
 * (4096 probe entries are 32 KiB out and 16 KiB in), so that a device
 * cannot make the guest allocate without bound.  A device outside them
 * is refused.
 */

/*
 * How long a synchronous request may take before we stop waiting.  The
 * device answers from its queue handler, so this only fires on a stuck or
 * paused host; the buffers stay with the device until it answers.
 */
#define NUMAHINT_REQ_TIMEOUT		(10 * HZ)

/*
 * A device that needs a reset again within this long of the last one is
 * left reset and idle: a device that keeps failing must not cost the
 * guest a reset loop.
 */
#define NUMAHINT_RESET_INTERVAL		(60 * HZ)

/*
 * First-touch buffering.  Each CPU holds up to NUMAHINT_TOUCH_CPU_EXTENTS
 * extents (4 KiB); reaching NUMAHINT_TOUCH_HIGH_WATER asks for a drain
 * at once instead of after touch_flush_ms.  A request carries at most
 * NUMAHINT_TOUCH_BATCH extents (4 KiB) even if the device takes more, and
 * at most NUMAHINT_TOUCH_POOL requests are with the device at a time.
 */
#define NUMAHINT_TOUCH_CPU_EXTENTS	256
#define NUMAHINT_TOUCH_HIGH_WATER	(NUMAHINT_TOUCH_CPU_EXTENTS * 3 / 4)
#define NUMAHINT_TOUCH_BATCH		256
#define NUMAHINT_TOUCH_POOL		8
/* Drain passes over one busy CPU before the rest waits for the next run. */
#define NUMAHINT_TOUCH_DRAIN_PASSES	4

/* An allocation of 2^@order guest pages, in VIRTIO_NUMAHINT_PAGE_SIZE units. */
#define NUMAHINT_TOUCH_PAGES(order) \
	(1U << ((order) + PAGE_SHIFT - VIRTIO_NUMAHINT_PAGE_SHIFT))

/* Virtqueues; their indices are fixed by the protocol. */
enum numahint_vq {
	/* Free page reports, used with VIRTIO_NUMAHINT_F_FREE_REPORT. */
	NUMAHINT_VQ_REPORT = VIRTIO_NUMAHINT_VQ_REPORT,
	/* First-touch events, used with VIRTIO_NUMAHINT_F_FIRST_TOUCH. */
	NUMAHINT_VQ_TOUCH = VIRTIO_NUMAHINT_VQ_TOUCH,
	/* Locality probes, used with VIRTIO_NUMAHINT_F_LOCALITY_PROBE. */
	NUMAHINT_VQ_PROBE = VIRTIO_NUMAHINT_VQ_PROBE,
	/* Number of queues; the device always has all of them. */
	NUMAHINT_VQ_MAX
};

#define NUMAHINT_STAT(_id, ...)	NUMAHINT_STAT_##_id,

/* Event counters, exported read-only in sysfs; the list is in the header. */
enum numahint_stat {
#include "virtio_numahint_stats.h"
	/* Number of counters. */
	NUMAHINT_STAT_MAX
};

#undef NUMAHINT_STAT

/*
 * The protocol names a vCPU by its architectural id (see struct
 * virtio_numahint_touch).  On x86 that is the APIC ID Linux enumerated the
 * CPU with, the x2APIC ID where there is one.  On arm64 the affinity
 * fields of the MPIDR are packed into 32 bits, Aff3 moving down from bit
 * 32 to bit 24.
 */
static u64 virtnumahint_cpu_arch_id(unsigned int cpu)
{
#if defined(CONFIG_X86)
	return cpu_physical_id(cpu);
#elif defined(CONFIG_ARM64)
	u64 mpidr = cpu_logical_map(cpu);

	return MPIDR_AFFINITY_LEVEL(mpidr, 3) << 24 |
	       MPIDR_AFFINITY_LEVEL(mpidr, 2) << 16 |
	       MPIDR_AFFINITY_LEVEL(mpidr, 1) << 8 |
	       MPIDR_AFFINITY_LEVEL(mpidr, 0);
#elif defined(CONFIG_RISCV)
	return cpuid_to_hartid_map(cpu);
#else
#error "virtio_numahint: no architectural CPU id for this architecture"
#endif
}

/* A probe request as it goes to the device. */
struct numahint_probe_req {
	/* Type VIRTIO_NUMAHINT_REQ_PROBE_PAGE or _CPU and entry count. */
	struct virtio_numahint_req hdr;
	/* One guest-physical address or architectural CPU id each. */
	struct virtio_numahint_probe entries[];
};

/* A probe response as the device writes it. */
struct numahint_probe_resp {
	/* Status and number of entries answered. */
	struct virtio_numahint_resp hdr;
	/* Host node per entry, VIRTIO_NUMAHINT_NODE_NONE if unknown. */
	__le32 node[];
};

/* A free page report as it goes to the device. */
struct numahint_report_req {
	/* Type VIRTIO_NUMAHINT_REQ_FREE_REPORT and range count. */
	struct virtio_numahint_req hdr;
	/* The free blocks, one range each. */
	struct virtio_numahint_range ranges[];
};

/* A first-touch request as it goes to the device. */
struct numahint_touch_req {
	/* Type VIRTIO_NUMAHINT_REQ_TOUCH and extent count. */
	struct virtio_numahint_req hdr;
	/* The extents, all of one drain. */
	struct virtio_numahint_touch entries[];
};

/* One of the pool's request buffers; the token of its request on the vq. */
struct numahint_touch_buf {
	/* Device-readable part, NUMAHINT_TOUCH_BATCH entries long. */
	struct numahint_touch_req *req;
	/* Device-writable part. */
	struct virtio_numahint_resp *resp;
	/* Pages in the extents of req, in VIRTIO_NUMAHINT_PAGE_SIZE units. */
	u64 nr_pages;
};

/* A recorded extent, in the units of the protocol. */
struct numahint_touch_extent {
	/* Guest-physical address. */
	u64 addr;
	/* Length in VIRTIO_NUMAHINT_PAGE_SIZE pages. */
	u32 nr_pages;
};

/*
 * A CPU's first-touch buffer.  Only that CPU writes it, with interrupts
 * off: its probe, which runs in interrupt context too, and the drain's
 * cross-call; an offline CPU's buffer is written by the drain, with CPU
 * hotplug held off.  The probe runs on every page allocation, so it is
 * not worth a lock, even an uncontended one.
 */
struct numahint_touch_cpu {
	/* Extents in buf. */
	unsigned int nr;
	/* Allocations recorded here (coalesced ones included). */
	unsigned long events;
	/* Allocations lost here because buf was full. */
	unsigned long dropped;
	/*
	 * When buf last went from empty to one extent, by
	 * ktime_get_mono_fast_ns(): no event in buf is older.  The probe
	 * reads the clock only then, once per drain at most.
	 */
	u64 since;
	/* Extents not yet drained, the newest last. */
	struct numahint_touch_extent buf[NUMAHINT_TOUCH_CPU_EXTENTS];
};

/* What one take put into the request being filled, for its wait. */
struct numahint_touch_wait {
	/* The since of the buffer it came from. */
	u64 since;
	/* Pages taken, in VIRTIO_NUMAHINT_PAGE_SIZE units. */
	u64 nr_pages;
};

/* One line of the last probe result, as shown in debugfs. */
struct numahint_probe_result {
	/* What was asked: a guest-physical address or a Linux CPU number. */
	u64 value;
	/* The host node the device answered. */
	u32 node;
};

/* Driver state of one numahint device. */
struct virtio_numahint {
	/* The virtio device we drive. */
	struct virtio_device *vdev;
	/* All protocol queues, indexed by enum numahint_vq. */
	struct virtqueue *vqs[NUMAHINT_VQ_MAX];
	/* Woken from the queue callbacks when the device uses a buffer. */
	wait_queue_head_t host_resp;

	/* Suggested free page report order; fixed, read in probe. */
	u32 report_order;
	/* Most ranges in one free page report; fixed, read in probe. */
	u32 max_report_ranges;
	/* Most events in one first-touch request; fixed, read in probe. */
	u32 max_touch_events;
	/* Longest first-touch batching delay; changes, see config_work. */
	u32 touch_flush_ms;
	/* Most entries in one probe request; fixed, read in probe. */
	u32 max_probe_entries;

	/* Re-reads the config fields that can change. */
	struct work_struct config_work;
	/* Set by config_changed, consumed by config_work. */
	atomic_t config_changed;
	/* Protects stop_update against config_changed in interrupt context. */
	spinlock_t stop_update_lock;
	/* Set while config_work must not be queued: removing or frozen. */
	bool stop_update;

	/* Resets the device and sets it up again after DEVICE_NEEDS_RESET. */
	struct work_struct reset_work;
	/* Set, under stop_update_lock, once reset_work must not be queued. */
	bool removing;
	/* Serialises resets of a device that needs one. */
	struct mutex halt_lock;
	/*
	 * The device was reset under us: nothing in flight will be answered,
	 * and no request goes out until restore sets the queues up again.
	 */
	bool halted;
	/* reset_work gave up on the device: it stays halted until restore. */
	bool reset_given_up;
	/* When reset_work last set the device up again, in jiffies. */
	unsigned long reset_jiffies;

	/* This device's directory in debugfs. */
	struct dentry *debugfs_dir;
	/* Event counters, indexed by enum numahint_stat. */
	atomic64_t stats[NUMAHINT_STAT_MAX];

	/* Our page reporting device; its callback sends the reports. */
	struct page_reporting_dev_info pr_dev_info;
	/* pr_dev_info is registered: this device gets the free page reports. */
	bool report_active;
	/* Order of the blocks reported, in guest pages; fixed in probe. */
	unsigned int report_order_used;
	/* Most ranges per request: max_report_ranges, capped by the API's. */
	u32 report_batch;
	/*
	 * Report buffers, DMA mapped so never on the stack.  Only the page
	 * reporting worker uses them, one report at a time.
	 */
	struct numahint_report_req *report_req;
	/* Device-writable answer to report_req. */
	struct virtio_numahint_resp *report_resp;

	/* Serialises probe requests and protects the fields below. */
	struct mutex probe_lock;
	/* Requests may go out: DRIVER_OK is set, not removing or frozen. */
	bool requests_ready;
	/* The device still owns probe_req/probe_resp: we stopped waiting. */
	bool probe_pending;
	/* Device-readable probe buffer; DMA mapped, so never on the stack. */
	struct numahint_probe_req *probe_req;
	/* Device-writable probe buffer, probe_buf_entries long. */
	struct numahint_probe_resp *probe_resp;
	/* Entries the probe buffers hold: max_probe_entries in probe. */
	u32 probe_buf_entries;
	/* Most entries per probe request: max_probe_entries, capped. */
	u32 probe_batch;
	/* Request type of the last answered probe. */
	u16 probe_type;
	/* Valid entries in probe_results; 0 after a failed probe. */
	u32 probe_nr_results;
	/* The last answered probe, probe_buf_entries long. */
	struct numahint_probe_result *probe_results;

	/*
	 * Serialises starting and stopping the mm_page_alloc hook and
	 * protects touch_ready, touch_wanted and touch_cpu's allocation.
	 */
	struct mutex touch_mutex;
	/* The hook may run: DRIVER_OK is set, not removing or frozen. */
	bool touch_ready;
	/* The hook should run: first_touch negotiated, or the debugfs switch. */
	bool touch_wanted;
	/* The probe is registered with mm_page_alloc. */
	bool touch_active;
	/* Per-CPU buffers, allocated when the hook first starts. */
	struct numahint_touch_cpu __percpu *touch_cpu;
	/* Drains the buffers; queued through touch_irq_work. */
	struct delayed_work touch_work;
	/* Lets the probe queue touch_work without taking workqueue locks. */
	struct irq_work touch_irq_work;
	/* touch_work will run: the probe need not kick it for a new extent. */
	bool touch_armed;
	/* A buffer reached NUMAHINT_TOUCH_HIGH_WATER: drain at once. */
	atomic_t touch_urgent;
	/* Extents per request: max_touch_events, capped. */
	u32 touch_batch;
	/* Protects the touch queue and the free list below. */
	spinlock_t touch_lock;
	/* The pool's request buffers; touch_nr_bufs of them are allocated. */
	struct numahint_touch_buf touch_bufs[NUMAHINT_TOUCH_POOL];
	/* Size of the pool: what the queue can hold, up to the maximum. */
	unsigned int touch_nr_bufs;
	/* Buffers the device does not own, a stack of touch_nr_free. */
	struct numahint_touch_buf *touch_free[NUMAHINT_TOUCH_POOL];
	/* Entries in touch_free. */
	unsigned int touch_nr_free;
	/*
	 * The takes in the request the drain is filling, one or more
	 * extents each, so at most NUMAHINT_TOUCH_BATCH: counted by how
	 * long their pages waited once it is sent.  Only the drain uses
	 * them, and drains never run at once (see touch_hook_off).
	 */
	struct numahint_touch_wait touch_waits[NUMAHINT_TOUCH_BATCH];
	/* Entries in touch_waits. */
	unsigned int touch_nr_waits;
};

/* --- Transport: requests, responses, device resets ------------------------ */

/*
 * What every feature shares: counting, the used buffer notification of the
 * synchronous queues, a device that needs a reset, sending a request and
 * waiting for it, and checking the device's answer.
 */

static void virtnumahint_count(struct virtio_numahint *vnh,
			       enum numahint_stat stat)
{
	atomic64_inc(&vnh->stats[stat]);
}

/* Used buffer notification, all queues: a synchronous waiter rechecks. */
static void virtnumahint_ack(struct virtqueue *vq)
{
	struct virtio_numahint *vnh = vq->vdev->priv;

	wake_up_all(&vnh->host_resp);
}

/*
 * The device set DEVICE_NEEDS_RESET: after an error (QEMU's virtio_error)
 * it uses no buffer until it is reset, so nothing in flight will ever be
 * answered.  A status of all ones is what a PCI device reads once it is
 * gone: the transport breaks its queues then, and there is nothing to
 * reset.
 */
static bool virtnumahint_needs_reset(struct virtio_numahint *vnh)
{
	u8 status = vnh->vdev->config->get_status(vnh->vdev);

	return status != 0xff && (status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/*
 * Reset a device that needs it and end every wait for its answers: a
 * free page report in progress fails, so page reporting gives its blocks
 * back to the allocator unreported, and a probe fails with EIO.  The
 * reset comes first: once it is done the device touches none of the
 * pages, and they may go back.  Returns whether the device was reset.
 */
static bool virtnumahint_halt_if_needed(struct virtio_numahint *vnh)
{
	bool reset;

	mutex_lock(&vnh->halt_lock);
	reset = virtnumahint_needs_reset(vnh);
	if (reset) {
		virtio_reset_device(vnh->vdev);
		WRITE_ONCE(vnh->halted, true);
		wake_up_all(&vnh->host_resp);
	}
	mutex_unlock(&vnh->halt_lock);
	return reset;
}

/* Have reset_work bring the device back, unless it is being removed. */
static void virtnumahint_queue_reset(struct virtio_numahint *vnh)
{
	unsigned long flags;

	spin_lock_irqsave(&vnh->stop_update_lock, flags);
	if (!vnh->removing)
		queue_work(system_freezable_wq, &vnh->reset_work);
	spin_unlock_irqrestore(&vnh->stop_update_lock, flags);
}

/*
 * Take our request back if the device has used it.  Callers serialise
 * users of @vq, so @req is the only buffer on it; *@pending is cleared and
 * *@used_len set once it is back.
 */
static bool virtnumahint_reap(struct virtqueue *vq, void *req, bool *pending,
			      unsigned int *used_len)
{
	unsigned int len;
	void *buf;

	while (*pending) {
		buf = virtqueue_get_buf(vq, &len);
		if (!buf)
			break;
		if (buf == req) {
			*pending = false;
			*used_len = len;
		}
	}
	return !*pending;
}

/*
 * Hand one request, @req_len bytes for the device to read and @resp_len
 * bytes for it to write, to @vq and wait until the device has used it.
 * Returns 0 with the number of bytes written in *@used_len, or a negative
 * errno.  If we stop waiting (timeout, fatal signal, broken queue) the
 * device still owns both buffers: *@pending stays set and the caller must
 * not touch them again before virtnumahint_reap() has taken them back.
 * Synchronous requests are the probe's: probe_lock serialises them, so
 * that @req is the only buffer on @vq.
 */
static int virtnumahint_send_sync(struct virtio_numahint *vnh,
				  struct virtqueue *vq, void *req,
				  size_t req_len, void *resp, size_t resp_len,
				  bool *pending, unsigned int *used_len)
{
	struct scatterlist sg_out, sg_in, *sgs[2];
	long left;
	int err;

	lockdep_assert_held(&vnh->probe_lock);
	sg_init_one(&sg_out, req, req_len);
	sg_init_one(&sg_in, resp, resp_len);
	sgs[0] = &sg_out;
	sgs[1] = &sg_in;

	err = virtqueue_add_sgs(vq, sgs, 1, 1, req, GFP_KERNEL);
	if (err)
		return err;
	*pending = true;
	virtqueue_kick(vq);

	left = wait_event_killable_timeout(vnh->host_resp,
					   virtnumahint_reap(vq, req, pending,
							     used_len) ||
					   virtqueue_is_broken(vq) ||
					   READ_ONCE(vnh->halted),
					   NUMAHINT_REQ_TIMEOUT);
	if (!*pending)
		return 0;

	virtnumahint_count(vnh, NUMAHINT_STAT_REQ_ABANDONED);
	if (virtqueue_is_broken(vq) || READ_ONCE(vnh->halted))
		return -EIO;
	if (!left && virtnumahint_halt_if_needed(vnh)) {
		virtnumahint_queue_reset(vnh);
		return -EIO;
	}
	if (left < 0)
		return left;
	dev_warn_ratelimited(&vnh->vdev->dev,
			     "%s: no answer after %u ms, giving up\n",
			     vq->name, jiffies_to_msecs(NUMAHINT_REQ_TIMEOUT));
	return -ETIMEDOUT;
}

/*
 * Check a response: @used_len bytes written, @nr_entries entries asked,
 * @payload bytes of per-entry answers expected after the header unless the
 * request is unsupported.  @all_done says that the device acts on every
 * valid entry (probes: NODE_NONE is an answer too), so OK must come with
 * nr_done == nr_entries; first-touch events may be dropped without error.
 * Returns 0 if no entry was invalid, -EINVAL if the device rejected some
 * (*@nr_done says how many it acted on), -EOPNOTSUPP if it does not
 * support the request, and -EIO if the response cannot be trusted.
 */
static int virtnumahint_check_resp(struct virtio_numahint *vnh,
				   const struct virtio_numahint_resp *resp,
				   unsigned int used_len, u32 nr_entries,
				   size_t payload, bool all_done, u32 *nr_done)
{
	struct device *dev = &vnh->vdev->dev;
	enum numahint_stat stat;
	bool nr_done_ok;
	u16 status;
	int ret;

	/* Our response buffers are exactly sizeof(*resp) + @payload long. */
	if (used_len < sizeof(*resp) || used_len > sizeof(*resp) + payload) {
		dev_warn_ratelimited(dev,
				     "response of %u bytes in a %zu byte buffer\n",
				     used_len, sizeof(*resp) + payload);
		goto malformed;
	}

	status = le16_to_cpu(resp->status);
	*nr_done = le32_to_cpu(resp->nr_done);

	switch (status) {
	case VIRTIO_NUMAHINT_RESP_OK:
		/* No entry was invalid. */
		if (all_done)
			nr_done_ok = *nr_done == nr_entries;
		else
			nr_done_ok = *nr_done <= nr_entries;
		stat = NUMAHINT_STAT_RESP_OK;
		ret = 0;
		break;
	case VIRTIO_NUMAHINT_RESP_REJECTED:
		/* At least one entry was invalid and ignored. */
		nr_done_ok = *nr_done < nr_entries;
		stat = NUMAHINT_STAT_RESP_REJECTED;
		ret = -EINVAL;
		break;
	case VIRTIO_NUMAHINT_RESP_UNSUPPORTED:
		/* Nothing was done, so nothing but the header is due. */
		nr_done_ok = !*nr_done;
		payload = 0;
		stat = NUMAHINT_STAT_RESP_UNSUPPORTED;
		ret = -EOPNOTSUPP;
		break;
	default:
		dev_warn_ratelimited(dev, "unknown response status %u\n",
				     status);
		goto malformed;
	}

	if (!nr_done_ok) {
		dev_warn_ratelimited(dev,
				     "status %u with nr_done %u for %u entries\n",
				     status, *nr_done, nr_entries);
		goto malformed;
	}
	if (used_len < sizeof(*resp) + payload) {
		dev_warn_ratelimited(dev,
				     "status %u response of %u bytes, want %zu\n",
				     status, used_len, sizeof(*resp) + payload);
		goto malformed;
	}
	virtnumahint_count(vnh, stat);
	return ret;

malformed:
	virtnumahint_count(vnh, NUMAHINT_STAT_RESP_MALFORMED);
	return -EIO;
}

/* --- Free page reports (VIRTIO_NUMAHINT_F_FREE_REPORT) -------------------- */

/*
 * The driver is a page reporting device, as virtio_balloon is: the page
 * reporting worker hands it free blocks, isolated from the allocator, and
 * it sends them to the device, one request at a time, waiting for each.
 */

/*
 * The device's report_order counts VIRTIO_NUMAHINT_PAGE_SIZE units, the
 * buddy allocator's orders count guest pages: the difference of scales.
 */
#define NUMAHINT_REPORT_ORDER_SHIFT	(PAGE_SHIFT - VIRTIO_NUMAHINT_PAGE_SHIFT)

/*
 * The lowest order the page reporting API takes from a driver: it reads
 * an order of 0 as "the kernel's default", pageblock_order.
 */
#define NUMAHINT_MIN_REPORT_ORDER	1

static int report_order;
module_param(report_order, int, 0444);
MODULE_PARM_DESC(report_order,
		 "Smallest order (log2 of guest pages) of the free blocks to report: 0 (default) takes the device's suggestion if it makes one, else the kernel's default (pageblock order); 1 is the lowest the kernel accepts; orders above the largest buddy order are clamped. The kernel keeps the order of the first page reporting driver since boot, and page_reporting.page_reporting_order= on the kernel command line overrides both.");

/* The device has used our report, or the queue will never be used again. */
static bool virtnumahint_report_used(struct virtqueue *vq, bool *used,
				     unsigned int *used_len)
{
	/* Reports go out one at a time: any buffer back is ours. */
	*used = virtqueue_get_buf(vq, used_len);
	return *used || virtqueue_is_broken(vq);
}

/*
 * Report the @nr free blocks of @sg in one request, and wait until the
 * device has used it.  Returns the scatterlist entry after the last one
 * sent in *@next.  Returns 0 once the device has used the request, whatever
 * it answered, and a negative errno only if the request could not be sent
 * or the queue broke under it.
 */
static int virtnumahint_report_batch(struct virtio_numahint *vnh,
				     struct scatterlist *sg, unsigned int nr,
				     struct scatterlist **next)
{
	struct virtqueue *vq = vnh->vqs[NUMAHINT_VQ_REPORT];
	struct virtio_numahint_resp *resp = vnh->report_resp;
	struct numahint_report_req *req = vnh->report_req;
	struct scatterlist sg_out, sg_in, *sgs[2];
	unsigned int i, used_len;
	u64 bytes = 0;
	u32 nr_done;
	bool used;
	int err;

	req->hdr.type = cpu_to_le16(VIRTIO_NUMAHINT_REQ_FREE_REPORT);
	req->hdr.padding = 0;
	req->hdr.nr_entries = cpu_to_le32(nr);
	for (i = 0; i < nr; i++, sg = sg_next(sg)) {
		req->ranges[i].addr = cpu_to_le64(page_to_phys(sg_page(sg)));
		req->ranges[i].len = cpu_to_le64(sg->length);
		bytes += sg->length;
	}
	*next = sg;
	memset(resp, 0, sizeof(*resp));

	if (READ_ONCE(vnh->halted)) {
		virtnumahint_count(vnh, NUMAHINT_STAT_REPORT_ERRORS);
		return -EIO;
	}

	sg_init_one(&sg_out, req, struct_size(req, ranges, nr));
	sg_init_one(&sg_in, resp, sizeof(*resp));
	sgs[0] = &sg_out;
	sgs[1] = &sg_in;

	/* The queue is empty and holds two descriptors (see start_report). */
	err = virtqueue_add_sgs(vq, sgs, 1, 1, req, GFP_NOWAIT | __GFP_NOWARN);
	if (err) {
		dev_warn_ratelimited(&vnh->vdev->dev,
				     "cannot queue a free page report: %d\n",
				     err);
		virtnumahint_count(vnh, NUMAHINT_STAT_REPORT_ERRORS);
		return err;
	}
	virtnumahint_count(vnh, NUMAHINT_STAT_REPORT_REQUESTS);
	atomic64_add(nr, &vnh->stats[NUMAHINT_STAT_REPORT_RANGES]);
	virtqueue_kick(vq);

	/*
	 * The reported pages belong to the device until it has used the
	 * request: if we returned earlier, page reporting would hand them
	 * back to the allocator while the host may still discard them.  So
	 * no signal, as in virtio_balloon, and a timeout only to look at
	 * the device: only a broken queue, which the device will never use
	 * again, or a reset, after which it uses nothing, ends the wait.  A
	 * device that needs a reset is reset here too, as its configuration
	 * change notification may come while reset_work cannot run.
	 */
	while (!wait_event_timeout(vnh->host_resp,
				   virtnumahint_report_used(vq, &used,
							    &used_len) ||
				   READ_ONCE(vnh->halted),
				   NUMAHINT_REQ_TIMEOUT))
		if (virtnumahint_halt_if_needed(vnh))
			virtnumahint_queue_reset(vnh);
	if (!used) {
		if (!READ_ONCE(vnh->halted))
			dev_warn_ratelimited(&vnh->vdev->dev,
					     "report queue broken, free page report lost\n");
		virtnumahint_count(vnh, NUMAHINT_STAT_REPORT_ERRORS);
		return -EIO;
	}

	err = virtnumahint_check_resp(vnh, resp, used_len, nr, 0, true,
				      &nr_done);
	switch (err) {
	case 0:
		atomic64_add(bytes, &vnh->stats[NUMAHINT_STAT_REPORT_BYTES]);
		break;
	case -EINVAL:
		/* The answer does not say which ranges were accepted. */
		atomic64_add(nr - nr_done,
			     &vnh->stats[NUMAHINT_STAT_REPORT_REJECTED]);
		break;
	default:
		/*
		 * Used, so the pages are ours again; failing the report
		 * would only have page reporting send them again.
		 */
		virtnumahint_count(vnh, NUMAHINT_STAT_REPORT_ERRORS);
		break;
	}
	return 0;
}

/*
 * page_reporting callback, from its worker: @nents free blocks, isolated
 * from the allocator until we return.  Sent in as many requests as the
 * device's max_report_ranges needs, each waited for before the next.
 */
static int
virtnumahint_free_page_report(struct page_reporting_dev_info *pr_dev_info,
			      struct scatterlist *sg, unsigned int nents)
{
	struct virtio_numahint *vnh =
		container_of(pr_dev_info, struct virtio_numahint, pr_dev_info);
	unsigned int nr;
	int err;

	while (nents) {
		nr = min(nents, vnh->report_batch);
		err = virtnumahint_report_batch(vnh, sg, nr, &sg);
		if (err)
			return err;
		nents -= nr;
	}
	return 0;
}

/*
 * The order of the free blocks to report, in guest pages: the report_order
 * module parameter if set, else the device's suggestion if it makes one,
 * else the kernel's default.  Out of range values are clamped, not refused:
 * the order only trades report traffic against the memory reported.
 */
static unsigned int virtnumahint_pick_report_order(struct virtio_numahint *vnh)
{
	struct device *dev = &vnh->vdev->dev;
	unsigned int order;

	if (report_order < 0)
		dev_warn(dev, "report_order=%d is negative, ignored\n",
			 report_order);

	if (report_order > 0) {
		order = report_order;
		if (order > NUMAHINT_MAX_PAGE_ORDER) {
			dev_info(dev,
				 "report_order=%u is above the guest's largest order %u; reporting blocks of order %u\n",
				 order, NUMAHINT_MAX_PAGE_ORDER,
				 NUMAHINT_MAX_PAGE_ORDER);
			order = NUMAHINT_MAX_PAGE_ORDER;
		}
		return order;
	}

	if (!vnh->report_order)
		return pageblock_order;

	/* Blocks smaller than a guest page: the smallest we can report. */
	if (vnh->report_order <= NUMAHINT_REPORT_ORDER_SHIFT)
		return NUMAHINT_MIN_REPORT_ORDER;

	order = vnh->report_order - NUMAHINT_REPORT_ORDER_SHIFT;
	if (order > NUMAHINT_MAX_PAGE_ORDER) {
		dev_info(dev,
			 "device suggests report_order %u, above the guest's largest order %u; reporting blocks of order %u\n",
			 vnh->report_order,
			 NUMAHINT_MAX_PAGE_ORDER + NUMAHINT_REPORT_ORDER_SHIFT,
			 NUMAHINT_MAX_PAGE_ORDER);
		order = NUMAHINT_MAX_PAGE_ORDER;
	}
	return max_t(unsigned int, order, NUMAHINT_MIN_REPORT_ORDER);
}

/*
 * The report buffer holds as many ranges as page reporting hands over at
 * once, whatever the device takes, so that restore never needs a larger
 * one: see virtnumahint_fit_batches().
 */
static int virtnumahint_alloc_report(struct virtio_numahint *vnh)
{
	vnh->report_batch = min_t(u32, vnh->max_report_ranges,
				  PAGE_REPORTING_CAPACITY);
	vnh->report_req = kmalloc(struct_size(vnh->report_req, ranges,
					      PAGE_REPORTING_CAPACITY),
				  GFP_KERNEL);
	vnh->report_resp = kmalloc(sizeof(*vnh->report_resp), GFP_KERNEL);
	if (!vnh->report_req || !vnh->report_resp)
		return -ENOMEM;
	vnh->report_order_used = virtnumahint_pick_report_order(vnh);
	vnh->pr_dev_info.report = virtnumahint_free_page_report;
	vnh->pr_dev_info.order = vnh->report_order_used;
	return 0;
}

static void virtnumahint_free_report(struct virtio_numahint *vnh)
{
	kfree(vnh->report_resp);
	kfree(vnh->report_req);
}

/*
 * Become the guest's page reporting device; DRIVER_OK must be set, as
 * reports go out from the moment we register.  Only one driver can have
 * free page reports: without them the device still serves the rest.
 */
static void virtnumahint_start_report(struct virtio_numahint *vnh)
{
	struct virtio_device *vdev = vnh->vdev;
	struct virtqueue *vq = vnh->vqs[NUMAHINT_VQ_REPORT];
	int err;

	if (!IS_ENABLED(CONFIG_PAGE_REPORTING) ||
	    !virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FREE_REPORT))
		return;

	/* A request must fit in the empty queue without allocating. */
	if (virtqueue_get_vring_size(vq) < 2) {
		dev_warn(&vdev->dev,
			 "report queue of %u entries is too small; free page reports disabled\n",
			 virtqueue_get_vring_size(vq));
		return;
	}

	err = page_reporting_register(&vnh->pr_dev_info);
	if (err == -EBUSY) {
		dev_warn(&vdev->dev,
			 "free page reporting is already taken by another driver (virtio_balloon?); free page reports disabled, other features keep working\n");
		return;
	}
	if (err) {
		dev_warn(&vdev->dev,
			 "cannot register for free page reporting (%d); free page reports disabled\n",
			 err);
		return;
	}
	WRITE_ONCE(vnh->report_active, true);
	dev_info(&vdev->dev, "free page reporting of order %u enabled\n",
		 vnh->report_order_used);
}

/*
 * Stop free page reports.  Unregistering waits for a report in progress,
 * which needs the device alive: call this before resetting it.  The
 * wakeup lets such a report notice a queue broken by surprise removal.
 */
static void virtnumahint_stop_report(struct virtio_numahint *vnh)
{
	if (!IS_ENABLED(CONFIG_PAGE_REPORTING) || !vnh->report_active)
		return;

	wake_up_all(&vnh->host_resp);
	page_reporting_unregister(&vnh->pr_dev_info);
	WRITE_ONCE(vnh->report_active, false);
}

/* --- First touch (VIRTIO_NUMAHINT_F_FIRST_TOUCH) -------------------------- */

/*
 * The page allocation hook (virtio_numahint_hook.h) records the user page
 * allocations of each CPU in its buffer; touch_work drains the buffers
 * into requests that go to the device without waiting for answers.
 */

/* Which page allocations count as first touches: see touch_filter. */
enum numahint_touch_filter {
	/* User pages: __GFP_HARDWALL and __GFP_MOVABLE, MIGRATE_MOVABLE. */
	NUMAHINT_TOUCH_USER_MOVABLE,
	/* Every allocation with __GFP_HARDWALL (GFP_USER and above). */
	NUMAHINT_TOUCH_USER,
	/* Every MIGRATE_MOVABLE allocation, user or kernel. */
	NUMAHINT_TOUCH_MOVABLE,
	/* Every allocation. */
	NUMAHINT_TOUCH_ALL,
};

static const char * const virtnumahint_touch_filter_names[] = {
	[NUMAHINT_TOUCH_USER_MOVABLE]	= "user_movable",
	[NUMAHINT_TOUCH_USER]		= "user",
	[NUMAHINT_TOUCH_MOVABLE]	= "movable",
	[NUMAHINT_TOUCH_ALL]		= "all",
};

static int touch_filter = NUMAHINT_TOUCH_USER_MOVABLE;

/*
 * An allocation's gfp flags, with this bit for MIGRATE_MOVABLE above them;
 * it is a first touch when all the bits of its filter's mask are set.
 */
#define NUMAHINT_TOUCH_MOVABLE_TYPE	BIT_ULL(32)
#define NUMAHINT_TOUCH_GFP(flags)	((__force u64)(flags))
#define NUMAHINT_TOUCH_USER_MOVABLE_MASK \
	(NUMAHINT_TOUCH_GFP(__GFP_HARDWALL | __GFP_MOVABLE) | \
	 NUMAHINT_TOUCH_MOVABLE_TYPE)

static const u64 virtnumahint_touch_filter_masks[] = {
	[NUMAHINT_TOUCH_USER_MOVABLE]	= NUMAHINT_TOUCH_USER_MOVABLE_MASK,
	[NUMAHINT_TOUCH_USER]		= NUMAHINT_TOUCH_GFP(__GFP_HARDWALL),
	[NUMAHINT_TOUCH_MOVABLE]	= NUMAHINT_TOUCH_MOVABLE_TYPE,
	[NUMAHINT_TOUCH_ALL]		= 0,
};

/* touch_filter's mask, read by the probe: one load and one test. */
static u64 virtnumahint_touch_filter_mask = NUMAHINT_TOUCH_USER_MOVABLE_MASK;

static int virtnumahint_touch_filter_set(const char *val,
					 const struct kernel_param *kp)
{
	int filter = sysfs_match_string(virtnumahint_touch_filter_names, val);

	if (filter < 0)
		return filter;
	WRITE_ONCE(*(int *)kp->arg, filter);
	WRITE_ONCE(virtnumahint_touch_filter_mask,
		   virtnumahint_touch_filter_masks[filter]);
	return 0;
}

static int virtnumahint_touch_filter_get(char *buffer,
					 const struct kernel_param *kp)
{
	return scnprintf(buffer, PAGE_SIZE, "%s\n",
			 virtnumahint_touch_filter_names[READ_ONCE(*(int *)kp->arg)]);
}

static const struct kernel_param_ops virtnumahint_touch_filter_ops = {
	.set	= virtnumahint_touch_filter_set,
	.get	= virtnumahint_touch_filter_get,
};
module_param_cb(touch_filter, &virtnumahint_touch_filter_ops, &touch_filter,
		0644);
MODULE_PARM_DESC(touch_filter,
		 "Page allocations reported as first touches: user_movable (default: GFP_HIGHUSER_MOVABLE-like, __GFP_HARDWALL and __GFP_MOVABLE from MIGRATE_MOVABLE, i.e. anonymous, page cache and THP pages of tasks), user (any __GFP_HARDWALL allocation), movable (any MIGRATE_MOVABLE allocation) or all. Can change at run time.");

/*
 * Whether an allocation of @gfp_flags from @migratetype is a first touch
 * worth reporting, per the touch_filter module parameter.
 */
static bool virtnumahint_touch_wanted(gfp_t gfp_flags, int migratetype)
{
	u64 mask = READ_ONCE(virtnumahint_touch_filter_mask);
	u64 key = NUMAHINT_TOUCH_GFP(gfp_flags);

	if (migratetype == MIGRATE_MOVABLE)
		key |= NUMAHINT_TOUCH_MOVABLE_TYPE;
	return (key & mask) == mask;
}

/* Have touch_work run: at once if @urgent, else within touch_flush_ms. */
static void virtnumahint_touch_kick(struct virtio_numahint *vnh, bool urgent)
{
	if (urgent)
		atomic_set(&vnh->touch_urgent, 1);
	irq_work_queue(&vnh->touch_irq_work);
}

/*
 * The probe's first extent in an empty buffer, with interrupts off as
 * @flags left them: record it with the time, for touch_sent_*, and have
 * a drain due.  Out of line and last in the probe, a tail call, so that
 * the clock read, once per drain, costs the probe's other allocations
 * nothing, not even registers saved.
 */
static noinline void
virtnumahint_touch_first(struct virtio_numahint *vnh,
			 struct numahint_touch_cpu *tc, u64 addr, u32 pages,
			 unsigned long flags)
{
	tc->since = ktime_get_mono_fast_ns();
	tc->buf[0].addr = addr;
	tc->buf[0].nr_pages = pages;
	tc->nr = 1;
	WRITE_ONCE(tc->events, tc->events + 1);
	local_irq_restore(flags);

	if (!READ_ONCE(vnh->touch_armed))
		virtnumahint_touch_kick(vnh, false);
}

/*
 * mm_page_alloc probe: record 2^@order pages at @page, allocated by this
 * CPU, in its buffer.  Runs inside the page allocator with preemption
 * off, in process or interrupt context: no sleeping, no allocation, no
 * lock.  Interrupts are off while it writes the buffer, which keeps out
 * both an allocating interrupt and the drain's cross-call.  This runs on
 * every page fault: experiments/fault-overhead measures what it costs.
 */
static void virtnumahint_touch_probe(void *data, struct page *page,
				     unsigned int order, gfp_t gfp_flags,
				     int migratetype)
{
	struct virtio_numahint *vnh = data;
	struct numahint_touch_extent *last;
	struct numahint_touch_cpu *tc;
	unsigned long flags;
	unsigned int nr;
	u32 pages;
	u64 addr;

	/* page is NULL when the allocation failed. */
	if (!page || !virtnumahint_touch_wanted(gfp_flags, migratetype))
		return;

	addr = PFN_PHYS(page_to_pfn(page));
	pages = NUMAHINT_TOUCH_PAGES(order);
	tc = this_cpu_ptr(vnh->touch_cpu);

	local_irq_save(flags);
	nr = tc->nr;
	if (!nr) {
		virtnumahint_touch_first(vnh, tc, addr, pages, flags);
		return;
	}
	/* Runs of pages come in ascending, sometimes descending order. */
	last = &tc->buf[nr - 1];
	if (last->nr_pages <= U32_MAX - pages) {
		if (last->addr + ((u64)last->nr_pages <<
				  VIRTIO_NUMAHINT_PAGE_SHIFT) == addr) {
			last->nr_pages += pages;
			goto out_recorded;
		}
		if (addr + ((u64)pages << VIRTIO_NUMAHINT_PAGE_SHIFT) ==
		    last->addr) {
			last->addr = addr;
			last->nr_pages += pages;
			goto out_recorded;
		}
	}
	if (nr == NUMAHINT_TOUCH_CPU_EXTENTS) {
		WRITE_ONCE(tc->dropped, tc->dropped + 1);
		local_irq_restore(flags);
		return;
	}
	tc->buf[nr].addr = addr;
	tc->buf[nr].nr_pages = pages;
	tc->nr = ++nr;
out_recorded:
	WRITE_ONCE(tc->events, tc->events + 1);
	local_irq_restore(flags);

	/*
	 * A first extent needs a drain to be due, unless one is already;
	 * touch_work clears touch_armed before it drains, so an extent
	 * added after its drain of this CPU sees the flag clear.
	 */
	if (nr == NUMAHINT_TOUCH_HIGH_WATER)
		virtnumahint_touch_kick(vnh, true);
	else if (nr == 1 && !READ_ONCE(vnh->touch_armed))
		virtnumahint_touch_kick(vnh, false);
}

/* irq_work: queue touch_work, which the probe itself cannot. */
static void virtnumahint_touch_irq_work(struct irq_work *work)
{
	struct virtio_numahint *vnh =
		container_of(work, struct virtio_numahint, touch_irq_work);

	WRITE_ONCE(vnh->touch_armed, true);
	if (atomic_xchg(&vnh->touch_urgent, 0))
		mod_delayed_work(system_freezable_wq, &vnh->touch_work, 0);
	else
		queue_delayed_work(system_freezable_wq, &vnh->touch_work,
				   msecs_to_jiffies(READ_ONCE(vnh->touch_flush_ms)));
}

/* Account for a used touch request. */
static void virtnumahint_touch_complete(struct virtio_numahint *vnh,
					struct numahint_touch_buf *buf,
					unsigned int used_len)
{
	u32 nr = le32_to_cpu(buf->req->hdr.nr_entries);
	u32 nr_done;

	lockdep_assert_held(&vnh->touch_lock);
	/* Events may be dropped by the device without error: not all_done. */
	switch (virtnumahint_check_resp(vnh, buf->resp, used_len, nr, 0, false,
					&nr_done)) {
	case 0:
		atomic64_add(nr_done, &vnh->stats[NUMAHINT_STAT_TOUCH_ACCEPTED]);
		/* Only a request taken in full says which pages were. */
		if (nr_done == nr)
			atomic64_add(buf->nr_pages,
				     &vnh->stats[NUMAHINT_STAT_TOUCH_PAGES_ACCEPTED]);
		break;
	case -EINVAL:
		atomic64_add(nr_done, &vnh->stats[NUMAHINT_STAT_TOUCH_ACCEPTED]);
		atomic64_add(nr - nr_done,
			     &vnh->stats[NUMAHINT_STAT_TOUCH_REJECTED]);
		break;
	case -EOPNOTSUPP:
		virtnumahint_count(vnh, NUMAHINT_STAT_TOUCH_UNSUPPORTED);
		break;
	default:
		/* OK, or malformed: counted as such by check_resp. */
		break;
	}
}

/* Take back the requests the device has used. */
static void virtnumahint_touch_reap(struct virtio_numahint *vnh)
{
	struct virtqueue *vq = vnh->vqs[NUMAHINT_VQ_TOUCH];
	struct numahint_touch_buf *buf;
	unsigned int len;

	lockdep_assert_held(&vnh->touch_lock);
	while ((buf = virtqueue_get_buf(vq, &len))) {
		virtnumahint_touch_complete(vnh, buf, len);
		vnh->touch_free[vnh->touch_nr_free++] = buf;
	}
}

/* Used buffer notification of the touch queue. */
static void virtnumahint_touch_done(struct virtqueue *vq)
{
	struct virtio_numahint *vnh = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vnh->touch_lock, flags);
	virtnumahint_touch_reap(vnh);
	spin_unlock_irqrestore(&vnh->touch_lock, flags);
}

/*
 * A request buffer the device does not own, or NULL if all are in flight,
 * the device was reset under us, or first_touch was not negotiated (the
 * debugfs switch runs the hook without a device to send to).
 */
static struct numahint_touch_buf *
virtnumahint_touch_get_buf(struct virtio_numahint *vnh)
{
	struct numahint_touch_buf *buf = NULL;

	if (!virtio_has_feature(vnh->vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH) ||
	    READ_ONCE(vnh->halted))
		return NULL;

	spin_lock_irq(&vnh->touch_lock);
	virtnumahint_touch_reap(vnh);
	if (vnh->touch_nr_free)
		buf = vnh->touch_free[--vnh->touch_nr_free];
	spin_unlock_irq(&vnh->touch_lock);
	return buf;
}

/*
 * Count the pages of the request just sent into the touch_sent_*
 * histogram, each take's by the time from its buffer's since to now: an
 * upper bound of how long each of its pages waited in the guest, and
 * the longest such wait into touch_sent_max_ms.  The buckets are those
 * of the device's touch-placed-* counters, in whole milliseconds as
 * there.  Drains never run at once: nobody else writes the maximum.
 */
static void virtnumahint_touch_count_waits(struct virtio_numahint *vnh)
{
	static const u16 edges_ms[] = { 10, 50, 100, 150, 200, 500, 1000, 5000 };
	u64 now = ktime_get_mono_fast_ns();
	atomic64_t *max_ms = &vnh->stats[NUMAHINT_STAT_TOUCH_SENT_MAX_MS];
	struct numahint_touch_wait *wait;
	unsigned int i, bucket;
	u64 wait_ms;

	BUILD_BUG_ON(ARRAY_SIZE(edges_ms) != NUMAHINT_STAT_TOUCH_SENT_LATER -
		     NUMAHINT_STAT_TOUCH_SENT_10MS);
	for (i = 0; i < vnh->touch_nr_waits; i++) {
		wait = &vnh->touch_waits[i];
		wait_ms = div_u64(now - wait->since, NSEC_PER_MSEC);
		for (bucket = 0; bucket < ARRAY_SIZE(edges_ms); bucket++)
			if (wait_ms <= edges_ms[bucket])
				break;
		atomic64_add(wait->nr_pages,
			     &vnh->stats[NUMAHINT_STAT_TOUCH_SENT_10MS + bucket]);
		if (wait_ms > (u64)atomic64_read(max_ms))
			atomic64_set(max_ms, wait_ms);
	}
	vnh->touch_nr_waits = 0;
}

/*
 * Hand @nr extents in @buf to the device, without waiting for it, and
 * count them, with how long their pages waited (touch_waits).
 */
static void virtnumahint_touch_send(struct virtio_numahint *vnh,
				    struct numahint_touch_buf *buf, u32 nr)
{
	struct virtqueue *vq = vnh->vqs[NUMAHINT_VQ_TOUCH];
	struct scatterlist sg_out, sg_in, *sgs[2];
	/* buf is the device's once queued: the callback may reuse it. */
	u64 pages = buf->nr_pages;
	bool notify;
	int err;

	buf->req->hdr.type = cpu_to_le16(VIRTIO_NUMAHINT_REQ_TOUCH);
	buf->req->hdr.padding = 0;
	buf->req->hdr.nr_entries = cpu_to_le32(nr);
	memset(buf->resp, 0, sizeof(*buf->resp));

	sg_init_one(&sg_out, buf->req, struct_size(buf->req, entries, nr));
	sg_init_one(&sg_in, buf->resp, sizeof(*buf->resp));
	sgs[0] = &sg_out;
	sgs[1] = &sg_in;

	spin_lock_irq(&vnh->touch_lock);
	err = virtqueue_add_sgs(vq, sgs, 1, 1, buf, GFP_ATOMIC);
	if (err) {
		vnh->touch_free[vnh->touch_nr_free++] = buf;
		spin_unlock_irq(&vnh->touch_lock);
		dev_warn_ratelimited(&vnh->vdev->dev,
				     "cannot queue first-touch events: %d\n",
				     err);
		atomic64_add(nr, &vnh->stats[NUMAHINT_STAT_TOUCH_UNSENT]);
		vnh->touch_nr_waits = 0;
		return;
	}
	notify = virtqueue_kick_prepare(vq);
	spin_unlock_irq(&vnh->touch_lock);
	if (notify)
		virtqueue_notify(vq);

	virtnumahint_count(vnh, NUMAHINT_STAT_TOUCH_REQUESTS);
	atomic64_add(nr, &vnh->stats[NUMAHINT_STAT_TOUCH_ENTRIES]);
	atomic64_add(pages, &vnh->stats[NUMAHINT_STAT_TOUCH_PAGES]);
	virtnumahint_touch_count_waits(vnh);
}

/* What the drain takes from one CPU's buffer, and where it puts it. */
struct numahint_touch_take {
	/* The CPU's buffer. */
	struct numahint_touch_cpu *tc;
	/* Where the extents go, or NULL to take them all and drop them. */
	struct virtio_numahint_touch *entries;
	/* Most extents entries has room for. */
	unsigned int room;
	/* The CPU's architectural id, for each entry. */
	u32 cpu_id;
	/* Out: extents taken. */
	unsigned int nr;
	/* Out: the buffer's since; none of the extents taken is older. */
	u64 since;
	/* Out: pages in them, in VIRTIO_NUMAHINT_PAGE_SIZE units. */
	u64 nr_pages;
};

/*
 * Move the newest extents of a CPU's buffer into a request, on that CPU
 * with interrupts off (a cross-call), or anywhere if the CPU is offline.
 */
static void virtnumahint_touch_take(void *info)
{
	struct numahint_touch_take *take = info;
	struct numahint_touch_cpu *tc = take->tc;
	struct virtio_numahint_touch *entry;
	struct numahint_touch_extent *ext;
	unsigned int i, n;

	n = take->entries ? min(tc->nr, take->room) : tc->nr;
	tc->nr -= n;
	take->nr = n;
	take->since = tc->since;
	take->nr_pages = 0;
	if (!take->entries)
		return;
	for (i = 0; i < n; i++) {
		ext = &tc->buf[tc->nr + i];
		entry = &take->entries[i];
		entry->addr = cpu_to_le64(ext->addr);
		entry->nr_pages = cpu_to_le32(ext->nr_pages);
		entry->cpu_id = cpu_to_le32(take->cpu_id);
		take->nr_pages += ext->nr_pages;
	}
}

/*
 * Take from @cpu's buffer where only its writer may: on @cpu, which keeps
 * its probe out, or here if it is offline and cannot run one.  CPU
 * hotplug is held off by the caller.
 */
static void virtnumahint_touch_take_from(unsigned int cpu,
					 struct numahint_touch_take *take)
{
	if (cpu_online(cpu))
		smp_call_function_single(cpu, virtnumahint_touch_take, take, 1);
	else
		virtnumahint_touch_take(take);
}

/*
 * Move the extents of every possible CPU's buffer into requests and send
 * them, each taken on its own CPU, with CPU hotplug held off.  Offline
 * CPUs are drained too: whatever a CPU recorded before it went down goes
 * out with the next drain.  Returns false if a CPU kept its buffer busy
 * for NUMAHINT_TOUCH_DRAIN_PASSES passes.
 */
static bool virtnumahint_touch_drain(struct virtio_numahint *vnh)
{
	struct numahint_touch_buf *buf = NULL;
	struct numahint_touch_wait *wait;
	struct numahint_touch_take take;
	unsigned int cpu, pass;
	bool drained = true;
	u32 nr = 0;

	cpus_read_lock();
	for_each_possible_cpu(cpu) {
		take.tc = per_cpu_ptr(vnh->touch_cpu, cpu);
		take.cpu_id = virtnumahint_cpu_arch_id(cpu);
		for (pass = 0; READ_ONCE(take.tc->nr); pass++) {
			if (pass == NUMAHINT_TOUCH_DRAIN_PASSES) {
				drained = false;
				break;
			}
			if (!buf) {
				buf = virtnumahint_touch_get_buf(vnh);
				if (buf)
					buf->nr_pages = 0;
			}
			if (!buf) {
				/* Nowhere to send them: count them unsent. */
				take.entries = NULL;
				virtnumahint_touch_take_from(cpu, &take);
				atomic64_add(take.nr,
					     &vnh->stats[NUMAHINT_STAT_TOUCH_UNSENT]);
				break;
			}

			take.entries = &buf->req->entries[nr];
			take.room = vnh->touch_batch - nr;
			virtnumahint_touch_take_from(cpu, &take);
			buf->nr_pages += take.nr_pages;
			nr += take.nr;
			/* A take has an extent at least: touch_waits has room. */
			if (take.nr) {
				wait = &vnh->touch_waits[vnh->touch_nr_waits++];
				wait->since = take.since;
				wait->nr_pages = take.nr_pages;
			}
			if (nr == vnh->touch_batch) {
				virtnumahint_touch_send(vnh, buf, nr);
				buf = NULL;
				nr = 0;
			}
		}
	}
	cpus_read_unlock();

	if (buf && nr) {
		virtnumahint_touch_send(vnh, buf, nr);
	} else if (buf) {
		spin_lock_irq(&vnh->touch_lock);
		vnh->touch_free[vnh->touch_nr_free++] = buf;
		spin_unlock_irq(&vnh->touch_lock);
	}
	return drained;
}

static void virtnumahint_touch_work(struct work_struct *work)
{
	struct virtio_numahint *vnh =
		container_of(to_delayed_work(work), struct virtio_numahint,
			     touch_work);

	WRITE_ONCE(vnh->touch_armed, false);
	/*
	 * Order the clear before the drain's cross-calls: a probe that
	 * adds a first extent after we drained its CPU sees it clear.
	 */
	smp_mb();

	if (!virtnumahint_touch_drain(vnh))
		virtnumahint_touch_kick(vnh, true);
}

static int virtnumahint_alloc_touch_cpu(struct virtio_numahint *vnh)
{
	struct numahint_touch_cpu __percpu *touch_cpu;

	if (vnh->touch_cpu)
		return 0;

	touch_cpu = alloc_percpu(struct numahint_touch_cpu);
	if (!touch_cpu)
		return -ENOMEM;
	/* sysfs reads the per-CPU counters without touch_mutex. */
	smp_store_release(&vnh->touch_cpu, touch_cpu);
	return 0;
}

/* Register the hook if it is wanted and may run. */
static int virtnumahint_touch_hook_on(struct virtio_numahint *vnh)
{
	int err;

	lockdep_assert_held(&vnh->touch_mutex);
	if (!virtnumahint_page_alloc_hook_supported() || vnh->touch_active ||
	    !vnh->touch_ready || !vnh->touch_wanted)
		return 0;

	err = virtnumahint_alloc_touch_cpu(vnh);
	if (err)
		return err;

	err = virtnumahint_page_alloc_register(virtnumahint_touch_probe, vnh);
	if (err)
		return err;
	WRITE_ONCE(vnh->touch_active, true);
	return 0;
}

/*
 * Unregister the hook and send what it recorded; the device must still
 * be alive.  Once this returns, the probe, the irq_work and touch_work
 * are done with the buffers.
 */
static void virtnumahint_touch_hook_off(struct virtio_numahint *vnh)
{
	lockdep_assert_held(&vnh->touch_mutex);
	if (!vnh->touch_active)
		return;

	virtnumahint_page_alloc_unregister(virtnumahint_touch_probe, vnh);
	WRITE_ONCE(vnh->touch_active, false);

	/* The probe is gone; its last kick may still be queueing the work. */
	irq_work_sync(&vnh->touch_irq_work);
	cancel_delayed_work_sync(&vnh->touch_work);
	atomic_set(&vnh->touch_urgent, 0);
	WRITE_ONCE(vnh->touch_armed, false);
	virtnumahint_touch_drain(vnh);
}

/*
 * DRIVER_OK is set: hook mm_page_alloc if first_touch was negotiated.  A
 * failure leaves the device working without first-touch events, and
 * touch_active at 0.
 */
static void virtnumahint_start_touch(struct virtio_numahint *vnh)
{
	int err;

	mutex_lock(&vnh->touch_mutex);
	vnh->touch_ready = true;
	err = virtnumahint_touch_hook_on(vnh);
	mutex_unlock(&vnh->touch_mutex);
	if (err)
		dev_warn(&vnh->vdev->dev,
			 "cannot hook mm_page_alloc (%d%s); first-touch events disabled\n",
			 err, err == -ENOENT ? ": no such tracepoint" : "");
}

/*
 * Unhook mm_page_alloc for good, or until restore.  Call this first in
 * remove and freeze, while the device can still take what was recorded.
 */
static void virtnumahint_stop_touch(struct virtio_numahint *vnh)
{
	mutex_lock(&vnh->touch_mutex);
	vnh->touch_ready = false;
	virtnumahint_touch_hook_off(vnh);
	mutex_unlock(&vnh->touch_mutex);
}

static int virtnumahint_alloc_touch(struct virtio_numahint *vnh)
{
	struct numahint_touch_buf *buf;
	unsigned int i;

	/* Full size, whatever the device takes, as for reports. */
	vnh->touch_batch = min_t(u32, vnh->max_touch_events,
				 NUMAHINT_TOUCH_BATCH);
	for (i = 0; i < NUMAHINT_TOUCH_POOL; i++) {
		buf = &vnh->touch_bufs[i];
		buf->req = kmalloc(struct_size(buf->req, entries,
					       NUMAHINT_TOUCH_BATCH),
				   GFP_KERNEL);
		buf->resp = kmalloc(sizeof(*buf->resp), GFP_KERNEL);
		if (!buf->req || !buf->resp)
			return -ENOMEM;
	}
	return 0;
}

static void virtnumahint_free_touch(struct virtio_numahint *vnh)
{
	unsigned int i;

	for (i = 0; i < NUMAHINT_TOUCH_POOL; i++) {
		kfree(vnh->touch_bufs[i].resp);
		kfree(vnh->touch_bufs[i].req);
	}
}

/*
 * After the queues are set up, and again after a reset: every buffer is
 * ours.  A request takes two descriptors, so a queue of N entries holds
 * N / 2 requests at least.
 */
static void virtnumahint_reset_touch_pool(struct virtio_numahint *vnh)
{
	unsigned int i, size;

	size = virtqueue_get_vring_size(vnh->vqs[NUMAHINT_VQ_TOUCH]);
	vnh->touch_nr_bufs = min_t(unsigned int, NUMAHINT_TOUCH_POOL, size / 2);
	for (i = 0; i < vnh->touch_nr_bufs; i++)
		vnh->touch_free[i] = &vnh->touch_bufs[i];
	vnh->touch_nr_free = vnh->touch_nr_bufs;
}

/* --- Locality probe (VIRTIO_NUMAHINT_F_LOCALITY_PROBE) -------------------- */

/*
 * Which host node backs a guest page or is local to a vCPU: asked through
 * the debugfs probe file, one synchronous request at a time.
 */

/*
 * Longest probe command accepted from debugfs: the keyword plus, for every
 * entry, a 64-bit value in hex with prefix or in decimal and a separator.
 */
#define NUMAHINT_PROBE_CMD_LEN(entries)	(16 + (size_t)(entries) * 24)

/*
 * Ask the device for the host node of @nr guest pages or CPUs (@type is
 * VIRTIO_NUMAHINT_REQ_PROBE_PAGE or _CPU) and keep the answer for debugfs.
 * @values are guest-physical addresses or Linux CPU numbers.
 */
static int virtnumahint_probe_nodes(struct virtio_numahint *vnh, u16 type,
				    const u64 *values, u32 nr)
{
	struct virtqueue *vq = vnh->vqs[NUMAHINT_VQ_PROBE];
	struct numahint_probe_resp *resp = vnh->probe_resp;
	struct numahint_probe_req *req = vnh->probe_req;
	struct numahint_probe_result *res;
	unsigned int used_len;
	u32 i, nr_done;
	u64 id;
	int err;

	/* Another writer may be waiting for a device that does not answer. */
	if (mutex_lock_killable(&vnh->probe_lock))
		return -EINTR;
	/* Whatever happens, the previous answer is no longer the last one. */
	vnh->probe_nr_results = 0;

	if (!vnh->requests_ready || READ_ONCE(vnh->halted)) {
		err = -ENODEV;
		goto out_unlock;
	}
	/* The device may take fewer entries since restore. */
	if (nr > vnh->probe_batch) {
		err = -E2BIG;
		goto out_unlock;
	}
	if (vnh->probe_pending &&
	    !virtnumahint_reap(vq, req, &vnh->probe_pending, &used_len)) {
		err = -EBUSY;
		goto out_unlock;
	}

	req->hdr.type = cpu_to_le16(type);
	req->hdr.padding = 0;
	req->hdr.nr_entries = cpu_to_le32(nr);
	for (i = 0; i < nr; i++) {
		if (type == VIRTIO_NUMAHINT_REQ_PROBE_CPU)
			id = virtnumahint_cpu_arch_id(values[i]);
		else
			id = ALIGN_DOWN(values[i], VIRTIO_NUMAHINT_PAGE_SIZE);
		req->entries[i].id = cpu_to_le64(id);
	}
	/*
	 * The device writes NODE_NONE for entries it rejects; prefill it too,
	 * so that a device which skips them cannot leave stale answers.
	 */
	memset(&resp->hdr, 0, sizeof(resp->hdr));
	memset(resp->node, 0xff, flex_array_size(resp, node, nr));
	BUILD_BUG_ON(VIRTIO_NUMAHINT_NODE_NONE != 0xffffffffU);

	virtnumahint_count(vnh, NUMAHINT_STAT_PROBE_REQUESTS);
	atomic64_add(nr, &vnh->stats[NUMAHINT_STAT_PROBE_ENTRIES]);
	err = virtnumahint_send_sync(vnh, vq,
				     req, struct_size(req, entries, nr),
				     resp, struct_size(resp, node, nr),
				     &vnh->probe_pending, &used_len);
	if (err)
		goto out_unlock;

	err = virtnumahint_check_resp(vnh, &resp->hdr, used_len, nr,
				      flex_array_size(resp, node, nr), true,
				      &nr_done);
	if (err && err != -EINVAL)
		goto out_unlock;

	/* OK or REJECTED: the node array is valid, keep it for reading. */
	for (i = 0; i < nr; i++) {
		res = &vnh->probe_results[i];
		/* Show the page address as sent: aligned down. */
		if (type == VIRTIO_NUMAHINT_REQ_PROBE_CPU)
			res->value = values[i];
		else
			res->value = le64_to_cpu(req->entries[i].id);
		res->node = le32_to_cpu(resp->node[i]);
	}
	vnh->probe_type = type;
	vnh->probe_nr_results = nr;

out_unlock:
	mutex_unlock(&vnh->probe_lock);
	return err;
}

/* Next whitespace-separated word of *@cur, or NULL at the end. */
static char *virtnumahint_next_word(char **cur)
{
	char *word;

	do {
		word = strsep(cur, " \t\n");
	} while (word && !*word);
	return word;
}

/*
 * debugfs probe file, write side: "page <addr>..." or "cpu <cpu>...",
 * at most max_probe_entries values, each in C notation (0x for hex).
 * Fails with EINVAL if the device rejected an entry (its line then reads
 * "node none"), EOPNOTSUPP if it does not support the probe, EIO on a
 * malformed answer, ETIMEDOUT or EBUSY if the device is not answering.
 */
static ssize_t virtnumahint_probe_write(struct file *file,
					const char __user *ubuf, size_t count,
					loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	struct virtio_numahint *vnh = m->private;
	char *cmd, *cur, *word;
	u64 *values;
	u32 max = READ_ONCE(vnh->probe_batch);
	u32 nr = 0;
	u16 type;
	int err;

	if (count > NUMAHINT_PROBE_CMD_LEN(max))
		return -E2BIG;

	cmd = kvmalloc(count + 1, GFP_KERNEL);
	values = kvmalloc_array(max, sizeof(*values), GFP_KERNEL);
	if (!cmd || !values) {
		err = -ENOMEM;
		goto out_free;
	}
	if (copy_from_user(cmd, ubuf, count)) {
		err = -EFAULT;
		goto out_free;
	}
	cmd[count] = '\0';

	cur = cmd;
	word = virtnumahint_next_word(&cur);
	if (word && !strcmp(word, "page")) {
		type = VIRTIO_NUMAHINT_REQ_PROBE_PAGE;
	} else if (word && !strcmp(word, "cpu")) {
		type = VIRTIO_NUMAHINT_REQ_PROBE_CPU;
	} else {
		err = -EINVAL;
		goto out_free;
	}

	while ((word = virtnumahint_next_word(&cur))) {
		if (nr == max) {
			err = -E2BIG;
			goto out_free;
		}
		err = kstrtou64(word, 0, &values[nr]);
		if (err)
			goto out_free;
		/* Only a present CPU has a meaningful architectural id. */
		if (type == VIRTIO_NUMAHINT_REQ_PROBE_CPU &&
		    (values[nr] >= nr_cpu_ids ||
		     !cpu_present((unsigned int)values[nr]))) {
			err = -EINVAL;
			goto out_free;
		}
		nr++;
	}
	if (!nr) {
		err = -EINVAL;
		goto out_free;
	}

	err = virtnumahint_probe_nodes(vnh, type, values, nr);

out_free:
	kvfree(values);
	kvfree(cmd);
	if (err)
		return err;
	return count;
}

/*
 * debugfs probe file, read side: one line per entry of the last answered
 * probe, "page 0x<addr> node <n>" or "cpu <cpu> node <n>", with "none"
 * for VIRTIO_NUMAHINT_NODE_NONE; empty if the last probe failed.
 */
static int virtnumahint_probe_show(struct seq_file *m, void *v)
{
	struct virtio_numahint *vnh = m->private;
	const struct numahint_probe_result *res;
	u32 i;

	mutex_lock(&vnh->probe_lock);
	for (i = 0; i < vnh->probe_nr_results; i++) {
		res = &vnh->probe_results[i];
		if (vnh->probe_type == VIRTIO_NUMAHINT_REQ_PROBE_CPU)
			seq_printf(m, "cpu %llu", res->value);
		else
			seq_printf(m, "page 0x%llx", res->value);
		if (res->node == VIRTIO_NUMAHINT_NODE_NONE)
			seq_puts(m, " node none\n");
		else
			seq_printf(m, " node %u\n", res->node);
	}
	mutex_unlock(&vnh->probe_lock);
	return 0;
}

static int virtnumahint_probe_open(struct inode *inode, struct file *file)
{
	return single_open(file, virtnumahint_probe_show, inode->i_private);
}

static const struct file_operations virtnumahint_probe_fops = {
	.owner		= THIS_MODULE,
	.open		= virtnumahint_probe_open,
	.read		= seq_read,
	.write		= virtnumahint_probe_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

static int virtnumahint_alloc_probe(struct virtio_numahint *vnh)
{
	u32 nr = vnh->max_probe_entries;

	vnh->probe_buf_entries = nr;
	vnh->probe_batch = nr;

	vnh->probe_req = kmalloc(struct_size(vnh->probe_req, entries, nr),
				 GFP_KERNEL);
	vnh->probe_resp = kmalloc(struct_size(vnh->probe_resp, node, nr),
				  GFP_KERNEL);
	vnh->probe_results = kvcalloc(nr, sizeof(*vnh->probe_results),
				      GFP_KERNEL);
	if (!vnh->probe_req || !vnh->probe_resp || !vnh->probe_results)
		return -ENOMEM;
	return 0;
}

static void virtnumahint_free_probe(struct virtio_numahint *vnh)
{
	kvfree(vnh->probe_results);
	kfree(vnh->probe_resp);
	kfree(vnh->probe_req);
}

/* --- sysfs and debugfs ---------------------------------------------------- */

/* /sys/kernel/debug/virtio_numahint/, shared by all devices. */
static struct dentry *virtnumahint_debugfs_root;
/* Devices with a directory under virtnumahint_debugfs_root. */
static unsigned int virtnumahint_debugfs_users;
/* Protects the two above. */
static DEFINE_MUTEX(virtnumahint_debugfs_lock);

/*
 * debugfs touch_hook: 1 while the mm_page_alloc hook is registered.
 * Writing 0 or 1 stops or starts it, also where first_touch was not
 * negotiated: the hook then records and drops, which is how its cost on
 * page faults is measured (selftests/numahint/numahint_fault_bench.c).
 */
static int virtnumahint_touch_hook_get(void *data, u64 *val)
{
	struct virtio_numahint *vnh = data;

	*val = READ_ONCE(vnh->touch_active);
	return 0;
}

static int virtnumahint_touch_hook_set(void *data, u64 val)
{
	struct virtio_numahint *vnh = data;
	int err = 0;

	if (val > 1)
		return -EINVAL;

	mutex_lock(&vnh->touch_mutex);
	if (!vnh->touch_ready) {
		err = -ENODEV;
		goto out_unlock;
	}
	vnh->touch_wanted = val;
	if (val)
		err = virtnumahint_touch_hook_on(vnh);
	else
		virtnumahint_touch_hook_off(vnh);
out_unlock:
	mutex_unlock(&vnh->touch_mutex);
	return err;
}
DEFINE_DEBUGFS_ATTRIBUTE(virtnumahint_touch_hook_fops,
			 virtnumahint_touch_hook_get, virtnumahint_touch_hook_set,
			 "%llu\n");

/*
 * debugfs failures are deliberately not checked: the device works without
 * its debug files, and debugfs functions accept the error pointers.
 */
static void virtnumahint_debugfs_init(struct virtio_numahint *vnh)
{
	mutex_lock(&virtnumahint_debugfs_lock);
	if (!virtnumahint_debugfs_users++)
		virtnumahint_debugfs_root = debugfs_create_dir(KBUILD_MODNAME,
							       NULL);
	vnh->debugfs_dir = debugfs_create_dir(dev_name(&vnh->vdev->dev),
					      virtnumahint_debugfs_root);
	mutex_unlock(&virtnumahint_debugfs_lock);

	if (virtio_has_feature(vnh->vdev, VIRTIO_NUMAHINT_F_LOCALITY_PROBE))
		debugfs_create_file("probe", 0600, vnh->debugfs_dir, vnh,
				    &virtnumahint_probe_fops);
	if (virtnumahint_page_alloc_hook_supported())
		debugfs_create_file_unsafe("touch_hook", 0600, vnh->debugfs_dir,
					   vnh, &virtnumahint_touch_hook_fops);
}

static void virtnumahint_debugfs_exit(struct virtio_numahint *vnh)
{
	/* Waits for readers and writers still inside the files. */
	debugfs_remove(vnh->debugfs_dir);

	mutex_lock(&virtnumahint_debugfs_lock);
	if (!--virtnumahint_debugfs_users) {
		debugfs_remove(virtnumahint_debugfs_root);
		virtnumahint_debugfs_root = NULL;
	}
	mutex_unlock(&virtnumahint_debugfs_lock);
}

/*
 * sysfs: /sys/bus/virtio/devices/virtioN/numahint/, a stable interface
 * documented in docs/ABI/testing/sysfs-driver-virtio-numahint.  The
 * negotiated features are the virtio core's own features file.
 */
static struct virtio_numahint *virtnumahint_from_dev(struct device *dev)
{
	return dev_to_virtio(dev)->priv;
}

struct numahint_config_attr {
	/* The sysfs file. */
	struct device_attribute attr;
	/* The u32 field of struct virtio_numahint it shows. */
	size_t offset;
};

static ssize_t virtnumahint_config_show(struct device *dev,
					struct device_attribute *attr, char *buf)
{
	struct numahint_config_attr *ca =
		container_of(attr, struct numahint_config_attr, attr);
	const u32 *field = (void *)virtnumahint_from_dev(dev) + ca->offset;

	return sysfs_emit(buf, "%u\n", READ_ONCE(*field));
}

#define NUMAHINT_CONFIG_ATTR(_name)					\
static struct numahint_config_attr virtnumahint_config_attr_##_name = {	\
	.attr	= {							\
		.attr	= { .name = #_name, .mode = 0444 },		\
		.show	= virtnumahint_config_show,				\
	},								\
	.offset	= offsetof(struct virtio_numahint, _name),		\
}

NUMAHINT_CONFIG_ATTR(report_order);
NUMAHINT_CONFIG_ATTR(max_report_ranges);
NUMAHINT_CONFIG_ATTR(max_touch_events);
NUMAHINT_CONFIG_ATTR(touch_flush_ms);
NUMAHINT_CONFIG_ATTR(max_probe_entries);

static ssize_t report_active_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct virtio_numahint *vnh = virtnumahint_from_dev(dev);

	return sysfs_emit(buf, "%d\n", READ_ONCE(vnh->report_active));
}
static DEVICE_ATTR_RO(report_active);

static ssize_t report_order_used_show(struct device *dev,
				      struct device_attribute *attr, char *buf)
{
	struct virtio_numahint *vnh = virtnumahint_from_dev(dev);

	return sysfs_emit(buf, "%u\n", READ_ONCE(vnh->report_active) ?
			  vnh->report_order_used : 0);
}
static DEVICE_ATTR_RO(report_order_used);

/*
 * A counter's value.  The probe counts its events and drops per CPU, to
 * keep shared cache lines out of the page allocator.
 */
static u64 virtnumahint_stat_read(struct virtio_numahint *vnh,
				  enum numahint_stat stat)
{
	struct numahint_touch_cpu __percpu *touch_cpu;
	u64 val = atomic64_read(&vnh->stats[stat]);
	struct numahint_touch_cpu *tc;
	unsigned int cpu;

	/* Pairs with the release in virtnumahint_alloc_touch_cpu(). */
	touch_cpu = smp_load_acquire(&vnh->touch_cpu);
	if (!touch_cpu || (stat != NUMAHINT_STAT_TOUCH_EVENTS &&
			   stat != NUMAHINT_STAT_TOUCH_DROPPED))
		return val;

	for_each_possible_cpu(cpu) {
		tc = per_cpu_ptr(touch_cpu, cpu);
		if (stat == NUMAHINT_STAT_TOUCH_EVENTS)
			val += READ_ONCE(tc->events);
		else
			val += READ_ONCE(tc->dropped);
	}
	return val;
}

static ssize_t touch_active_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct virtio_numahint *vnh = virtnumahint_from_dev(dev);

	return sysfs_emit(buf, "%d\n", READ_ONCE(vnh->touch_active));
}
static DEVICE_ATTR_RO(touch_active);

struct numahint_stat_attr {
	/* The sysfs file. */
	struct device_attribute attr;
	/* The counter it shows. */
	enum numahint_stat stat;
};

static ssize_t virtnumahint_stat_show(struct device *dev,
				      struct device_attribute *attr, char *buf)
{
	struct numahint_stat_attr *sa =
		container_of(attr, struct numahint_stat_attr, attr);
	struct virtio_numahint *vnh = virtnumahint_from_dev(dev);

	return sysfs_emit(buf, "%llu\n", virtnumahint_stat_read(vnh, sa->stat));
}

#define NUMAHINT_STAT(_id, _name)					\
	[NUMAHINT_STAT_##_id] = {					\
		.attr	= __ATTR(_name, 0444, virtnumahint_stat_show, NULL),	\
		.stat	= NUMAHINT_STAT_##_id,				\
	},

static struct numahint_stat_attr virtnumahint_stat_attrs[NUMAHINT_STAT_MAX] = {
#include "virtio_numahint_stats.h"
};

#undef NUMAHINT_STAT
#define NUMAHINT_STAT(_id, ...)	\
	(&virtnumahint_stat_attrs[NUMAHINT_STAT_##_id].attr.attr),

static struct attribute *virtnumahint_attrs[] = {
	&virtnumahint_config_attr_report_order.attr.attr,
	&virtnumahint_config_attr_max_report_ranges.attr.attr,
	&virtnumahint_config_attr_max_touch_events.attr.attr,
	&virtnumahint_config_attr_touch_flush_ms.attr.attr,
	&virtnumahint_config_attr_max_probe_entries.attr.attr,
	&dev_attr_report_active.attr,
	&dev_attr_report_order_used.attr,
	&dev_attr_touch_active.attr,
#include "virtio_numahint_stats.h"
	NULL
};

#undef NUMAHINT_STAT

static const struct attribute_group virtnumahint_attr_group = {
	.name	= "numahint",
	.attrs	= virtnumahint_attrs,
};

/*
 * The driver core adds these once probe has succeeded and removes them
 * before remove: the files never show a device half set up.
 */
static const struct attribute_group *virtnumahint_groups[] = {
	&virtnumahint_attr_group,
	NULL
};

/* --- Lifecycle: configuration, probe, remove, reset, freeze, restore ------ */

/* Refuse a config value outside [@min, @max], naming it. */
static int virtnumahint_check_config(struct virtio_numahint *vnh,
				     const char *field, u32 val, u32 min,
				     u32 max)
{
	if (val >= min && val <= max)
		return 0;
	dev_err(&vnh->vdev->dev,
		"config %s is %u, outside the supported range %u..%u; refusing the device\n",
		field, val, min, max);
	return -EINVAL;
}

/*
 * Read the configuration once.  Every field is checked whatever the
 * features: the protocol defines them all unconditionally, and a device
 * that gets one wrong is not one we want to trust with the others.
 */
static int virtnumahint_read_config(struct virtio_numahint *vnh)
{
	struct virtio_device *vdev = vnh->vdev;
	int err;

	virtio_cread_le(vdev, struct virtio_numahint_config, report_order,
			&vnh->report_order);
	virtio_cread_le(vdev, struct virtio_numahint_config, max_report_ranges,
			&vnh->max_report_ranges);
	virtio_cread_le(vdev, struct virtio_numahint_config, max_touch_events,
			&vnh->max_touch_events);
	virtio_cread_le(vdev, struct virtio_numahint_config, touch_flush_ms,
			&vnh->touch_flush_ms);
	virtio_cread_le(vdev, struct virtio_numahint_config, max_probe_entries,
			&vnh->max_probe_entries);

	/* report_order is a suggestion: see virtnumahint_pick_report_order(). */
	err = virtnumahint_check_config(vnh, "max_report_ranges",
					vnh->max_report_ranges, 1,
					VIRTIO_NUMAHINT_MAX_REPORT_RANGES_MAX);
	if (!err)
		err = virtnumahint_check_config(vnh, "max_touch_events",
						vnh->max_touch_events, 1,
						VIRTIO_NUMAHINT_MAX_TOUCH_EVENTS_MAX);
	if (!err)
		err = virtnumahint_check_config(vnh, "touch_flush_ms",
						vnh->touch_flush_ms,
						VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN,
						VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX);
	if (!err)
		err = virtnumahint_check_config(vnh, "max_probe_entries",
						vnh->max_probe_entries, 1,
						VIRTIO_NUMAHINT_MAX_PROBE_ENTRIES_MAX);
	return err;
}

/*
 * Entries per request: the device's limits, capped by our buffers.  Probe
 * sizes the buffers; restore calls this again with the limits of the
 * device it finds, which may take fewer (a resume from hibernation into
 * a QEMU started with other max-* values): the requests shrink with them
 * and never outgrow the buffers.
 */
static void virtnumahint_fit_batches(struct virtio_numahint *vnh)
{
	vnh->report_batch = min_t(u32, vnh->max_report_ranges,
				  PAGE_REPORTING_CAPACITY);
	vnh->touch_batch = min_t(u32, vnh->max_touch_events,
				 NUMAHINT_TOUCH_BATCH);
	vnh->probe_batch = min(vnh->max_probe_entries, vnh->probe_buf_entries);
}

/*
 * Apply the config fields that can change.  A bad touch_flush_ms is not
 * worth losing the device over: keep the value we have.
 */
static void virtnumahint_config_work(struct work_struct *work)
{
	struct virtio_numahint *vnh =
		container_of(work, struct virtio_numahint, config_work);
	u32 flush_ms;

	if (!atomic_xchg(&vnh->config_changed, 0))
		return;

	/* The device tells us it needs a reset with this notification. */
	if (virtnumahint_needs_reset(vnh)) {
		virtnumahint_queue_reset(vnh);
		return;
	}

	virtio_cread_le(vnh->vdev, struct virtio_numahint_config,
			touch_flush_ms, &flush_ms);
	if (flush_ms < VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN ||
	    flush_ms > VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX) {
		dev_warn_ratelimited(&vnh->vdev->dev,
				     "ignoring touch_flush_ms %u outside %u..%u, keeping %u\n",
				     flush_ms, VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MIN,
				     VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_MAX,
				     vnh->touch_flush_ms);
		return;
	}
	WRITE_ONCE(vnh->touch_flush_ms, flush_ms);
}

/* Called in interrupt context: defer the config reads to a worker. */
static void virtnumahint_config_changed(struct virtio_device *vdev)
{
	struct virtio_numahint *vnh = vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vnh->stop_update_lock, flags);
	if (!vnh->stop_update) {
		virtnumahint_count(vnh, NUMAHINT_STAT_CONFIG_CHANGES);
		atomic_set(&vnh->config_changed, 1);
		queue_work(system_freezable_wq, &vnh->config_work);
	}
	spin_unlock_irqrestore(&vnh->stop_update_lock, flags);
}

static void virtnumahint_stop_updates(struct virtio_numahint *vnh)
{
	spin_lock_irq(&vnh->stop_update_lock);
	vnh->stop_update = true;
	spin_unlock_irq(&vnh->stop_update_lock);
	cancel_work_sync(&vnh->config_work);
}

/* DRIVER_OK is set: requests may go out. */
static void virtnumahint_start_requests(struct virtio_numahint *vnh)
{
	mutex_lock(&vnh->probe_lock);
	vnh->requests_ready = true;
	mutex_unlock(&vnh->probe_lock);
}

/*
 * Wait for the request in progress, if any, and refuse new ones.  The
 * wakeup lets a waiter notice a queue broken by surprise removal, which
 * will never be answered.
 */
static void virtnumahint_stop_requests(struct virtio_numahint *vnh)
{
	wake_up_all(&vnh->host_resp);
	mutex_lock(&vnh->probe_lock);
	vnh->requests_ready = false;
	mutex_unlock(&vnh->probe_lock);
}

static int virtnumahint_init_vqs(struct virtio_numahint *vnh)
{
	/*
	 * Every queue is named, even those of features we did not negotiate:
	 * a NULL name makes the transport skip a queue and hand its index to
	 * the next one, but the protocol fixes the indices.
	 */
	struct virtqueue_info vqs_info[NUMAHINT_VQ_MAX] = {
		[NUMAHINT_VQ_REPORT]	= { "report" },
		[NUMAHINT_VQ_TOUCH]	= { "touch" },
		[NUMAHINT_VQ_PROBE]	= { "probe" },
	};
	int err;

	if (virtio_has_feature(vnh->vdev, VIRTIO_NUMAHINT_F_FREE_REPORT))
		vqs_info[NUMAHINT_VQ_REPORT].callback = virtnumahint_ack;
	if (virtio_has_feature(vnh->vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH))
		vqs_info[NUMAHINT_VQ_TOUCH].callback = virtnumahint_touch_done;
	if (virtio_has_feature(vnh->vdev, VIRTIO_NUMAHINT_F_LOCALITY_PROBE))
		vqs_info[NUMAHINT_VQ_PROBE].callback = virtnumahint_ack;

	err = virtio_find_vqs(vnh->vdev, NUMAHINT_VQ_MAX, vnh->vqs, vqs_info,
			      NULL);
	if (err)
		return err;

	if (virtio_has_feature(vnh->vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH))
		virtnumahint_reset_touch_pool(vnh);
	return 0;
}

/* Stop everything that sends requests, for good or until restore. */
static void virtnumahint_stop_sending(struct virtio_numahint *vnh)
{
	virtnumahint_stop_touch(vnh);
	virtnumahint_stop_report(vnh);
	virtnumahint_stop_requests(vnh);
}

/*
 * The device needs a reset (virtnumahint_needs_reset()).  Reset it and
 * set it up again through the virtio core's own freeze and restore, which
 * negotiate the features and set up the queues as after a suspend; our
 * freeze resets the device first, which ends the waits for it.  A device
 * that needs another reset within NUMAHINT_RESET_INTERVAL is left reset
 * and idle until the driver is bound again (or a restore).
 */
static void virtnumahint_reset_work(struct work_struct *work)
{
	struct virtio_numahint *vnh =
		container_of(work, struct virtio_numahint, reset_work);
	struct device *dev = &vnh->vdev->dev;
	int err = -EOPNOTSUPP;

	virtnumahint_halt_if_needed(vnh);
	if (!READ_ONCE(vnh->halted) || vnh->reset_given_up)
		return;

	if (vnh->reset_jiffies &&
	    time_before(jiffies, vnh->reset_jiffies + NUMAHINT_RESET_INTERVAL)) {
		vnh->reset_given_up = true;
		virtnumahint_stop_sending(vnh);
		dev_err(dev,
			"device failed again within %u s of its last reset; left reset: no free page reports, first-touch events or probes until the driver is bound again\n",
			jiffies_to_msecs(NUMAHINT_RESET_INTERVAL) / 1000);
		goto out_count;
	}
	vnh->reset_jiffies = jiffies ?: 1;

#ifdef CONFIG_PM_SLEEP
	err = virtio_device_freeze(vnh->vdev);
	if (!err)
		err = virtio_device_restore(vnh->vdev);
#endif
	if (err) {
		vnh->reset_given_up = true;
		virtnumahint_stop_sending(vnh);
		dev_err(dev,
			"device failed and was reset, but cannot be set up again (%d): no free page reports, first-touch events or probes until the driver is bound again\n",
			err);
		goto out_count;
	}
	dev_warn(dev,
		 "device failed (DEVICE_NEEDS_RESET) and was reset and set up again; requests in flight were lost, free pages isolated for a report went back unreported\n");
out_count:
	/* Once the message is out: a reader of the counter may look for it. */
	virtnumahint_count(vnh, NUMAHINT_STAT_DEVICE_RESETS);
}

static int virtnumahint_validate(struct virtio_device *vdev)
{
	if (!vdev->config->get) {
		dev_err(&vdev->dev, "%s failure: config access disabled\n",
			__func__);
		return -EINVAL;
	}

	/* The wire format is little endian only, without a legacy variant. */
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev,
			"device does not offer VIRTIO_F_VERSION_1; numahint is modern-only\n");
		return -EINVAL;
	}

	/* First touches are seen through the page allocation hook. */
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH) &&
	    !virtnumahint_page_alloc_hook_supported()) {
		dev_info(&vdev->dev,
			 "first-touch events disabled: kernel built without CONFIG_TRACEPOINTS\n");
		__virtio_clear_bit(vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH);
	}

	/* The probe is only reachable through debugfs. */
	if (!IS_ENABLED(CONFIG_DEBUG_FS))
		__virtio_clear_bit(vdev, VIRTIO_NUMAHINT_F_LOCALITY_PROBE);

	/*
	 * A discarded page reads back as zeroes: fine for a page that
	 * init_on_free zeroes anyway, corruption to a page poison check.
	 */
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FREE_REPORT)) {
		if (!IS_ENABLED(CONFIG_PAGE_REPORTING)) {
			dev_info(&vdev->dev,
				 "free page reports disabled: kernel built without CONFIG_PAGE_REPORTING\n");
			__virtio_clear_bit(vdev, VIRTIO_NUMAHINT_F_FREE_REPORT);
		} else if (page_poisoning_enabled_static() &&
			   !want_init_on_free()) {
			dev_info(&vdev->dev,
				 "free page reports disabled: page poisoning is on without init_on_free, and discarded pages would fail its checks\n");
			__virtio_clear_bit(vdev, VIRTIO_NUMAHINT_F_FREE_REPORT);
		}
	}

	return 0;
}

static int virtnumahint_probe(struct virtio_device *vdev)
{
	struct virtio_numahint *vnh;
	int err;

	BUILD_BUG_ON(sizeof(struct virtio_numahint_config) != 20);
	BUILD_BUG_ON(sizeof(struct virtio_numahint_req) != 8);
	BUILD_BUG_ON(sizeof(struct virtio_numahint_range) != 16);
	BUILD_BUG_ON(sizeof(struct virtio_numahint_touch) != 16);
	BUILD_BUG_ON(sizeof(struct virtio_numahint_probe) != 8);
	BUILD_BUG_ON(sizeof(struct virtio_numahint_resp) != 8);
	BUILD_BUG_ON(offsetof(struct numahint_probe_req, entries) != 8);
	BUILD_BUG_ON(offsetof(struct numahint_probe_resp, node) != 8);
	BUILD_BUG_ON(offsetof(struct numahint_report_req, ranges) != 8);
	BUILD_BUG_ON(offsetof(struct numahint_touch_req, entries) != 8);
	BUILD_BUG_ON(NUMAHINT_VQ_MAX != VIRTIO_NUMAHINT_NUM_VQS);

	vnh = kzalloc(sizeof(*vnh), GFP_KERNEL);
	if (!vnh)
		return -ENOMEM;

	vdev->priv = vnh;
	vnh->vdev = vdev;
	init_waitqueue_head(&vnh->host_resp);
	INIT_WORK(&vnh->config_work, virtnumahint_config_work);
	spin_lock_init(&vnh->stop_update_lock);
	INIT_WORK(&vnh->reset_work, virtnumahint_reset_work);
	mutex_init(&vnh->halt_lock);
	mutex_init(&vnh->probe_lock);
	mutex_init(&vnh->touch_mutex);
	spin_lock_init(&vnh->touch_lock);
	INIT_DELAYED_WORK(&vnh->touch_work, virtnumahint_touch_work);
	init_irq_work(&vnh->touch_irq_work, virtnumahint_touch_irq_work);
	vnh->touch_wanted = virtio_has_feature(vdev,
					       VIRTIO_NUMAHINT_F_FIRST_TOUCH);

	err = virtnumahint_read_config(vnh);
	if (err)
		goto out_free_vnh;

	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_LOCALITY_PROBE)) {
		err = virtnumahint_alloc_probe(vnh);
		if (err)
			goto out_free_probe;
	}

	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FREE_REPORT)) {
		err = virtnumahint_alloc_report(vnh);
		if (err)
			goto out_free_report;
	}

	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH)) {
		err = virtnumahint_alloc_touch(vnh);
		if (err)
			goto out_free_touch;
	}

	err = virtnumahint_init_vqs(vnh);
	if (err)
		goto out_free_touch;

	virtnumahint_debugfs_init(vnh);

	virtio_device_ready(vdev);

	/* Requests are only allowed once DRIVER_OK is set. */
	virtnumahint_start_requests(vnh);
	virtnumahint_start_report(vnh);
	virtnumahint_start_touch(vnh);
	return 0;

out_free_touch:
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH))
		virtnumahint_free_touch(vnh);
out_free_report:
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FREE_REPORT))
		virtnumahint_free_report(vnh);
out_free_probe:
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_LOCALITY_PROBE))
		virtnumahint_free_probe(vnh);
out_free_vnh:
	kfree(vnh);
	return err;
}

static void virtnumahint_remove(struct virtio_device *vdev)
{
	struct virtio_numahint *vnh = vdev->priv;

	/* Before stop_updates: a reset's restore starts the updates again. */
	spin_lock_irq(&vnh->stop_update_lock);
	vnh->removing = true;
	spin_unlock_irq(&vnh->stop_update_lock);
	cancel_work_sync(&vnh->reset_work);
	virtnumahint_stop_updates(vnh);

	/* A device that needs a reset answers nothing we would wait for. */
	virtnumahint_halt_if_needed(vnh);
	virtnumahint_stop_sending(vnh);
	virtnumahint_debugfs_exit(vnh);

	/* Stops the device using our buffers before they are freed. */
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);

	/* The hook may have run through debugfs without first_touch. */
	free_percpu(vnh->touch_cpu);
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FIRST_TOUCH))
		virtnumahint_free_touch(vnh);
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_FREE_REPORT))
		virtnumahint_free_report(vnh);
	if (virtio_has_feature(vdev, VIRTIO_NUMAHINT_F_LOCALITY_PROBE))
		virtnumahint_free_probe(vnh);
	kfree(vnh);
}

#ifdef CONFIG_PM_SLEEP
/*
 * Nothing the device holds survives a reset or matters after resume:
 * drop the queues, keep the driver state, and start again on restore.
 * Free pages isolated for a report are back with the allocator before
 * the reset, since unregistering waits for the report; a device that
 * needs a reset is reset first, which ends that wait.  First-touch
 * requests still in flight are lost with the queue; the pool is refilled
 * on restore.
 */
static int virtnumahint_freeze(struct virtio_device *vdev)
{
	struct virtio_numahint *vnh = vdev->priv;

	/* Also how reset_work resets a device that needs it. */
	virtnumahint_halt_if_needed(vnh);
	virtnumahint_stop_touch(vnh);
	virtnumahint_stop_report(vnh);
	virtnumahint_stop_updates(vnh);
	virtnumahint_stop_requests(vnh);

	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	return 0;
}

static int virtnumahint_restore(struct virtio_device *vdev)
{
	struct virtio_numahint *vnh = vdev->priv;
	int err;

	/*
	 * The device may not be the one we froze: after hibernation it can
	 * be a new QEMU's, with other limits.  Check them as probe does and
	 * size the requests to them; the device is refused the same way.
	 */
	err = virtnumahint_read_config(vnh);
	if (err)
		return err;
	virtnumahint_fit_batches(vnh);

	err = virtnumahint_init_vqs(vnh);
	if (err)
		return err;

	/* A request abandoned before the reset is gone with the old queue. */
	vnh->probe_pending = false;
	WRITE_ONCE(vnh->halted, false);
	vnh->reset_given_up = false;

	virtio_device_ready(vdev);
	virtnumahint_start_requests(vnh);
	virtnumahint_start_report(vnh);
	virtnumahint_start_touch(vnh);

	/* touch_flush_ms may have changed while we were away. */
	spin_lock_irq(&vnh->stop_update_lock);
	vnh->stop_update = false;
	atomic_set(&vnh->config_changed, 1);
	queue_work(system_freezable_wq, &vnh->config_work);
	spin_unlock_irq(&vnh->stop_update_lock);
	return 0;
}
#endif

static unsigned int virtnumahint_features[] = {
	VIRTIO_NUMAHINT_F_FREE_REPORT,
	VIRTIO_NUMAHINT_F_FIRST_TOUCH,
	VIRTIO_NUMAHINT_F_LOCALITY_PROBE,
};

static const struct virtio_device_id id_table[] = {
	{ VIRTIO_ID_NUMAHINT, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static struct virtio_driver virtio_numahint_driver = {
	.feature_table		= virtnumahint_features,
	.feature_table_size	= ARRAY_SIZE(virtnumahint_features),
	.driver.name		= KBUILD_MODNAME,
	.driver.owner		= THIS_MODULE,
	.driver.dev_groups	= virtnumahint_groups,
	.id_table		= id_table,
	.validate		= virtnumahint_validate,
	.probe			= virtnumahint_probe,
	.remove			= virtnumahint_remove,
	.config_changed		= virtnumahint_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze			= virtnumahint_freeze,
	.restore		= virtnumahint_restore,
#endif
};

module_virtio_driver(virtio_numahint_driver);
MODULE_DEVICE_TABLE(virtio, id_table);
MODULE_DESCRIPTION("Virtio NUMA hint driver");
MODULE_LICENSE("GPL");
#ifdef NUMAHINT_VERSION
MODULE_VERSION(NUMAHINT_VERSION);
#endif
