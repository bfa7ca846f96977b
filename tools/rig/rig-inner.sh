#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The rerun scenario, in the rig's inner guest (run by tools/vm/init.sh as
# /etc/numahint/run).  App A, pinned to vCPU 1 (host node 1), touches
# rig.mib MiB and exits; app B starts at once on vCPU 0 (host node 0),
# touches rig.bmib MiB and holds it while the outer VM samples host
# placement (at "RIG-MARK B touched" and "RIG-MARK B held SEC").
#
# Variants (rig.variant=):
#   rerun       as above;
#   big         the same, with a B as big as rig.bmib says (the rig asks
#               75% of guest RAM);
#   fragmented  A frees every other page of its memory and keeps the rest
#               until the end, instead of exiting: its free memory never
#               merges into blocks that free page reporting takes.  A and
#               B use 4 KiB pages (a partly freed transparent huge page
#               would not go back to the allocator at once).  A touches on
#               vCPU 1 and frees on vCPU 0: freed pages go to the freeing
#               CPU's per-CPU lists (6.1 keeps up to ~6,900 pages there in
#               a 1 GiB guest), where B's allocations find them first;
#               freed on vCPU 1, most would stay out of B's reach.
#   stress      no A and B: the no-data-lost stress program
#               (selftests/numahint/numahint_stress) runs on both vCPUs at
#               once, rig.stress=BYTES each, so that each reuses memory the
#               other freed while the host migrates and discards it.
#               Prints "RIG-STRESS cpu=N exit=E" for each, then
#               "RIG-MARK stress done".
#
# Kernel command line: rig.variant=V (default rerun), rig.mib=MIB
# (A's size, default 64), rig.bmib=MIB (B's size, default rig.mib),
# rig.hold=SEC (default 5), rig.stress=BYTES (default 256M).

variant=rerun
mib=64
bmib=
hold=5
stress=256M
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	rig.variant=*) variant=${arg#*=} ;;
	rig.mib=*) mib=${arg#*=} ;;
	rig.bmib=*) bmib=${arg#*=} ;;
	rig.hold=*) hold=${arg#*=} ;;
	rig.stress=*) stress=${arg#*=} ;;
	esac
done
bmib=${bmib:-$mib}
bflags=

drivers=
for d in /sys/bus/virtio/devices/*/driver; do
	[ -L "$d" ] && drivers="$drivers $(basename "$(readlink "$d")")"
done
echo "RIG-INNER drivers:${drivers:- none} variant=$variant mib=$mib" \
	"bmib=$bmib hold=$hold"
for f in /sys/bus/virtio/devices/*/numahint/features; do
	[ -f "$f" ] && echo "RIG-INNER numahint features: $(cat "$f")"
done
echo "RIG-INNER MemFree before: $(grep MemFree /proc/meminfo)"

if [ "$variant" = stress ]; then
	# Two tmpfs files of the cycle size each must fit beside both.
	taskset -c 0 /tests/numahint_stress -b "$stress" -c 64M >/tmp/stress0 2>&1 &
	pid0=$!
	taskset -c 1 /tests/numahint_stress -b "$stress" -c 64M >/tmp/stress1 2>&1 &
	pid1=$!
	wait "$pid0"
	rc0=$?
	wait "$pid1"
	rc1=$?
	sed 's/^/stress cpu 0: /' /tmp/stress0
	sed 's/^/stress cpu 1: /' /tmp/stress1
	echo "RIG-STRESS cpu=0 exit=$rc0"
	echo "RIG-STRESS cpu=1 exit=$rc1"
	echo "RIG-MARK stress done"
	sleep 600
	exit 0
fi

case "$variant" in
rerun | big)
	taskset -c 1 /tests/rig-touch A "$mib" --save /tmp/a.pfn ||
		echo "RIG-ERROR A failed"
	;;
fragmented)
	bflags=--nohuge
	taskset -c 1 /tests/rig-touch A "$mib" --nohuge --fragment \
		--free-cpu 0 --save /tmp/a.pfn \
		--ready /tmp/a.ready --wait 900 &
	for _ in $(seq 3000); do
		[ -e /tmp/a.ready ] && break
		kill -0 $! 2>/dev/null || break
		sleep 0.1
	done
	[ -e /tmp/a.ready ] || echo "RIG-ERROR A did not fragment its memory"
	;;
*)
	echo "RIG-ERROR unknown variant '$variant'"
	exit 1
	;;
esac
# shellcheck disable=SC2086 # bflags: zero or one word
taskset -c 0 /tests/rig-touch B "$bmib" $bflags --compare /tmp/a.pfn \
	--hold "$hold" --wait 600
