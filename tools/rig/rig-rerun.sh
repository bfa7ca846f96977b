#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The NPB-style rerun experiment, in the rig's inner guest (run by
# tools/vm/init.sh as /etc/numahint/run; experiments/rerun drives it).  One
# warm VM runs a workload rig.runs times, on the vCPUs of host node 1 first,
# then of node 0, then 1 again..., each run right after the previous one.
# The vCPUs are split evenly between the nodes in order (the outer VM pins
# them so): with 2 vCPUs, vCPU 0 is node 0's and vCPU 1 node 1's.
#
# Kernel command line:
#   rig.workload=CMD,ARG,...   the command, commas for spaces (default
#                              nh-triad,-m,64,-i,20); a command without a
#                              slash is looked for in /tests
#   rig.runs=K                 runs (default 4)
#   rig.sample=SEC             read each run's working set (rig-run) at
#                              SEC, 2 SEC, 4 SEC... of the run (default 1),
#                              when the workload stops itself once its data
#                              is set up (NH_READY=stop, the project's nh-*
#                              workloads), and when it exits (ptrace's exit
#                              stop: all it still holds)
#   rig.exithold=SEC           keep the exited workload's memory SEC
#                              seconds after its exit sample (default 2),
#                              for the host to read its placement
#   rig.span=1                 every run on all vCPUs, its threads on both
#                              nodes (node=all), and its ready and exit
#                              samples split by the thread that allocated
#                              each page (rig-run --per-thread)
#
# A run's OpenMP threads get the vCPUs of its node: OMP_NUM_THREADS (one a
# vCPU), OMP_PLACES (one place a vCPU, "{2},{3}") and OMP_PROC_BIND=close,
# and the run is pinned there (taskset).  A dynamically linked workload
# runs as it is: the initramfs has its libraries and loader (ldd).
#
# Lines for the outer VM (rig-outer.sh) and experiments/rerun:
#   RIG-RUN-BEGIN run=I node=N cpus=LIST omp_places=P
#                                          before run I (from 1)
#   RIG-GPA ..., RIG-RUN-SAMPLE ...        its working set, each sample
#                                          (rig-run)
#   NH-RESULT ...                          the workload's own line
#   RIG-RUN-RESULT ...                     guest faults and times (rig-run)
#   RIG-RUN-END run=I exit=E               after run I
#   RIG-MARK runs done                     all runs done

workload=nh-triad,-m,64,-i,20
runs=4
sample=1
exithold=2
span=0
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	rig.workload=*) workload=${arg#*=} ;;
	rig.runs=*) runs=${arg#*=} ;;
	rig.sample=*) sample=${arg#*=} ;;
	rig.exithold=*) exithold=${arg#*=} ;;
	rig.span=*) span=${arg#*=} ;;
	esac
done
# shellcheck disable=SC2046 # split the command at the commas
set -- $(echo "$workload" | tr ',' ' ')
# The project's workloads (nh-*) say when their data is set up (rig-run
# --ready); anything else is sampled periodically and at its exit.
ready=
case "$1" in
*/*) ;;
nh-*) ready=--ready && cmd=/tests/$1 && shift && set -- "$cmd" "$@" ;;
*) cmd=/tests/$1 && shift && set -- "$cmd" "$@" ;;
esac

vcpus=$(grep -c '^processor' /proc/cpuinfo)
per_node=$((vcpus / 2))
if [ "$per_node" -lt 1 ]; then
	echo "RIG-ERROR the inner guest has $vcpus vCPU(s); it needs 2 or more"
	exit 1
fi
drivers=
for d in /sys/bus/virtio/devices/*/driver; do
	[ -L "$d" ] && drivers="$drivers $(basename "$(readlink "$d")")"
done
echo "RIG-INNER drivers:${drivers:- none} vcpus=$vcpus runs=$runs" \
	"workload=$*"

run=1
while [ "$run" -le "$runs" ]; do
	node=$((run % 2))
	lo=$((node * per_node))
	hi=$((lo + per_node - 1))
	threads=
	if [ "$span" = 1 ]; then
		node=all
		lo=0
		hi=$((vcpus - 1))
		threads=--per-thread
	fi
	cpus=$lo-$hi
	places=$(seq "$lo" "$hi" | sed 's/.*/{&}/' | paste -s -d,)
	echo "RIG-RUN-BEGIN run=$run node=$node cpus=$cpus omp_places=$places"
	# The console gets the working set while the run goes on (tee).
	OMP_NUM_THREADS=$((hi - lo + 1)) OMP_PLACES=$places \
		OMP_PROC_BIND=close taskset -c "$cpus" /tests/rig-run \
		--name "run$run" --sample-after "$sample" \
		--exit-hold "$exithold" $ready $threads \
		-- "$@" 2>/tmp/run.err | tee /tmp/run.out
	rc=$(sed -n 's/^RIG-RUN-RESULT .* exit=\([0-9-]*\).*/\1/p' /tmp/run.out)
	rc=${rc:-1}
	sed 's/^/workload stderr: /' /tmp/run.err | tail -5
	echo "RIG-RUN-END run=$run exit=$rc"
	if [ "$rc" -ne 0 ]; then
		echo "RIG-ERROR run $run: the workload exited $rc"
		break
	fi
	run=$((run + 1))
done
echo "RIG-MARK runs done"
sleep 600
