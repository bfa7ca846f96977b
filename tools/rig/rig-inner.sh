#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The rerun scenario, in the rig's inner guest (run by tools/vm/init.sh as
# /etc/numahint/run).  App A, pinned to vCPU 1 (host node 1), touches
# rig.mib MiB and exits; app B starts at once on vCPU 0 (host node 0),
# touches as much and holds it while the outer VM samples host placement
# (at "RIG-MARK B touched" and "RIG-MARK B held SEC").
#
# Kernel command line: rig.mib=MIB (default 64), rig.hold=SEC (default 5).

mib=64
hold=5
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	rig.mib=*) mib=${arg#*=} ;;
	rig.hold=*) hold=${arg#*=} ;;
	esac
done

drivers=
for d in /sys/bus/virtio/devices/*/driver; do
	[ -L "$d" ] && drivers="$drivers $(basename "$(readlink "$d")")"
done
echo "RIG-INNER drivers:${drivers:- none} mib=$mib hold=$hold"
for f in /sys/bus/virtio/devices/*/numahint/features; do
	[ -f "$f" ] && echo "RIG-INNER numahint features: $(cat "$f")"
done
echo "RIG-INNER MemFree before: $(grep MemFree /proc/meminfo)"

taskset -c 1 /tests/rig-touch A "$mib" --save /tmp/a.pfn || echo "RIG-ERROR A failed"
taskset -c 0 /tests/rig-touch B "$mib" --compare /tmp/a.pfn --hold "$hold" --wait 600
