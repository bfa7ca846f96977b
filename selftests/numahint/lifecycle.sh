#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of the lifecycle tests (selftests/host/test_lifecycle.py):
# the host removes and adds the device, suspends and wakes the guest, or
# saves the whole VM and restores it in a new QEMU, while this script
# watches the driver from inside, under load, and says on the console
# when the host may go on.
#
#   lifecycle.sh hotplug CYCLES   the host unplugs the device on each
#                                 "numahint-lifecycle: unplug N" line and
#                                 plugs it back on "plug N"
#   lifecycle.sh suspend STATE    writes STATE (mem, freeze) to
#                                 /sys/power/state after "suspend"; the
#                                 host wakes the guest
#   lifecycle.sh restore MS       after "save", waits until the host sets
#                                 touch_flush_ms to MS (on the restored VM)
#   lifecycle.sh hibernate DISK   hibernates (S4) to swap on /dev/DISK after
#                                 "hibernate"; the host starts a new QEMU
#                                 whose device has other limits, and the
#                                 guest resumes there and checks that the
#                                 driver took them (DISK blank at first)
#   lifecycle.sh reset SECONDS    after "fail", the host makes the device
#                                 fail (x-fail-next-request): the driver
#                                 must reset it and work on, and unload;
#                                 hung_task_timeout_secs is SECONDS, so
#                                 that a stuck task shows within the test
#
# Before and after each step the driver must work: bound with the same
# features, free page reports and first-touch events counted, the
# locality probe answered where it was negotiated.  numahint_churn runs
# on every CPU throughout and must find all its data.  No oops, BUG or
# WARNING in the kernel log.  For hotplug, the kernel's own memory
# (unreclaimable slab, per-CPU, vmalloc) after the cycles must be within
# NUMAHINT_LEAK_KIB (default 2048) of before, one warm-up cycle first.
# TAP 13 on stdout; exit 0 on success, 1 on failure (kselftest).

TESTS=$(dirname "$0")
CHURN=$TESTS/numahint_churn
DRIVER_DIR=/sys/bus/virtio/drivers/virtio_numahint
DEVICES_DIR=/sys/bus/virtio/devices
PROBE_DIR=/sys/kernel/debug/virtio_numahint
MARKER="numahint-selftest: lifecycle start $$"
PREFIX="numahint-lifecycle:"
# Longest wait for the driver to bind, unbind, or count something, and
# for the host to act.
WAIT_S=120

# shellcheck source=ktap_helpers.sh
. "$(dirname "$0")/ktap_helpers.sh"
churn=
load_fail=0

usage() {
	echo "usage: $0 hotplug CYCLES | suspend STATE | restore MS | hibernate DISK | reset SECONDS" >&2
	exit 1
}

# A line for the host, which waits for it before acting.
tell_host() {
	echo "$PREFIX $*"
}

uptime_s() {
	read -r up _ </proc/uptime
	echo "$up"
}

# The first bound device, in $dev and its numahint directory in $sysfs;
# returns 1 if none is bound with its files yet.
find_device() {
	dev=
	for path in "$DRIVER_DIR"/virtio*; do
		[ -r "$path/numahint/report_active" ] || continue
		dev=${path##*/}
		sysfs=$DEVICES_DIR/$dev/numahint
		return 0
	done
	return 1
}

# counter NAME: the value of the bound device's file NAME, in $value.
counter() {
	value=
	read -r value 2>/dev/null <"$sysfs/$1"
	value=${value:-0}
}

# wait_for CONDITION WHAT [TELL]: run the function CONDITION every 0.1 s
# until it succeeds, for up to WAIT_S; say TELL to the host first and
# again every 2 s, as a kernel message may cut the line the host waits
# for.  Returns 1, saying WHAT did not happen, if time ran out.  No
# command substitution: every fork counts under TCG.
wait_for() {
	[ -n "$3" ] && tell_host "$3"
	read -r now _ </proc/uptime
	since=${now%.*}
	told=$since
	until $1; do
		read -r now _ </proc/uptime
		now=${now%.*}
		if [ $((now - since)) -ge "$WAIT_S" ]; then
			msg "$2 after ${WAIT_S}s"
			return 1
		fi
		if [ -n "$3" ] && [ $((now - told)) -ge 2 ]; then
			tell_host "$3"
			told=$now
		fi
		sleep 0.1
	done
}

# Device $dev is gone: unbound, its numahint directory and its virtio
# device removed.
# shellcheck disable=SC2317 # called through wait_for
device_gone() {
	[ ! -e "$DRIVER_DIR/$dev" ] && [ ! -e "$DEVICES_DIR/$dev" ] &&
		[ ! -e "$sysfs" ]
}

# Counter $grow_name above $grow_base.
# shellcheck disable=SC2317 # called through wait_for
counter_above() {
	counter "$grow_name"
	[ "$value" -gt "$grow_base" ]
}

# grows NAME BASE: wait for counter NAME to exceed BASE.
grows() {
	grow_name=$1
	grow_base=$2
	wait_for counter_above "$dev: $1 not above $2" || {
		msg "$dev: $1 is $value"
		return 1
	}
}

# The locality probe answers, where it was negotiated.
probe_works() {
	probe=$PROBE_DIR/$dev/probe
	[ -e "$probe" ] || return 0
	counter probe_requests
	before=$value
	if ! echo "cpu 0" >"$probe" || ! grep -q "^cpu 0 node" "$probe"; then
		msg "$dev: the locality probe does not answer"
		return 1
	fi
	counter probe_requests
	[ "$value" -gt "$before" ]
}

# Save the counters that prove the driver works, as base_NAME.
save_counters() {
	for name in touch_events touch_requests report_requests; do
		counter $name
		eval "base_$name=\$value"
	done
}

# The driver works: reports and first-touch events counted beyond the
# saved counters, page reporting and the hook on, the same features.
# Returns the number of things that failed.
driver_works() {
	bad=0
	now=
	read -r now 2>/dev/null <"$DEVICES_DIR/$dev/features"
	if [ "$now" != "$features" ]; then
		msg "$dev: features '$now', '$features' before"
		bad=$((bad + 1))
	fi
	# The driver link and the files come before probe ends.
	wait_for hooks_on "$dev: page reporting or the hook still off" ||
		bad=$((bad + 1))
	# shellcheck disable=SC2154 # set through eval in save_counters
	grows touch_events "$base_touch_events" || bad=$((bad + 1))
	grows touch_requests "$base_touch_requests" || bad=$((bad + 1))
	# Free memory is reported once, by whichever device had page
	# reporting then, and the load's base pages recycle holes too small
	# to report.  Free whole blocks that were in use.
	"$CHURN" -H -m 64 -k 1 -n 0 -c 1 >/dev/null ||
		msg "$CHURN -H -m 64 -k 1 -n 0 -c 1 failed"
	grows report_requests "$base_report_requests" || bad=$((bad + 1))
	probe_works || bad=$((bad + 1))
	return $bad
}

# Page reporting registered and the mm_page_alloc hook on.
# shellcheck disable=SC2317 # called through wait_for
hooks_on() {
	counter report_active
	[ "$value" = 1 ] || return 1
	counter touch_active
	[ "$value" = 1 ]
}

show_counters() {
	line=
	for name in touch_events touch_requests report_requests report_bytes \
		report_errors req_abandoned resp_malformed; do
		counter $name
		line="$line $name=$value"
	done
	msg "$dev:$line"
}

start_load() {
	"$CHURN" >>/tmp/numahint-lifecycle.churn 2>&1 &
	churn=$!
}

# Stop the load; counts in load_fail unless it ran until now and found
# its data.
stop_load() {
	[ -n "$churn" ] || return
	kill -TERM "$churn"
	wait "$churn" || load_fail=$((load_fail + 1))
	churn=
}

# The kernel's own memory, in KiB, in $kib (and its parts in $kib_parts).
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

# The kernel log since our marker has no oops, BUG or WARNING.
log_clean() {
	dmesg | sed -n "/$MARKER/,\$p" >/tmp/numahint-lifecycle.log
	if ! grep -q "$MARKER" /tmp/numahint-lifecycle.log; then
		msg "marker not found in the kernel log (ring buffer wrapped?)"
		return 1
	fi
	if grep -E 'Oops|BUG:|WARNING:|Call Trace|general protection|KASAN|UBSAN' \
		/tmp/numahint-lifecycle.log >/tmp/numahint-lifecycle.bad; then
		while read -r line; do
			msg "kernel: $line"
		done </tmp/numahint-lifecycle.bad
		return 1
	fi
	return 0
}

# The checks every mode ends with: the load and the kernel log.
finish() {
	stop_load
	while read -r line; do
		msg "${line#\# }"
	done </tmp/numahint-lifecycle.churn
	verdict "the load ran on every CPU throughout and lost no data" \
		$load_fail
	log_clean
	verdict "no oops, BUG or WARNING in the kernel log" $?
	[ $failed -eq 0 ]
	exit $?
}

# The device bound at boot, and its features.
first_device() {
	if ! wait_for find_device "no device bound to virtio_numahint"; then
		echo "Bail out! no device bound to virtio_numahint"
		exit 1
	fi
	read -r features <"$DEVICES_DIR/$dev/features"
	msg "$dev bound, features: $features"
}

hotplug() {
	cycles=$1
	echo "1..7"
	first_device
	start_load
	save_counters
	driver_works
	verdict "the driver works before the first unplug" $?
	show_counters

	unbind_fail=0
	bind_fail=0
	works_fail=0
	cycle=1
	start=$(uptime_s)
	while [ "$cycle" -le "$cycles" ]; do
		old=$dev
		if ! wait_for device_gone "cycle $cycle: $dev still there" \
			"unplug $cycle"; then
			unbind_fail=$((unbind_fail + 1))
			break
		fi
		if ! wait_for find_device "cycle $cycle: no device bound" \
			"plug $cycle"; then
			bind_fail=$((bind_fail + 1))
			break
		fi
		msg "cycle $cycle: $old removed, $dev bound"
		# A new device: its counters start at 0.
		base_touch_events=0
		base_touch_requests=0
		base_report_requests=0
		driver_works || works_fail=$((works_fail + 1))
		# The first cycle fills caches: count what leaks from here on.
		if [ "$cycle" -eq 1 ] && [ "$cycles" -gt 1 ]; then
			stop_load
			kernel_memory
			kib_before=$kib
			msg "kernel memory after the first cycle: $kib kB ($kib_parts)"
			start_load
		fi
		cycle=$((cycle + 1))
	done
	msg "$((cycle - 1)) cycle(s) in $(awk "BEGIN { print $(uptime_s) - $start }") s"
	show_counters

	verdict "the driver unbinds and its sysfs files go on every unplug" \
		$unbind_fail
	verdict "the driver binds a new device on every plug" $bind_fail
	verdict "features renegotiated, reports and first-touch events counted after every plug" \
		$works_fail

	stop_load
	if [ "$cycles" -gt 1 ]; then
		kernel_memory
		msg "kernel memory after the last cycle: $kib kB ($kib_parts)"
		growth=$((kib - kib_before))
		limit=${NUMAHINT_LEAK_KIB:-2048}
		msg "kernel memory grew by $growth kB over $((cycles - 1)) cycles (bound $limit kB)"
		[ "$growth" -le "$limit" ]
		verdict "kernel memory within $limit KiB of before over the cycles" $?
	else
		ok "kernel memory within bound # SKIP one cycle"
	fi
	finish
}

do_suspend() {
	state=$1
	echo "1..5"
	first_device
	start_load
	save_counters
	driver_works
	verdict "the driver works before $state" $?

	if ! grep -qw "$state" /sys/power/state; then
		msg "/sys/power/state offers: $(cat /sys/power/state)"
		not_ok "$state sleep is offered"
		finish
	fi
	read -r success_before </sys/power/suspend_stats/success
	read -r fail_before </sys/power/suspend_stats/fail
	tell_host "suspend"
	before=$(uptime_s)
	# The write returns once the guest has resumed, and fails if the
	# guest could not sleep.
	status=0
	printf '%s\n' "$state" >/sys/power/state || status=1
	after=$(uptime_s)
	tell_host "resumed"
	read -r success_after </sys/power/suspend_stats/success
	read -r fail_after </sys/power/suspend_stats/fail
	msg "echo $state >/sys/power/state: status $status, uptime $before s before, $after s after; suspend_stats success $success_before -> $success_after, fail $fail_before -> $fail_after"
	[ "$status" -eq 0 ] && [ "$success_after" -eq $((success_before + 1)) ] &&
		[ "$fail_after" -eq "$fail_before" ]
	verdict "the guest suspends ($state) and resumes" $?

	find_device
	save_counters
	driver_works
	verdict "the driver works after resume: same features, reports and first-touch events counted" $?
	show_counters
	finish
}

# touch_flush_ms is $want_ms.
# shellcheck disable=SC2317 # called through wait_for
flush_ms_set() {
	counter touch_flush_ms
	[ "$value" = "$want_ms" ]
}

do_restore() {
	want_ms=$1
	echo "1..5"
	first_device
	start_load
	save_counters
	driver_works
	verdict "the driver works before the save" $?
	show_counters
	counter config_changes
	changes=$value

	wait_for flush_ms_set "touch_flush_ms not set to $want_ms" "save"
	counter touch_flush_ms
	flush=$value
	counter config_changes
	tell_host "restored"
	msg "touch_flush_ms $flush, config_changes $changes -> $value"
	[ "$flush" = "$want_ms" ] && [ "$value" -gt "$changes" ]
	verdict "the restored VM's configuration change reaches the driver" $?

	save_counters
	driver_works
	verdict "the driver works after the restore: same features, reports and first-touch events counted" $?
	show_counters
	finish
}

do_hibernate() {
	disk=$1
	# Resume from DISK if it holds an image: the restored kernel goes on
	# from "echo disk" below and this boot never comes back.  A blank
	# DISK holds none, and the write fails.
	if ! read -r devno </sys/block/"$disk"/dev; then
		echo "Bail out! no /dev/$disk"
		exit 1
	fi
	echo "$devno" >/sys/power/resume 2>/dev/null
	echo "1..7"
	first_device
	start_load
	save_counters
	driver_works
	verdict "the driver works before hibernation" $?
	for name in max_report_ranges max_touch_events max_probe_entries; do
		counter $name
		eval "before_$name=\$value"
	done
	mkswap "/dev/$disk" >/dev/null && swapon "/dev/$disk" &&
		echo shutdown >/sys/power/disk
	verdict "swap on /dev/$disk for hibernation" $?
	tell_host "hibernate"
	status=0
	echo disk >/sys/power/state || status=1
	tell_host "resumed"
	verdict "the guest hibernates and resumes" $status

	find_device
	changed=
	for name in max_report_ranges max_touch_events max_probe_entries; do
		counter $name
		eval "old=\$before_$name"
		[ "$value" != "$old" ] && changed="$changed $name $old -> $value"
	done
	msg "limits changed:${changed:- none}"
	[ -n "$changed" ]
	verdict "the driver read the resumed device's limits" $?
	save_counters
	driver_works
	verdict "the driver works after resume, within the new limits" $?
	show_counters
	finish
}

# The driver reset the device once.
# shellcheck disable=SC2317 # called through wait_for
device_was_reset() {
	counter device_resets
	[ "$value" -ge 1 ]
}

# rmmod, started in the background as $rmmod_pid, has returned.
# shellcheck disable=SC2317 # called through wait_for
rmmod_done() {
	! kill -0 "$rmmod_pid" 2>/dev/null
}

do_reset() {
	hung_s=$1
	echo "1..7"
	echo "$hung_s" >/proc/sys/kernel/hung_task_timeout_secs ||
		msg "cannot set hung_task_timeout_secs"
	first_device
	start_load
	save_counters
	driver_works
	verdict "the driver works before the device fails" $?
	show_counters

	# The host fails the device on its next request, which the load
	# makes within touch_flush_ms.
	wait_for device_was_reset "the driver did not reset the device" "fail"
	verdict "the driver resets the device that failed" $?
	messages=$(dmesg | sed -n "/$MARKER/,\$p" |
		grep -c "virtio_numahint.*DEVICE_NEEDS_RESET")
	msg "kernel log: $messages message(s) about the reset"
	[ "$messages" -eq 1 ]
	verdict "one kernel message says the device failed and was reset" $?

	save_counters
	driver_works
	verdict "the driver works after the reset: reports and first-touch events counted" $?
	show_counters

	# A task stuck since the failure has been blocked for longer than
	# hung_task_timeout_secs by now, and the kernel said so.
	sleep $((hung_s * 2))
	# Not on our stdout: a stuck rmmod would hold the test's output open.
	rmmod virtio_numahint >/tmp/numahint-lifecycle.rmmod 2>&1 &
	rmmod_pid=$!
	if wait_for rmmod_done "rmmod virtio_numahint still running"; then
		wait "$rmmod_pid"
		status=$?
		while read -r line; do
			msg "rmmod: $line"
		done </tmp/numahint-lifecycle.rmmod
		verdict "rmmod virtio_numahint returns and succeeds" $status
	else
		not_ok "rmmod virtio_numahint returns and succeeds"
	fi
	finish
}

[ $# -eq 2 ] || usage
case "$2" in
'' | *[!0-9a-z]*) usage ;;
esac

echo "TAP version 13"
echo "$MARKER" >/dev/kmsg
: >/tmp/numahint-lifecycle.churn
case $1 in
hotplug) hotplug "$2" ;;
suspend) do_suspend "$2" ;;
restore) do_restore "$2" ;;
reset) do_reset "$2" ;;
hibernate) do_hibernate "$2" ;;
*) usage ;;
esac
