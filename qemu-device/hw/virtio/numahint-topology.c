/*
 * Virtio NUMA hint device: the host's NUMA topology, and where vCPUs run
 *
 * See include/hw/virtio/numahint-topology.h.
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "system/numa.h"
#include "hw/virtio/numahint-placement.h"
#include "hw/virtio/numahint-topology.h"

bool numahint_topology_parse_vcpu_nodes(NumahintTopology *t, const char *prop,
                                        const char *vcpu_nodes,
                                        unsigned int max_cpus, Error **errp)
{
    g_auto(GStrv) items = NULL;
    unsigned int i, n;

    if (!vcpu_nodes || !*vcpu_nodes) {
        return true;
    }
    items = g_strsplit(vcpu_nodes, ":", 0);
    n = g_strv_length(items);
    if (n > max_cpus) {
        error_setg(errp, "'%s' names %u vCPUs, the machine has at most %u",
                   prop, n, max_cpus);
        return false;
    }
    t->vcpu_node_of_index = g_new(int, n);
    t->nr_vcpu_node_of_index = n;
    for (i = 0; i < n; i++) {
        int node;

        if (!strcmp(items[i], "-")) {
            node = -1;
        } else if (qemu_strtoi(items[i], NULL, 10, &node) || node < 0 ||
                   node >= MAX_NODES) {
            error_setg(errp, "'%s': '%s' is neither a host node number "
                       "below %d nor '-'", prop, items[i], MAX_NODES);
            return false;
        }
        t->vcpu_node_of_index[i] = node;
    }
    return true;
}

void numahint_topology_free(NumahintTopology *t)
{
    g_free(t->host_cpu_node);
    g_free(t->vcpu_node_of_index);
    memset(t, 0, sizeof(*t));
}

int numahint_topology_page_node(void *hva)
{
    int status;

    if (numahint_placement_linux_ops.query_nodes(NULL, &hva, 1,
                                                 &status) < 0) {
        return -1;
    }
    return status < 0 ? -1 : status;
}

/* The node vcpu-nodes gives @cpu, or -1. */
static int numahint_topology_given_node(const NumahintTopology *t,
                                        CPUState *cpu)
{
    if (cpu->cpu_index < t->nr_vcpu_node_of_index) {
        return t->vcpu_node_of_index[cpu->cpu_index];
    }
    return -1;
}

#ifdef CONFIG_LINUX
/* The host CPU a thread last ran on, from /proc, or -1. */
static int numahint_topology_thread_last_cpu(int tid)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d/stat", tid);
    g_autofree char *contents = NULL;
    g_auto(GStrv) fields = NULL;
    const char *rest;
    int cpu = -1;

    if (!g_file_get_contents(path, &contents, NULL, NULL)) {
        return -1;
    }
    /* The command name may hold spaces: fields resume after its ')'. */
    rest = strrchr(contents, ')');
    if (!rest) {
        return -1;
    }
    fields = g_strsplit(rest + 2, " ", 0);
    /* "processor" is field 39 of stat(5); the split starts at field 3. */
    if (g_strv_length(fields) > 36) {
        cpu = atoi(fields[36]);
    }
    return cpu;
}

int numahint_topology_vcpu_node(const NumahintTopology *t, CPUState *cpu)
{
    int node = numahint_topology_given_node(t, cpu);
    cpu_set_t set;
    unsigned int i;
    int last;

    if (node >= 0 || !cpu->thread_id) {
        return node;
    }
    if (!sched_getaffinity(cpu->thread_id, sizeof(set), &set)) {
        for (i = 0; i < t->nr_host_cpus && i < CPU_SETSIZE; i++) {
            if (!CPU_ISSET(i, &set)) {
                continue;
            }
            if (node == -1) {
                node = t->host_cpu_node[i];
            } else if (node != t->host_cpu_node[i]) {
                node = -1;
                break;
            }
        }
        if (node >= 0) {
            return node;
        }
        warn_report_once("virtio-numahint: the thread of vCPU %d may run on "
                         "CPUs of several host nodes; first-touch placement "
                         "uses the node it last ran on (pin the vCPU threads "
                         "or set vcpu-nodes)", cpu->cpu_index);
    }
    last = numahint_topology_thread_last_cpu(cpu->thread_id);
    if (last < 0 || last >= t->nr_host_cpus) {
        return -1;
    }
    return t->host_cpu_node[last];
}

/* The size of the host's transparent huge pages, or of a page without. */
static uint64_t numahint_topology_read_thp_size(void)
{
    g_autofree char *enabled = NULL, *size_text = NULL;
    uint64_t size;

    /* QEMU asks for THP on guest RAM: only "never" turns them off. */
    if (!g_file_get_contents("/sys/kernel/mm/transparent_hugepage/enabled",
                             &enabled, NULL, NULL) ||
        strstr(enabled, "[never]") ||
        !g_file_get_contents("/sys/kernel/mm/transparent_hugepage/"
                             "hpage_pmd_size", &size_text, NULL, NULL) ||
        qemu_strtou64(g_strstrip(size_text), NULL, 10, &size) ||
        !is_power_of_2(size) || size < qemu_real_host_page_size()) {
        return qemu_real_host_page_size();
    }
    return size;
}

void numahint_topology_read_host(NumahintTopology *t)
{
    long nr = sysconf(_SC_NPROCESSORS_CONF);
    unsigned int cpu;

    t->thp_size = numahint_topology_read_thp_size();
    t->nr_host_cpus = nr > 0 ? nr : 0;
    t->host_cpu_node = g_new(int, t->nr_host_cpus);
    for (cpu = 0; cpu < t->nr_host_cpus; cpu++) {
        g_autofree char *path =
            g_strdup_printf("/sys/devices/system/cpu/cpu%u", cpu);
        GDir *dir = g_dir_open(path, 0, NULL);
        const char *name;

        t->host_cpu_node[cpu] = -1;
        if (!dir) {
            continue;
        }
        while ((name = g_dir_read_name(dir))) {
            if (g_str_has_prefix(name, "node") &&
                g_ascii_isdigit(name[4])) {
                t->host_cpu_node[cpu] = atoi(name + 4);
                break;
            }
        }
        g_dir_close(dir);
    }
}
#else
int numahint_topology_vcpu_node(const NumahintTopology *t, CPUState *cpu)
{
    return numahint_topology_given_node(t, cpu);
}

void numahint_topology_read_host(NumahintTopology *t)
{
    t->nr_host_cpus = 0;
    t->host_cpu_node = NULL;
    t->thp_size = qemu_real_host_page_size();
}
#endif
