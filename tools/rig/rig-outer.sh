#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The rig's outer VM: its run script (tools/vm/init.sh runs it as
# /etc/numahint/run, after mounting /proc, /sys, /dev).  It plays the host:
# starts the inner QEMU (/tests/qemu-system-x86_64, argv from
# /tests/rig-config-NAME.args, one argument a line), pins the inner vCPU
# threads to CPUs of different nodes, follows the inner console and samples
# host placement of the pages the inner scenario names.
#
# Kernel command line: rig.config=NAME, rig.nodes=N (the nodes the rig
# uses, default 2), rig.hold=SEC (how long B holds
# before the second sample, default 5), rig.hugepages=N (reserve N 2 MiB
# huge pages on each of the rig's nodes and mount hugetlbfs on
# /dev/hugepages, for inner guest RAM on hugetlbfs), rig.collapse=1
# (right after B touched, collapse the inner QEMU's 4 KiB-mapped guest RAM
# into THPs as khugepaged would: rig-collapse).
#
# experiments/rerun --mode host runs this script on a real NUMA host
# instead, with the environment saying where things are:
#   RIG_DIR=DIR      the staged files (default /tests)
#   RIG_CONFIG=NAME  the configuration (default: rig.config= above)
#   RIG_TMP=DIR      its sockets and scratch files (default /tmp)
#   RIG_NODES="A B"  the host nodes that play node 0, node 1, ... (default
#                    "0 1", or 0 to N-1 with rig.nodes=N; on a host of
#                    more nodes, any of them)
#
# Lines for tools/numahint-rig (all others are for people):
#   RIG-OUTER ...                   what the outer side did
#   inner: ...                      a line of the inner console
#   RIG-RESULT key=value ...        measurements (what=B: all of B's
#                                   pages; what=B.cpuK: the chunk of B's
#                                   thread on vCPU K, threads variant)
#   RIG-STATS phase=P {json}        the numahint device's counters (qom-get)
#   RIG-FAIL reason                 the scenario could not be measured
#   RIG-END                         the outer side is done

R=${RIG_DIR:-/tests}
T=${RIG_TMP:-/tmp}
HMP=$T/inner-hmp.sock
# The inner QEMU's QMP socket (tools/numahint/rig.py, inner_argv).
QMP=/tmp/inner-qmp.sock
FIFO=$T/inner-console
GPAS=$T/b-gpas

config=${RIG_CONFIG:-}
hugepages=0
collapse=0
# Seconds from the end of the collapse to the held sample: the engine's
# check interval and cooldown (1 s each) and room for nested TCG.
collapse_settle=5
collapsed_at=
rig_nodes=2
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	rig.config=*) [ -n "$config" ] || config=${arg#*=} ;;
	rig.nodes=*) rig_nodes=${arg#*=} ;;
	rig.hugepages=*) hugepages=${arg#*=} ;;
	rig.collapse=*) collapse=${arg#*=} ;;
	esac
done
# The host nodes that play the rig's node 0, 1, ...
host_nodes=${RIG_NODES:-$(seq -s ' ' 0 $((rig_nodes - 1)))}
# shellcheck disable=SC2086 # words
set -- $host_nodes
rig_nodes=$#
args="$R"/rig-config-$config.args
if [ -z "$config" ] || [ ! -f "$args" ]; then
	echo "RIG-FAIL no configuration '$config' in this initramfs"
	echo "RIG-END"
	exit 1
fi

# The host node that plays node $1 (0 to rig_nodes - 1).
host_node() {
	echo "$host_nodes" | awk -v k="$1" '{ print $(k + 1) }'
}
first_cpu() {
	cpus=$(cat "/sys/devices/system/node/node$(host_node "$1")/cpulist" \
		2>/dev/null)
	cpus=${cpus%%,*}
	echo "${cpus%%-*}"
}
last=$((rig_nodes - 1))
cpu_last=$(first_cpu "$last")
nodes=0
for node in /sys/devices/system/node/node[0-9]*; do
	[ -d "$node" ] && nodes=$((nodes + 1))
done
as='' cpus=''
for k in $(seq 0 "$last"); do
	as="$as as-node$k=$(host_node "$k")"
	cpus="$cpus node$k-cpus=$(cat "/sys/devices/system/node/node$(host_node "$k")/cpulist" 2>/dev/null)"
done
echo "RIG-OUTER nodes=$nodes$as$cpus" \
	"thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled)" \
	"numa_balancing=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null)" \
	"kvm=$([ -e /dev/kvm ] && echo yes || echo no)"
if [ -z "$cpu_last" ]; then
	echo "RIG-FAIL the host has no NUMA node $(host_node "$last") with CPUs"
	echo "RIG-END"
	exit 1
fi

# Huge pages for inner RAM on hugetlbfs, on every node (the inner guest
# touches memory on all, and placement moves pages between them).
if [ "$hugepages" -gt 0 ]; then
	got=
	for n in $host_nodes; do
		h=/sys/devices/system/node/node$n/hugepages/hugepages-2048kB
		echo "$hugepages" >"$h/nr_hugepages" 2>/dev/null
		got="$got node$n=$(cat "$h/nr_hugepages" 2>/dev/null)"
	done
	mkdir -p /dev/hugepages
	grep -q ' /dev/hugepages ' /proc/mounts ||
		mount -t hugetlbfs -o pagesize=2M none /dev/hugepages
	echo "RIG-OUTER hugepages wanted=$hugepages each, got$got"
	case "$got" in
	*"=$hugepages node"*"=$hugepages") ;;
	*)
		echo "RIG-FAIL cannot reserve $hugepages huge pages on each node"
		echo "RIG-END"
		exit 1
		;;
	esac
fi

set --
while IFS= read -r a; do
	set -- "$@" "$a"
done <"$args"
echo "RIG-OUTER config=$config inner: $*"

rm -f "$FIFO" "$GPAS" "$T"/gpas-B.*
mkfifo "$FIFO"
"$@" -monitor "unix:$HMP,server=on,wait=off" >"$FIFO" 2>"$T/inner-stderr" &
qpid=$!

# The inner vCPUs (-smp N), split evenly over the rig's nodes in order:
# with 2 nodes the first half goes to node 0, the second to node 1; vCPU
# k of a node pinned to that node's k-th CPU (round the node's CPUs again
# when it has fewer CPUs than vCPUs).
smp=$(awk 'prev == "-smp" { print; exit } { prev = $0 }' "$args")
smp=${smp%%,*}
smp=${smp:-1}
per_node=$((smp / rig_nodes))
[ "$per_node" -ge 1 ] || per_node=1
nth_cpu() {
	# The K-th (from 0, modulo their number) CPU of node N's cpulist,
	# e.g. "0-1,4".
	awk -F, -v k="$2" '{ m = 0; for (i = 1; i <= NF; i++) {
		n = split($i, r, "-"); if (n == 1) r[2] = r[1];
		for (c = r[1] + 0; c <= r[2] + 0; c++) cpu[m++] = c }
		if (m) print cpu[k % m] }' \
		"/sys/devices/system/node/node$(host_node "$1")/cpulist"
}

# Pin the inner vCPU threads as soon as QEMU has created them (before the
# inner guest runs any code that matters; QEMU blocks on the console FIFO
# until the reader below opens it, and creates its vCPUs before that).
(
	for _ in $(seq 600); do
		found=0
		for task in /proc/"$qpid"/task/*; do
			case "$(cat "$task/comm" 2>/dev/null)" in
			"CPU "*"/TCG" | "CPU "*"/KVM") found=$((found + 1)) ;;
			esac
		done
		if [ "$found" -ge "$smp" ]; then
			pinned=
			for task in /proc/"$qpid"/task/*; do
				comm=$(cat "$task/comm" 2>/dev/null)
				case "$comm" in
				"CPU "*"/TCG" | "CPU "*"/KVM") ;;
				*) continue ;;
				esac
				v=${comm#CPU }
				v=${v%/*}
				node=$((v / per_node))
				[ "$node" -le "$last" ] || node=$last
				cpu=$(nth_cpu "$node" $((v % per_node)))
				if [ -z "$cpu" ] ||
					! taskset -p -c "$cpu" "${task##*/}" >/dev/null; then
					echo "RIG-FAIL cannot pin inner vCPU $v"
					exit 0
				fi
				pinned="$pinned vcpu$v tid=${task##*/} cpu=$cpu node=$(host_node "$node")"
			done
			echo "RIG-OUTER pinned$pinned"
			exit 0
		fi
		[ -d /proc/$qpid ] || exit 0
		sleep 0.1
	done
	echo "RIG-FAIL no inner vCPU threads named 'CPU n/TCG' or 'CPU n/KVM' after 60 s"
) &

ram_hva=
ram_size=
find_ram() {
	[ -n "$ram_hva" ] && return 0
	# shellcheck disable=SC2046 # words: HVA, size, name, page size
	set -- $("$R"/rig-hmp "$HMP" info ramblock |
		awk '$1 == "pc.ram" || $1 == "rig.ram" { print $7, $5, $1, $2 $3; exit }')
	ram_hva=$1
	ram_size=$2
	[ -n "$ram_hva" ] || { echo "RIG-FAIL no pc.ram or rig.ram in 'info ramblock'"; return 1; }
	echo "RIG-OUTER inner RAM $3 hva=$ram_hva size=$ram_size page-size=$4"
}

# The numahint device's counters (id nh0) as one line of JSON, or nothing.
device_stats() {
	"$R"/rig-hmp "$HMP" qom-get nh0 stats 2>/dev/null | tr -d ' \n' |
		sed -n 's/^[^{]*\({.*}\)[^}]*$/\1/p'
}

# Sample placement of all inner RAM at once (B's frames come later on the
# console: the dump keeps the node of every page), and the numahint
# device's counters if there is one (id nh0).
sample() {
	find_ram || return
	all=$("$R"/rig-placement "$qpid" "$ram_hva" --all "$ram_size" "$T/nodes-$1")
	stats=$(device_stats)
	echo "RIG-RESULT phase=$1 what=ram $all"
	# The inner QEMU's memory in host huge pages (THP mapped by PMDs).
	echo "RIG-RESULT phase=$1 what=qemu $(awk '
		/^AnonHugePages:/ { printf "anon_huge_kib=%d ", $2 }
		/^Private_Hugetlb:/ { printf "hugetlb_kib=%d ", $2 }
		/^Rss:/ { printf "rss_kib=%d ", $2 }' "/proc/$qpid/smaps_rollup" 2>/dev/null)"
	[ -n "$stats" ] && echo "RIG-STATS phase=$1 $stats"
}

# The inner QEMU's page faults and CPU time (clock ticks), from the host.
host_counters() {
	awk -v tck="$(getconf CLK_TCK 2>/dev/null || echo 100)" '{
		printf "host_minflt=%d host_majflt=%d host_cpu_s=%.2f\n",
			$10, $12, ($14 + $15) / tck }' "/proc/$qpid/stat"
}

# B's pages, as each sample saw them; then each of B's threads' chunk
# (RIG-GPA B.cpuK, the threads variant).
place_b() {
	for phase in "$@"; do
		[ -f "$T/nodes-$phase" ] || continue
		echo "RIG-RESULT phase=$phase what=B" \
			"$("$R"/rig-placement --from "$T/nodes-$phase" "$GPAS")"
		for part in "$T"/gpas-B.*; do
			[ -f "$part" ] || continue
			echo "RIG-RESULT phase=$phase what=${part#"$T"/gpas-}" \
				"$("$R"/rig-placement --from "$T/nodes-$phase" "$part")"
		done
	done
}

# One counter of a device_stats line, or 0.
stat_of() {
	v=$(echo "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p")
	echo "${v:-0}"
}

now_s() {
	cut -d' ' -f1 /proc/uptime
}

# The device's placement budget (touch-pages-per-sec, which can change at
# run time): set it to $1; false if the device would not.
set_budget() {
	out=$("$R"/rig-hmp "$HMP" qom-set nh0 touch-pages-per-sec "$1" 2>&1)
	case "$out" in
	*rror*)
		echo "RIG-OUTER budget $1 not set: $(echo "$out" | tr '\n' ' ')"
		return 1
		;;
	esac
}

# experiments/placement-bench --rig, at "RIG-MARK Pn held" (the guest
# is quiet then: its frame list went out after "touched"): the pages Pn
# touched were queued with a budget of one page a second; give the
# device all the budget there is and time its placement until nothing is
# pending (placement-ns: the time of its steps).
bench_engine() {
	s0=$(device_stats)
	t0=$(now_s)
	set_budget 1073741824
	# Once a second: each look costs processes, and this machine's CPU
	# (placement-ns times the steps, whatever the look's period).
	for _ in $(seq 120); do
		sleep 1
		s1=$(device_stats)
		[ "$(stat_of "$s1" touch-pages-pending)" = 0 ] && break
	done
	t1=$(now_s)
	set_budget 1
	echo "RIG-RESULT phase=engine round=$1" \
		"migrated=$(($(stat_of "$s1" touch-pages-migrated) - $(stat_of "$s0" touch-pages-migrated)))" \
		"local=$(($(stat_of "$s1" touch-pages-local) - $(stat_of "$s0" touch-pages-local)))" \
		"failed=$(($(stat_of "$s1" touch-pages-failed-busy) - $(stat_of "$s0" touch-pages-failed-busy)))" \
		"move_calls=$(($(stat_of "$s1" touch-move-calls) - $(stat_of "$s0" touch-move-calls)))" \
		"placement_ns=$(($(stat_of "$s1" placement-ns) - $(stat_of "$s0" placement-ns)))" \
		"placement_cpu_ns=$(($(stat_of "$s1" placement-cpu-ns) - $(stat_of "$s0" placement-cpu-ns)))" \
		"pending=$(stat_of "$s1" touch-pages-pending)" \
		"seconds=$(awk "BEGIN { print $t1 - $t0 }")"
	# All the counters: what became of the pages the events did not name.
	[ -n "$s1" ] && echo "RIG-STATS phase=engine round=$1 $s1"
}

# Round $1's node (here: odd rounds ran on vCPU 0, the rig's node 0,
# even ones on the last vCPU) and the other one (there).
bench_nodes() {
	here=$(host_node 0) there=$(host_node "$last")
	if [ $(($1 % 2)) = 0 ]; then
		here=$(host_node "$last") there=$(host_node 0)
	fi
}

# A raw move_pages loop over Pn's pages to node $3 (rig-placement
# --move), reported as phase $1 of round $2.
bench_move() {
	echo "RIG-RESULT phase=$1 round=$2" \
		"$("$R"/rig-placement "$qpid" "$ram_hva" "$GPAS" --move "$3")"
}

# One round: first every page Pn touched moves to the other node, so that
# the engine and the raw loop place the same set of misplaced pages
# (without it, the pages the guest's allocator took fresh are local and
# cost the engine a query that the raw loop is spared); then the engine
# moves them back (and the host checks where they are), and the raw loop
# moves them out and back.  Even rounds run the raw loop before the
# engine: under nested TCG a move's speed depends on the moves before it,
# so that neither side always comes second.
bench_round() {
	bench_nodes "$1"
	bench_move scatter "$1" "$there"
	if [ $(($1 % 2)) = 0 ]; then
		bench_move raw "$1" "$here" && bench_move raw "$1" "$there" ||
			return
	fi
	bench_engine "$1" || return
	echo "RIG-RESULT phase=placed round=$1 node=$here" \
		"$("$R"/rig-placement "$qpid" "$ram_hva" "$GPAS")"
	if [ $(($1 % 2)) = 1 ]; then
		bench_move raw "$1" "$there" && bench_move raw "$1" "$here"
	fi
}

# experiments/main-loop-latency, at "RIG-MARK phase P": the budget for
# the phase (held: one page a second; else the device's own), then the
# round-trip times of 2,000 QMP commands while the guest times its timer
# wakeups, and what placement did meanwhile.
budget_default=
storm_phase() {
	if [ -z "$budget_default" ]; then
		budget_default=$("$R"/rig-hmp "$HMP" qom-get nh0 \
			touch-pages-per-sec | grep -o '[0-9][0-9]*' | tail -n 1)
	fi
	budget=$budget_default
	[ "$1" = held ] && budget=1
	if [ "$budget" != "$budget_now" ]; then
		set_budget "$budget" && budget_now=$budget
	fi
	sleep 4		# the storm is on
	s0=$(device_stats)
	t0=$(now_s)
	qmp=$("$R"/rig-qmp "$QMP" 2000)
	s1=$(device_stats)
	t1=$(now_s)
	echo "RIG-RESULT phase=$1 what=qmp budget=${budget_now:-$budget_default}" \
		"$qmp" \
		"migrated=$(($(stat_of "$s1" touch-pages-migrated) - $(stat_of "$s0" touch-pages-migrated)))" \
		"events=$(($(stat_of "$s1" touch-events) - $(stat_of "$s0" touch-events)))" \
		"placement_ns=$(($(stat_of "$s1" placement-ns) - $(stat_of "$s0" placement-ns)))" \
		"placement_cpu_ns=$(($(stat_of "$s1" placement-cpu-ns) - $(stat_of "$s0" placement-cpu-ns)))" \
		"seconds=$(awk "BEGIN { print $t1 - $t0 }")"
	[ -n "$s1" ] && echo "RIG-STATS phase=$1 $s1"
}
budget_now=

# Raw snapshots for numahint-stat (tools/numahint/stat.py), which replays
# them from this console (`numahint-stat --replay LOG`) through the code
# it reads a live VM with: every rig.stat=SEC seconds (default 0: none;
# numa_maps walks the inner QEMU's page tables under its mmap lock, which
# under nested TCG slowed runs and came with an inner RCU stall once)
# the inner guest RAM's lines of /proc/PID/maps and numa_maps, where each
# vCPU thread last ran and the device's counters, on lines of their own
# (NUMAHINT-STAT ...), so the outer VM needs no Python.
stat_every=0
for arg in $cmdline; do
	case "$arg" in rig.stat=*) stat_every=${arg#*=} ;; esac
done
stat_snapshots() {
	until blocks=$("$R"/rig-hmp "$HMP" info ramblock 2>/dev/null |
		awk '$1 == "pc.ram" || $1 == "rig.ram"') && [ -n "$blocks" ]; do
		[ -d /proc/$qpid ] || return
		sleep 1
	done
	echo "NUMAHINT-STAT begin pid=$qpid device=nh0 every=$stat_every"
	for node in /sys/devices/system/node/node[0-9]*; do
		echo "NUMAHINT-STAT node ${node##*node} $(cat "$node/cpulist")"
	done
	echo "$blocks" | sed 's/^/NUMAHINT-STAT ramblock /'
	# The host address ranges of guest RAM, zero-padded hex: awk compares
	# them as strings.
	ranges=$(echo "$blocks" | while read -r _ _ _ _ used _ hva _; do
		printf '%016x-%016x ' $((hva)) $((hva + used))
	done)
	while [ -d /proc/$qpid ]; do
		echo "NUMAHINT-STAT sample uptime=$(cut -d' ' -f1 /proc/uptime) time=$(date +%s)"
		awk -v ranges="$ranges" '
			function pad(a) { a = sprintf("%16s", a); gsub(/ /, "0", a); return "x" a }
			FNR == NR {
				split($1, vma, "-")
				n = split(ranges, r, /[- ]/)
				for (i = 1; i + 1 <= n; i += 2)
					if (pad(vma[1]) < "x" r[i + 1] && pad(vma[2]) > "x" r[i]) {
						keep[vma[1]] = 1
						print "NUMAHINT-STAT maps " $0
						break
					}
				next
			}
			$1 in keep { print "NUMAHINT-STAT numa_maps " $0 }' \
			"/proc/$qpid/maps" "/proc/$qpid/numa_maps" 2>/dev/null
		for task in /proc/"$qpid"/task/*; do
			case "$(cat "$task/comm" 2>/dev/null)" in
			"CPU "*"/TCG" | "CPU "*"/KVM") ;;
			*) continue ;;
			esac
			v=$(cat "$task/comm" 2>/dev/null)
			v=${v#CPU }
			# The CPU it last ran on: field 39 of stat, the 37th after
			# the command name (which holds a space).
			cpu=$(sed 's/.*) //' "$task/stat" 2>/dev/null | awk '{ print $37 }')
			[ -n "$cpu" ] && echo "NUMAHINT-STAT vcpu ${v%/*} ${task##*/} $cpu"
		done
		stats=$(device_stats)
		[ -n "$stats" ] && echo "NUMAHINT-STAT stats $stats"
		sleep "$stat_every"
	done
}
stat_pid=
if [ "$stat_every" != 0 ]; then
	stat_snapshots &
	stat_pid=$!
fi

cr=$(printf '\r')
start=$(cut -d' ' -f1 /proc/uptime)
while IFS= read -r line; do
	line=${line%"$cr"}
	echo "inner: $line"
	case "$line" in
	"RIG-GPA "*)
		echo "$line" >>"$GPAS"
		# A thread's chunk (B.cpuK) also on its own.
		part=${line#RIG-GPA }
		part=${part%% *}
		case "$part" in
		B.cpu[0-9]*) echo "$line" >>"$T/gpas-$part" ;;
		esac
		;;
	"RIG-REUSE "*) echo "RIG-RESULT ${line#RIG-}" ;;
	"RIG-TOUCH "*) echo "RIG-RESULT ${line#RIG-}" ;;
	"RIG-STRESS "*) echo "RIG-RESULT ${line#RIG-}" ;;
	"RIG-RUN-BEGIN "*)
		: >"$GPAS"
		find_ram
		echo "RIG-RESULT phase=begin ${line#RIG-RUN-BEGIN } $(host_counters)"
		stats=$(device_stats)
		[ -n "$stats" ] && echo "RIG-STATS phase=begin ${line#RIG-RUN-BEGIN } $stats"
		;;
	"RIG-RUN-SAMPLE "*)
		find_ram &&
			echo "RIG-RESULT phase=sample ${line#RIG-RUN-SAMPLE }" \
				"$("$R"/rig-placement "$qpid" "$ram_hva" "$GPAS")"
		# A run has several samples (rig-run): each its own frames.
		: >"$GPAS"
		;;
	"RIG-RUN-RESULT "*) echo "RIG-RESULT ${line#RIG-}" ;;
	"NH-RESULT "*) echo "RIG-RESULT ${line}" ;;
	"RIG-RUN-END "*)
		echo "RIG-RESULT phase=end ${line#RIG-RUN-END } $(host_counters)"
		stats=$(device_stats)
		[ -n "$stats" ] && echo "RIG-STATS phase=end ${line#RIG-RUN-END } $stats"
		;;
	"RIG-MARK runs done"*) break ;;
	"RIG-MARK bench done"* | "RIG-MARK storm done"*) break ;;
	"RIG-MARK P"[0-9]*" touched"*) : >"$GPAS" ;;	# Pn's frames follow
	"RIG-MARK P"[0-9]*" held"*)
		round=${line#RIG-MARK P}
		find_ram && bench_round "${round%% *}"
		;;
	"RIG-MARK phase "*" done"*) ;;
	"RIG-MARK phase "*) storm_phase "${line#RIG-MARK phase }" ;;
	"RIG-LATENCY "*) echo "RIG-RESULT what=latency ${line#RIG-LATENCY }" ;;
	"RIG-MARK stress done"*)
		sample end
		break
		;;
	"RIG-MARK B touched"*)
		sample touched
		# What khugepaged would do to the pages the engine split.
		if [ "$collapse" = 1 ]; then
			huge() { awk '/^AnonHugePages:/ { print $2 }' "/proc/$qpid/smaps_rollup"; }
			before=$(huge) collapse_t0=$(now_s)
			"$R"/rig-collapse "$qpid" "$ram_hva" "$ram_size"
			collapsed_at=$(now_s)
			echo "RIG-OUTER collapse: AnonHugePages $before kB before," \
				"$(huge) kB after, in $(awk "BEGIN { print $collapsed_at - $collapse_t0 }") s"
		fi
		;;
	"RIG-MARK B held"*)
		# The collapse takes seconds of the hold: give the engine its
		# checks and cooldown after the last page collapsed too (B
		# holds its memory on after the mark).
		if [ -n "$collapsed_at" ]; then
			rest=$(awk -v at="$collapsed_at" -v now="$(now_s)" \
				-v settle="$collapse_settle" \
				'BEGIN { r = at + settle - now; print (r > 0 ? r : 0) }')
			echo "RIG-OUTER collapse: held ${rest} s more, $collapse_settle s after the collapse"
			sleep "$rest"
		fi
		sample held
		place_b touched held
		break
		;;
	*"Kernel panic"*) echo "RIG-FAIL inner kernel panic" ;;
	"NUMAHINT-GUEST-DONE"*)
		echo "RIG-FAIL the inner guest finished without the scenario's marks"
		break
		;;
	esac
done <"$FIFO"
end=$(cut -d' ' -f1 /proc/uptime)


echo "RIG-RESULT inner-seconds=$(awk "BEGIN { print $end - $start }")"

# Stop the inner QEMU (the scenario holds its memory until then).
[ -z "$stat_pid" ] || kill "$stat_pid" 2>/dev/null
"$R"/rig-hmp "$HMP" quit >/dev/null 2>&1
for _ in $(seq 50); do
	[ -d /proc/$qpid ] || break
	sleep 0.1
done
kill -9 "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null
if [ -s "$T/inner-stderr" ]; then
	sed 's/^/RIG-OUTER inner-qemu-stderr: /' "$T/inner-stderr"
fi
echo "RIG-END"
