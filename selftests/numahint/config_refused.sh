#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run in a guest whose numahint device exposes an out-of-range config
# (QEMU's x-unchecked-config=on test hook): the driver must refuse the
# device with a kernel message that names the field, leave it unbound, and
# the guest must keep working.  TAP 13 on stdout.  Not in TEST_PROGS: the
# test harness runs it as the init script of that one boot.

DRIVER_DIR=/sys/bus/virtio/drivers/virtio_numahint
VIRTIO_ID_NUMAHINT=0x003c

echo "TAP version 13"
echo "1..4"

device=
for dev in /sys/bus/virtio/devices/virtio*; do
	[ "$(cat "$dev/device" 2>/dev/null)" = "$VIRTIO_ID_NUMAHINT" ] &&
		device=${dev##*/}
done
if [ -n "$device" ]; then
	echo "ok 1 - the guest sees the numahint device ($device)"
else
	echo "not ok 1 - the guest sees the numahint device"
fi

if [ -d "$DRIVER_DIR" ] && [ ! -e "$DRIVER_DIR/$device" ]; then
	echo "ok 2 - the driver is loaded but did not bind the device"
else
	echo "not ok 2 - the driver is loaded but did not bind the device"
fi

line=$(dmesg | grep 'virtio_numahint.*outside the supported range.*refusing the device')
if [ -n "$line" ]; then
	echo "# ${line#*] }"
	echo "ok 3 - the kernel log names the field and the refusal"
else
	dmesg | tail -n 5 | sed 's/^/# /'
	echo "not ok 3 - the kernel log names the field and the refusal"
fi

# The guest keeps working: allocate, write and read back 16 MiB in tmpfs.
if dd if=/dev/zero of=/tmp/fill bs=1M count=16 2>/dev/null &&
   [ "$(wc -c < /tmp/fill)" -eq 16777216 ]; then
	echo "ok 4 - the guest keeps running and allocating memory"
else
	echo "not ok 4 - the guest keeps running and allocating memory"
fi
rm -f /tmp/fill
