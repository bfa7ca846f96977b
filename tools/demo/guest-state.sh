#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of tools/numahint-demo: show the numahint device as the guest
# sees it (binding, negotiated features, configuration, counters) and ask
# the locality probe where the host keeps a page and each vCPU.

DRIVER_DIR=/sys/bus/virtio/drivers/virtio_numahint

echo "== guest: virtio_numahint driver =="
dev=
for d in "$DRIVER_DIR"/virtio*; do
	[ -e "$d" ] && dev=${d##*/}
done
if [ -z "$dev" ]; then
	echo "no device bound to $DRIVER_DIR"
	echo "not ok 1 - numahint device bound"
	exit 1
fi
echo "$DRIVER_DIR/$dev -> $(readlink -f "$DRIVER_DIR/$dev")"
sysfs=/sys/bus/virtio/devices/$dev
echo "virtio device id: $(cat "$sysfs/device"), feature bits: $(cat "$sysfs/features")"
for f in "$sysfs"/numahint/*; do
	printf '  %-20s %s\n' "${f##*/}" "$(cat "$f")"
done

probe=/sys/kernel/debug/virtio_numahint/$dev/probe
if [ -w "$probe" ]; then
	echo "== guest: locality probe =="
	cpus=$(seq 0 $(($(grep -c ^processor /proc/cpuinfo) - 1)))
	# shellcheck disable=SC2086 # one word per CPU
	echo cpu $cpus > "$probe" && cat "$probe"
	# The host node behind the page that holds this script's first bytes
	# of page cache is not reachable from a shell; probe the first page
	# of guest RAM above 1 MiB instead, which the kernel itself uses.
	echo "page 0x100000" > "$probe" && cat "$probe"
fi
echo "ok 1 - numahint device bound and readable"
