/*
 * libqos driver framework: virtio-numahint
 *
 * Copyright (c) 2026 The numahint authors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_LIBQOS_VIRTIO_NUMAHINT_H
#define TESTS_LIBQOS_VIRTIO_NUMAHINT_H

#include "qgraph.h"
#include "virtio.h"
#include "virtio-pci.h"

/* The qdev id of the device, for qom-get on its "stats" property. */
#define QVIRTIO_NUMAHINT_ID "numahint0"

typedef struct QVirtioNumahint QVirtioNumahint;
typedef struct QVirtioNumahintPCI QVirtioNumahintPCI;
typedef struct QVirtioNumahintDevice QVirtioNumahintDevice;

struct QVirtioNumahint {
    QVirtioDevice *vdev;
};

struct QVirtioNumahintPCI {
    QVirtioPCIDevice pci_vdev;
    QVirtioNumahint numahint;
};

struct QVirtioNumahintDevice {
    QOSGraphObject obj;
    QVirtioNumahint numahint;
};

#endif
