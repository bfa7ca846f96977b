/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QEMU imports the protocol header as standard-headers/linux/; outside
 * QEMU it is protocol/virtio_numahint.h itself.
 */
#include "../../../../../protocol/virtio_numahint.h"
