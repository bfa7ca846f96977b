#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of test_libvirt.py, run by tools/vm/init.sh after it has
# loaded virtio_numahint.  Prints which virtio device the driver bound and
# what it negotiated, then frees 32 MiB every 2 seconds forever (free page
# reports) and prints a tick with the driver's counters, so that the host
# sees the guest run and report before and after a save/restore or a
# migration.  The host stops the domain.

drv=/sys/bus/virtio/drivers/virtio_numahint
dev=
for link in "$drv"/virtio*; do
	[ -e "$link" ] || continue
	dev=${link##*/}
	echo "numahint-libvirt: bound $dev to virtio_numahint"
done
if [ -z "$dev" ]; then
	echo "numahint-libvirt: FAIL no device bound to virtio_numahint"
	exit 1
fi
sysfs=/sys/bus/virtio/devices/$dev
echo "numahint-libvirt: $dev device=$(cat "$sysfs/device") features=$(cat "$sysfs/features")"
echo "numahint-libvirt: $dev report_active=$(cat "$sysfs/numahint/report_active") touch_active=$(cat "$sysfs/numahint/touch_active")"

tick=0
while :; do
	tick=$((tick + 1))
	dd if=/dev/zero of=/tmp/churn bs=1M count=32 2>/dev/null
	rm -f /tmp/churn
	sleep 2
	echo "numahint-libvirt: tick $tick report_requests=$(cat "$sysfs/numahint/report_requests") report_bytes=$(cat "$sysfs/numahint/report_bytes")"
done
