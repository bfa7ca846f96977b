/*
 * Virtio NUMA hint PCI bindings
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/virtio/virtio-numahint.h"
#include "hw/qdev-properties.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "qom/object.h"

typedef struct VirtIONumahintPCI VirtIONumahintPCI;

/*
 * virtio-numahint-pci: This extends VirtioPCIProxy.
 */
#define TYPE_VIRTIO_NUMAHINT_PCI "virtio-numahint-pci-base"
DECLARE_INSTANCE_CHECKER(VirtIONumahintPCI, VIRTIO_NUMAHINT_PCI,
                         TYPE_VIRTIO_NUMAHINT_PCI)

struct VirtIONumahintPCI {
    VirtIOPCIProxy parent_obj;
    VirtIONumahint vdev;
};

static const Property virtio_numahint_pci_properties[] = {
    DEFINE_PROP_BIT("ioeventfd", VirtIOPCIProxy, flags,
                    VIRTIO_PCI_FLAG_USE_IOEVENTFD_BIT, true),
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors,
                       DEV_NVECTORS_UNSPECIFIED),
};

static void virtio_numahint_pci_realize(VirtIOPCIProxy *vpci_dev, Error **errp)
{
    VirtIONumahintPCI *dev = VIRTIO_NUMAHINT_PCI(vpci_dev);
    DeviceState *vdev = DEVICE(&dev->vdev);

    /* One vector per queue plus one for configuration changes. */
    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        vpci_dev->nvectors = VIRTIO_NUMAHINT_NUM_VQS + 1;
    }

    /* A new device: modern only, no legacy interface. */
    virtio_pci_force_virtio_1(vpci_dev);
    qdev_realize(vdev, BUS(&vpci_dev->bus), errp);
}

static void virtio_numahint_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = virtio_numahint_pci_realize;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
    device_class_set_props(dc, virtio_numahint_pci_properties);
}

static void virtio_numahint_pci_instance_init(Object *obj)
{
    VirtIONumahintPCI *dev = VIRTIO_NUMAHINT_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_NUMAHINT);
    object_property_add_alias(obj, VIRTIO_NUMAHINT_STATS_PROP,
                              OBJECT(&dev->vdev), VIRTIO_NUMAHINT_STATS_PROP);
    object_property_add_alias(obj, VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP,
                              OBJECT(&dev->vdev),
                              VIRTIO_NUMAHINT_TOUCH_FLUSH_MS_PROP);
    object_property_add_alias(obj, VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_PROP,
                              OBJECT(&dev->vdev),
                              VIRTIO_NUMAHINT_TOUCH_PAGES_PER_SEC_PROP);
}

static const VirtioPCIDeviceTypeInfo virtio_numahint_pci_info = {
    .base_name     = TYPE_VIRTIO_NUMAHINT_PCI,
    .generic_name  = "virtio-numahint-pci",
    .instance_size = sizeof(VirtIONumahintPCI),
    .instance_init = virtio_numahint_pci_instance_init,
    .class_init    = virtio_numahint_pci_class_init,
};

static void virtio_numahint_pci_register_types(void)
{
    virtio_pci_types_register(&virtio_numahint_pci_info);
}

type_init(virtio_numahint_pci_register_types)
