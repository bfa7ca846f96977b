/*
 * Virtio NUMA hint device: the host's NUMA topology, and where vCPUs run
 *
 * Which host node each host CPU belongs to and the size of the host's
 * transparent huge pages, read once from sysfs at realize; the host node
 * local to a vCPU, from the vcpu-nodes property or else from its thread's
 * CPU affinity; and the host node behind a page of guest RAM, through the
 * placement engine's move_pages(2) path.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_NUMAHINT_TOPOLOGY_H
#define HW_VIRTIO_NUMAHINT_TOPOLOGY_H

#include "hw/core/cpu.h"

typedef struct NumahintTopology {
    /* Host NUMA node of each host CPU, -1 where unknown. */
    int *host_cpu_node;
    unsigned int nr_host_cpus;
    /* Size of the host's transparent huge pages (a page without). */
    uint64_t thp_size;
    /* The vcpu-nodes property, by cpu_index; -1 where not given. */
    int *vcpu_node_of_index;
    unsigned int nr_vcpu_node_of_index;
} NumahintTopology;

/*
 * Parse @vcpu_nodes, the host node of each vCPU by index, colon-separated
 * ("0:1:-:1": vCPU 2 and any vCPU past the list take their node from
 * their thread's CPU affinity), for a machine of @max_cpus vCPUs.  @prop
 * names the property in errors.  Returns false with @errp set if it is
 * malformed.
 */
bool numahint_topology_parse_vcpu_nodes(NumahintTopology *t, const char *prop,
                                        const char *vcpu_nodes,
                                        unsigned int max_cpus, Error **errp);

/* Read the host's CPU nodes and transparent huge page size. */
void numahint_topology_read_host(NumahintTopology *t);

/* Free what the two above allocated. */
void numahint_topology_free(NumahintTopology *t);

/*
 * The host node local to @cpu: vcpu-nodes', or the node of the host CPUs
 * its thread may run on, or, where its affinity spans nodes, the node it
 * last ran on (read from /proc: not for a hot path); -1 if unknown.
 */
int numahint_topology_vcpu_node(const NumahintTopology *t, CPUState *cpu);

/* The host node of the page at @hva, or -1 if it is not populated. */
int numahint_topology_page_node(void *hva);

#endif
