/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QEMU's little-endian accessors, from the C library (see osdep.h here). */
#ifndef NUMAHINT_SHIM_QEMU_BSWAP_H
#define NUMAHINT_SHIM_QEMU_BSWAP_H

#include <endian.h>

#define le16_to_cpu(x) le16toh(x)
#define le32_to_cpu(x) le32toh(x)
#define le64_to_cpu(x) le64toh(x)

#endif
