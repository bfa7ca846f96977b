#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The rerun scenario, in the rig's inner guest (run by tools/vm/init.sh as
# /etc/numahint/run).  App A, pinned to the last vCPU (vCPU 1 on the
# two-node rig: host node 1; vCPU 3 on four nodes: node 3, the farthest
# from node 0), touches rig.mib MiB and exits; app B starts at once on
# vCPU 0 (host node 0), touches rig.bmib MiB and holds it while the outer
# VM samples host placement (at "RIG-MARK B touched" and
# "RIG-MARK B held SEC").  Below, "vCPU 1" stands for that last vCPU.
#
# Variants (rig.variant=):
#   rerun       as above;
#   big         the same, with a B as big as rig.bmib says (the rig asks
#               75% of guest RAM);
#   bigreuse    the same, with A and B as big as rig.mib and rig.bmib say
#               (the rig asks a third of guest RAM each): B reuses most of
#               A's pages;
#   slow        A as in rerun, but it exits on vCPU 0 (its freed pages go
#               to the lists B allocates from); B uses 4 KiB pages and
#               touches them at rig.rate MiB/s (default 4), so that a
#               2 MiB host page fills over many of the device's flush
#               windows;
#   guestthp    as rerun, with A and B asking for transparent huge pages
#               (MADV_HUGEPAGE: the guest compacts rather than fall back
#               to 4 KiB pages);
#   hugetlb     as rerun (the rig puts guest RAM on hugetlbfs 2 MiB pages
#               of the host; nothing changes in the guest);
#   fragmented  A frees every other page of its memory and keeps the rest
#               until the end, instead of exiting: its free memory never
#               merges into blocks that free page reporting takes.  A and
#               B use 4 KiB pages (a partly freed transparent huge page
#               would not go back to the allocator at once).  A touches on
#               vCPU 1 and frees on vCPU 0: freed pages go to the freeing
#               CPU's per-CPU lists (6.1 keeps up to ~6,900 pages there in
#               a 1 GiB guest), where B's allocations find them first;
#               freed on vCPU 1, most would stay out of B's reach.
#   threads     A and B each run one thread per vCPU, each thread pinned
#               to its vCPU and touching its own rig.mib MiB chunk, as
#               OpenMP codes first-touch their data; B's threads run
#               rotated by rig.rotate vCPUs, one node's worth (thread t on
#               vCPU t + rig.rotate), so that each reuses memory of
#               another node; each chunk's frames are printed as RIG-GPA
#               B.cpuK;
#   stress      no A and B: the no-data-lost stress program
#               (selftests/numahint/numahint_stress) runs on both vCPUs at
#               once, rig.stress=BYTES each, so that each reuses memory the
#               other freed while the host migrates and discards it.
#               Prints "RIG-STRESS cpu=N exit=E" for each, then
#               "RIG-MARK stress done".
#   bench       experiments/placement-bench --rig: A touches rig.mib MiB
#               on vCPU 1 and exits; then rig.rounds apps P1, P2, ... touch
#               rig.mib MiB each, on vCPU 0, vCPU 1, vCPU 0, ... so that
#               each reuses the memory the one before freed on the other
#               node, and hold it rig.hold seconds after "RIG-MARK Pn
#               touched" and as long again after "RIG-MARK Pn held"
#               (at the second, with the guest quiet, the host measures
#               the device's placement of the pages, then a raw
#               move_pages loop over them); then "RIG-MARK bench done";
#   storm       experiments/main-loop-latency: for each phase of
#               rig.phases (default "idle held storm"), "RIG-MARK phase P",
#               then (but in idle) a storm: an app that touches rig.mib
#               MiB, holds it 2 s (time for the device to place it) and
#               frees it, over and over, on vCPU 0 and vCPU 1 in turn, so
#               that each pass reuses memory on the other node
#               (one app: with two, both inner vCPUs keep both of this
#               machine's cores busy, and the inner main loop waits for
#               a core whatever the device does); meanwhile
#               rig-latency times timer wakeups on vCPU 1 for
#               rig.phase_s seconds (default 30) as a real-time task;
#               "RIG-MARK phase P done" once the storm stopped, and
#               "RIG-MARK storm done" after the last phase.  The host
#               sets the placement budget for each phase (held: 1 page a
#               second) and times QMP commands meanwhile.
#
# Kernel command line: rig.variant=V (default rerun), rig.mib=MIB
# (A's size, default 64), rig.bmib=MIB (B's size, default rig.mib),
# rig.hold=SEC (default 5), rig.stress=BYTES (default 256M), rig.rate=MIBPS
# (B's touch rate in slow, default 4), rig.rounds=N (bench, default 4),
# rig.phases=P,P,... (storm, default idle,held,storm), rig.phase_s=SEC
# (storm, default 30), rig.rotate=N (threads: vCPUs B's threads are
# rotated by, one node's worth; default 1).

variant=rerun
mib=64
bmib=
hold=5
stress=256M
rate=4
rounds=4
phases=idle,held,storm
phase_s=30
rotate=1
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	rig.variant=*) variant=${arg#*=} ;;
	rig.mib=*) mib=${arg#*=} ;;
	rig.bmib=*) bmib=${arg#*=} ;;
	rig.hold=*) hold=${arg#*=} ;;
	rig.stress=*) stress=${arg#*=} ;;
	rig.rate=*) rate=${arg#*=} ;;
	rig.rounds=*) rounds=${arg#*=} ;;
	rig.phases=*) phases=${arg#*=} ;;
	rig.phase_s=*) phase_s=${arg#*=} ;;
	rig.rotate=*) rotate=${arg#*=} ;;
	esac
done
bmib=${bmib:-$mib}
bflags=
# A's vCPU: the last (the farthest node from B's with more than two).
acpu=$(($(grep -c '^processor' /proc/cpuinfo) - 1))

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

if [ "$variant" = bench ]; then
	taskset -c "$acpu" /tests/rig-touch A "$mib" || echo "RIG-ERROR A failed"
	for r in $(seq "$rounds"); do
		cpu=0
		[ $((r % 2)) = 0 ] && cpu=$acpu
		taskset -c "$cpu" /tests/rig-touch "P$r" "$mib" --hold "$hold" \
			--wait "$hold" || echo "RIG-ERROR P$r failed"
	done
	echo "RIG-MARK bench done"
	sleep 600
	exit 0
fi

if [ "$variant" = storm ]; then
	# One pass first, untimed, on the last vCPU: each phase's first pass
	# (on vCPU 0) then reuses memory the host backed on the other node, as
	# the later ones do.  Memory the host never backed is placed by its own
	# first touch, and a phase whose counters are read during that first
	# pass finds nearly all of it local (the device before did, with the
	# storm as its first phase).
	taskset -c "$acpu" /tests/rig-touch S "$mib" >/dev/null ||
		echo "RIG-ERROR pre-fault pass failed"
	for phase in $(echo "$phases" | tr ',' ' '); do
		echo "RIG-MARK phase $phase"
		# The host sets the budget for the phase meanwhile.
		sleep 2
		storm=
		if [ "$phase" != idle ]; then
			rm -f /tmp/storm.stop
			(
				cpu=0
				while [ ! -e /tmp/storm.stop ]; do
					taskset -c "$cpu" /tests/rig-touch S "$mib" \
						--wait 2 >/dev/null
					cpu=$((acpu - cpu))
				done
			) &
			storm=$!
			sleep 2
		fi
		taskset -c "$acpu" /tests/rig-latency "$phase_s" "$phase"
		if [ -n "$storm" ]; then
			touch /tmp/storm.stop
			wait "$storm"
		fi
		echo "RIG-MARK phase $phase done"
	done
	echo "RIG-MARK storm done"
	sleep 600
	exit 0
fi

case "$variant" in
rerun | big | bigreuse | hugetlb)
	taskset -c "$acpu" /tests/rig-touch A "$mib" --save /tmp/a.pfn ||
		echo "RIG-ERROR A failed"
	;;
threads)
	bflags="--threads $((acpu + 1)) --rotate $rotate"
	taskset -c "$acpu" /tests/rig-touch A "$mib" --threads $((acpu + 1)) \
		--save /tmp/a.pfn || echo "RIG-ERROR A failed"
	;;
guestthp)
	bflags=--huge
	taskset -c "$acpu" /tests/rig-touch A "$mib" --huge --save /tmp/a.pfn ||
		echo "RIG-ERROR A failed"
	;;
slow)
	bflags="--nohuge --rate $rate"
	taskset -c "$acpu" /tests/rig-touch A "$mib" --free-cpu 0 --save /tmp/a.pfn ||
		echo "RIG-ERROR A failed"
	;;
fragmented)
	bflags=--nohuge
	taskset -c "$acpu" /tests/rig-touch A "$mib" --nohuge --fragment \
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
# shellcheck disable=SC2086 # bflags: options, split
taskset -c 0 /tests/rig-touch B "$bmib" $bflags --compare /tmp/a.pfn \
	--hold "$hold" --wait 600
