#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload and reload virtio_numahint in the guest: every remove must undo
# all of probe, every load must bind the same devices again.
#
#   module_reload.sh [-n CYCLES] [-w] [-b KIB]
#
# -n: unload and reload CYCLES times (default 1);
# -w: under load: numahint_churn maps, writes and unmaps memory on every
#     CPU throughout, so that the driver's mm_page_alloc probe fires all
#     the time while it is unregistered, and the freed blocks keep page
#     reporting busy;
# -b: with more than one cycle, the most the kernel's own memory (slab it
#     cannot reclaim, per-CPU and vmalloc memory, from /proc/meminfo) may
#     grow over the cycles, in KiB (default 2048).  It is measured once the
#     load has stopped, before and after the cycles; with more than one
#     cycle, one warm-up cycle comes first (first use fills caches).
#
# After each rmmod the module must be gone from /sys/module, with its
# driver, sysfs and debugfs directories, and the kernel must keep
# allocating (an Oops from a probe left behind panics the guest); after
# each insmod every device must be bound again with the same features,
# the one that had free page reporting must have it again (so the last
# remove unregistered it), and the mm_page_alloc hook must record again.
# No oops, BUG or WARNING in the kernel log.  TAP 13 on stdout; exit 0 on
# success, 1 on failure, 4 if nothing could be tested (kselftest).

MODULE=virtio_numahint
KO=${NUMAHINT_KO:-/lib/modules/numahint/virtio_numahint.ko}
CHURN=${NUMAHINT_CHURN:-$(dirname "$0")/numahint_churn}
DRIVER_DIR=/sys/bus/virtio/drivers/$MODULE
DEVICES_DIR=/sys/bus/virtio/devices
DEBUGFS_DIR=/sys/kernel/debug/$MODULE
MARKER="numahint-selftest: module_reload start $$"

cycles=1
load=
bound_kib=2048

usage() {
	echo "usage: $0 [-n CYCLES] [-w] [-b KIB]" >&2
	exit 1
}

while getopts n:wb: opt; do
	case $opt in
	n) cycles=$OPTARG ;;
	w) load=1 ;;
	b) bound_kib=$OPTARG ;;
	*) usage ;;
	esac
done
case "$cycles$bound_kib" in
*[!0-9]*) usage ;;
esac
[ "$cycles" -ge 1 ] || usage

# shellcheck source=ktap_helpers.sh
. "$(dirname "$0")/ktap_helpers.sh"

# attr DEV NAME: the value of DEV's numahint sysfs file NAME, in $value.
attr() {
	value=
	read -r value 2>/dev/null <"$DEVICES_DIR/$1/numahint/$2"
}

# features DEV: DEV's negotiated feature bits, from the virtio core's
# features file, in $value.
features() {
	value=
	read -r value 2>/dev/null <"$DEVICES_DIR/$1/features"
}

bound_devices() {
	for dev in "$DRIVER_DIR"/virtio*; do
		[ -e "$dev" ] && echo "${dev##*/}"
	done
}

# Wait up to 5 s for every device in $devices to be bound, with its files
# and the features it had before.  Returns 1 and says why if not.
devices_bound() {
	tries=50
	while :; do
		missing=
		for dev in $devices; do
			[ -e "$DRIVER_DIR/$dev" ] &&
				[ -r "$DEVICES_DIR/$dev/numahint/report_active" ] ||
				missing="$missing $dev"
		done
		[ -z "$missing" ] && break
		tries=$((tries - 1))
		if [ "$tries" -eq 0 ]; then
			msg "cycle $cycle: not bound again:$missing"
			return 1
		fi
		sleep 0.1
	done
	for dev in $devices; do
		features "$dev"
		want=
		eval "want=\$features_$dev"
		if [ "$value" != "$want" ]; then
			msg "cycle $cycle: $dev features '$value', '$want' before"
			return 1
		fi
	done
	return 0
}

# Everything the module made is gone: the module itself, the driver, each
# device's numahint directory.
module_gone() {
	if [ -e /sys/module/$MODULE ] || [ -e "$DRIVER_DIR" ]; then
		msg "cycle $cycle: /sys/module/$MODULE or $DRIVER_DIR still there"
		return 1
	fi
	for dev in $devices; do
		if [ -e "$DEVICES_DIR/$dev/numahint" ]; then
			msg "cycle $cycle: $DEVICES_DIR/$dev/numahint still there"
			return 1
		fi
	done
	return 0
}

# The device that had free page reporting registers it again.
report_back() {
	attr "$report_dev" report_active
	[ "$value" = 1 ] && return 0
	msg "cycle $cycle: $report_dev report_active '$value' after insmod"
	return 1
}

# The mm_page_alloc hook of the module loaded now is on and has recorded,
# or does within 5 s.  Checked just before the module goes again, when
# the load has had the whole cycle to allocate.
touch_back() {
	tries=50
	while :; do
		attr "$touch_dev" touch_active
		active=$value
		attr "$touch_dev" touch_events
		[ "$active" = 1 ] && [ "${value:-0}" -gt 0 ] && return 0
		tries=$((tries - 1))
		[ "$tries" -eq 0 ] && break
		sleep 0.1
	done
	msg "cycle $cycle: $touch_dev touch_active '$active'," \
		"touch_events '$value' 5 s after the check began"
	return 1
}

# The last load reports the memory the load freed as it stopped (a cycle
# shorter than page reporting's 2 s delay reports nothing, so the loop
# itself may have sent no report): wait up to 30 s for a report.
reports_resume() {
	tries=300
	while [ "$tries" -gt 0 ]; do
		attr "$report_dev" report_requests
		[ "${value:-0}" -gt "$reports_before" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	msg "$report_dev: report_requests stayed at $reports_before for 30 s"
	return 1
}

# The kernel's own memory, in KiB, in $kib (and its parts in $kib_parts):
# unreclaimable slab, per-CPU and vmalloc, once freed objects have gone
# back (RCU) and caches have been dropped.
kernel_memory() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
	kib=0
	kib_parts=
	while read -r key val _; do
		case $key in
		SUnreclaim: | Percpu: | VmallocUsed:)
			kib=$((kib + val))
			kib_parts="$kib_parts ${key%:} $val kB,"
			;;
		esac
	done </proc/meminfo
	kib_parts=${kib_parts%,}
}

start_load() {
	[ -n "$load" ] || return 0
	"$CHURN" >/tmp/numahint-reload.churn 2>&1 &
	churn=$!
}

# Stop the load; returns 1 unless it ran until now and found its data.
stop_load() {
	[ -n "$load" ] || return 0
	kill -TERM "$churn"
	wait "$churn"
	status=$?
	while read -r line; do
		msg "${line#\# }"
	done </tmp/numahint-reload.churn
	return $status
}

# One rmmod and insmod; adds to the failure counts.  Every fork counts
# under TCG: no command substitution here.
reload_once() {
	if [ -n "$touch_dev" ]; then
		touch_back || touch_fail=$((touch_fail + 1))
	fi
	if rmmod $MODULE 2>/tmp/numahint-reload.err; then
		module_gone || gone_fail=$((gone_fail + 1))
		if [ -n "$debugfs" ] && [ -e "$DEBUGFS_DIR" ]; then
			msg "cycle $cycle: $DEBUGFS_DIR still there"
			debugfs_fail=$((debugfs_fail + 1))
		fi
	else
		msg "cycle $cycle: rmmod: $(cat /tmp/numahint-reload.err)"
		rmmod_fail=$((rmmod_fail + 1))
		return
	fi
	# shellcheck disable=SC2086 # one word per parameter
	if ! insmod "$KO" $params 2>/tmp/numahint-reload.err; then
		msg "cycle $cycle: insmod: $(cat /tmp/numahint-reload.err)"
		insmod_fail=$((insmod_fail + 1))
		return
	fi
	devices_bound || bind_fail=$((bind_fail + 1))
	if [ -n "$report_dev" ]; then
		report_back || report_fail=$((report_fail + 1))
	fi
}

# The kernel log since our marker has no oops, BUG or WARNING.
log_clean() {
	dmesg | sed -n "/$MARKER/,\$p" >/tmp/numahint-reload.log
	if ! grep -q "$MARKER" /tmp/numahint-reload.log; then
		msg "marker not found in the kernel log (ring buffer wrapped?)"
		return 1
	fi
	if grep -E 'Oops|BUG:|WARNING:|Call Trace|general protection|KASAN|UBSAN' \
		/tmp/numahint-reload.log >/tmp/numahint-reload.bad; then
		while read -r line; do
			msg "kernel: $line"
		done </tmp/numahint-reload.bad
		return 1
	fi
	return 0
}

echo "TAP version 13"

if [ ! -d /sys/module/$MODULE ]; then
	echo "1..0 # SKIP $MODULE is not loaded"
	exit 4
fi
if [ ! -f "$KO" ]; then
	# Without the module file we could not load it back: do not unload.
	echo "1..0 # SKIP $KO is absent, cannot reload"
	exit 4
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP must run as root"
	exit 4
fi
if [ -n "$load" ] && [ ! -x "$CHURN" ]; then
	echo "1..0 # SKIP $CHURN is absent, cannot load the guest"
	exit 4
fi

echo "1..11"

# Load it again as it was loaded: the parameters it has now.
params=
for param in "/sys/module/$MODULE/parameters"/*; do
	[ -r "$param" ] || continue
	read -r val <"$param"
	params="$params ${param##*/}=$val"
done

debugfs=
grep -q " /sys/kernel/debug debugfs " /proc/mounts && debugfs=1

devices=$(bound_devices)
report_dev=
touch_dev=
for dev in $devices; do
	features "$dev"
	eval "features_$dev=\$value"
	msg "bound before unload: $dev, features: $value"
	attr "$dev" report_active
	[ "$value" = 1 ] && report_dev=$dev
	attr "$dev" touch_active
	[ "$value" = 1 ] && [ -z "$touch_dev" ] && touch_dev=$dev
done
[ -n "$devices" ] || msg "bound before unload: none"
msg "$cycles cycle(s)${load:+ under load}; parameters:${params:- none}"
echo "$MARKER" >/dev/kmsg

rmmod_fail=0
gone_fail=0
debugfs_fail=0
insmod_fail=0
bind_fail=0
report_fail=0
touch_fail=0
load_fail=0

if [ "$cycles" -gt 1 ]; then
	cycle=0
	start_load
	reload_once
	stop_load || load_fail=$((load_fail + 1))
	kernel_memory
	kib_before=$kib
	msg "kernel memory before: $kib kB ($kib_parts)"
fi

start=$(cut -d' ' -f1 /proc/uptime)
start_load
cycle=1
while [ "$cycle" -le "$cycles" ]; do
	reload_once
	cycle=$((cycle + 1))
done
# The hook of the last load.
if [ -n "$touch_dev" ]; then
	touch_back || touch_fail=$((touch_fail + 1))
fi
end=$(cut -d' ' -f1 /proc/uptime)
if [ -n "$report_dev" ]; then
	attr "$report_dev" report_requests
	reports_before=${value:-0}
fi
stop_load || load_fail=$((load_fail + 1))
msg "$cycles cycle(s) in $(awk "BEGIN { print $end - $start }") s"

verdict "rmmod $MODULE succeeds with the devices bound, $cycles time(s)" \
	$rmmod_fail
verdict "module and driver directories disappear on every unload" \
	$gone_fail
if [ -n "$debugfs" ]; then
	verdict "debugfs directory disappears on every unload" $debugfs_fail
else
	skip "debugfs directory disappears on every unload" \
		"debugfs not mounted"
fi
verdict "insmod $KO succeeds every time" $insmod_fail
if [ -n "$devices" ]; then
	verdict "every device bound before binds again with its sysfs files and features" \
		$bind_fail
else
	skip "every device bound before binds again with its sysfs files and features" \
		"no device was bound"
fi
if [ -n "$report_dev" ]; then
	verdict "free page reporting is registered again on every load" \
		$report_fail
else
	skip "free page reporting is registered again on every load" \
		"no device had free page reporting"
fi
if [ -n "$report_dev" ] && [ -n "$load" ]; then
	reports_resume
	verdict "the last load reports the memory freed after the reloads" $?
else
	skip "the last load reports the memory freed after the reloads" \
		"no device had free page reporting, or no load (-w)"
fi
if [ -n "$touch_dev" ]; then
	verdict "the mm_page_alloc hook records again on every load" \
		$touch_fail
else
	skip "the mm_page_alloc hook records again on every load" \
		"no device had the hook on"
fi
if [ -n "$load" ]; then
	verdict "the load ran on every CPU throughout and lost no data" \
		$load_fail
else
	skip "the load ran on every CPU throughout and lost no data" \
		"no load (-w)"
fi
if [ "$cycles" -gt 1 ]; then
	kernel_memory
	msg "kernel memory after: $kib kB ($kib_parts)"
	growth=$((kib - kib_before))
	msg "kernel memory grew by $growth kB over $cycles cycles" \
		"(bound $bound_kib kB)"
	[ "$growth" -le "$bound_kib" ]
	verdict "kernel memory after $cycles cycles within $bound_kib KiB of before" \
		$?
else
	skip "kernel memory after the cycles within $bound_kib KiB of before" \
		"one cycle"
fi

log_clean
verdict "no oops, BUG or WARNING in the kernel log across unload and reload" \
	$?

if [ $failed -ne 0 ]; then
	exit 1
fi
exit 0
