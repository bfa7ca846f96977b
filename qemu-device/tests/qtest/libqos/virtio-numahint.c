/*
 * libqos driver framework: virtio-numahint
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "../libqtest.h"
#include "qemu/module.h"
#include "qgraph.h"
#include "virtio-numahint.h"

/* virtio-numahint-device */
static void *qvirtio_numahint_get_driver(QVirtioNumahint *v_nh,
                                         const char *interface)
{
    if (!g_strcmp0(interface, "virtio-numahint")) {
        return v_nh;
    }
    if (!g_strcmp0(interface, "virtio")) {
        return v_nh->vdev;
    }

    fprintf(stderr, "%s not present in virtio-numahint-device\n", interface);
    g_assert_not_reached();
}

static void *qvirtio_numahint_device_get_driver(void *object,
                                                const char *interface)
{
    QVirtioNumahintDevice *v_nh = object;

    return qvirtio_numahint_get_driver(&v_nh->numahint, interface);
}

static void *virtio_numahint_device_create(void *virtio_dev,
                                           QGuestAllocator *t_alloc,
                                           void *addr)
{
    QVirtioNumahintDevice *virtio_ndevice = g_new0(QVirtioNumahintDevice, 1);
    QVirtioNumahint *interface = &virtio_ndevice->numahint;

    interface->vdev = virtio_dev;

    virtio_ndevice->obj.get_driver = qvirtio_numahint_device_get_driver;

    return &virtio_ndevice->obj;
}

/* virtio-numahint-pci */
static void *qvirtio_numahint_pci_get_driver(void *object,
                                             const char *interface)
{
    QVirtioNumahintPCI *v_nh = object;

    if (!g_strcmp0(interface, "pci-device")) {
        return v_nh->pci_vdev.pdev;
    }
    return qvirtio_numahint_get_driver(&v_nh->numahint, interface);
}

static void *virtio_numahint_pci_create(void *pci_bus,
                                        QGuestAllocator *t_alloc,
                                        void *addr)
{
    QVirtioNumahintPCI *virtio_npci = g_new0(QVirtioNumahintPCI, 1);
    QVirtioNumahint *interface = &virtio_npci->numahint;
    QOSGraphObject *obj = &virtio_npci->pci_vdev.obj;

    virtio_pci_init(&virtio_npci->pci_vdev, pci_bus, addr);
    interface->vdev = &virtio_npci->pci_vdev.vdev;

    obj->get_driver = qvirtio_numahint_pci_get_driver;

    return obj;
}

static void virtio_numahint_register_nodes(void)
{
    QPCIAddress addr = {
        .devfn = QPCI_DEVFN(4, 0),
    };

    QOSGraphEdgeOptions opts = {
        .extra_device_opts = "addr=04.0,id=" QVIRTIO_NUMAHINT_ID,
    };

    QOSGraphEdgeOptions dev_opts = {
        .extra_device_opts = "id=" QVIRTIO_NUMAHINT_ID,
    };

    /* virtio-numahint-device */
    qos_node_create_driver("virtio-numahint-device",
                           virtio_numahint_device_create);
    qos_node_consumes("virtio-numahint-device", "virtio-bus", &dev_opts);
    qos_node_produces("virtio-numahint-device", "virtio");
    qos_node_produces("virtio-numahint-device", "virtio-numahint");

    /* virtio-numahint-pci */
    add_qpci_address(&opts, &addr);
    qos_node_create_driver("virtio-numahint-pci", virtio_numahint_pci_create);
    qos_node_consumes("virtio-numahint-pci", "pci-bus", &opts);
    qos_node_produces("virtio-numahint-pci", "pci-device");
    qos_node_produces("virtio-numahint-pci", "virtio");
    qos_node_produces("virtio-numahint-pci", "virtio-numahint");
}

libqos_init(virtio_numahint_register_nodes);
