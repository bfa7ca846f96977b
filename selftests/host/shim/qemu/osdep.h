/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the device's QEMU-independent files (hw/virtio/numahint-request.c,
 * numahint-placement.c) take from QEMU's osdep.h, for building them on
 * their own in the unit tests, the fuzz target and placement-bench: the C
 * library.  With this directory first on the include path, those files
 * are compiled unchanged, as QEMU compiles them.
 */
#ifndef NUMAHINT_SHIM_QEMU_OSDEP_H
#define NUMAHINT_SHIM_QEMU_OSDEP_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#endif
