#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the numahint test initramfs (run by busybox ash as PID 1).
#
# Sets up the system, loads the virtio modules and the numahint driver,
# lists the virtio devices, runs the tests and reports.  The host runner
# (tools/numahint/vm/console.py) keys on these console lines:
#
#   numahint-init: started ...
#   numahint-init: ERROR: <what went wrong setting up the guest>
#   numahint: module loaded
#   numahint: FAILED to load module: <reason>
#   # numahint-test: begin|end|FAIL <test> ...
#   NUMAHINT-GUEST-DONE pass=N fail=M skip=K
#   NUMAHINT-GUEST-HOLD ...
#
# Kernel command line options (read from /proc/cmdline):
#   numahint.run=PATH          run this script instead of the tests in /tests
#   numahint.test_timeout=SEC  per-test time limit (default 300)
#   numahint.hold=1            after the report, wait for the host instead of
#                              powering off
#   <module>.<param>=<value>   passed to insmod of <module>, as modprobe does

export PATH=/usr/sbin:/usr/bin:/sbin:/bin

NUMAHINT_KO=/lib/modules/numahint/virtio_numahint.ko
RUN_SCRIPT=/etc/numahint/run
TEST_LIST=/tests/.numahint-tests
DEFAULT_TEST_TIMEOUT=300

pass_total=0
fail_total=0
skip_total=0

error() {
	echo "numahint-init: ERROR: $*"
}

# The value of NAME=VALUE on the kernel command line, if present.
cmdline_value() {
	for arg in $CMDLINE; do
		case "$arg" in
		"$1="*) echo "${arg#*=}" ;;
		esac
	done
}

# The parameters given for module $1 on the kernel command line.
module_params() {
	for arg in $CMDLINE; do
		case "$arg" in
		"$1".*=*) echo "${arg#*.}" ;;
		esac
	done
}

setup_system() {
	mount -t devtmpfs devtmpfs /dev || error "cannot mount devtmpfs on /dev"
	exec </dev/console >/dev/console 2>&1
	mount -t proc proc /proc || error "cannot mount proc"
	read -r CMDLINE </proc/cmdline
	mount -t sysfs sysfs /sys || error "cannot mount sysfs"
	mount -t debugfs debugfs /sys/kernel/debug ||
		error "cannot mount debugfs on /sys/kernel/debug"
	mount -t tmpfs tmpfs /tmp || error "cannot mount tmpfs on /tmp"
	hostname numahint-guest
	ip link set lo up
	read -r uptime _ </proc/uptime
	echo "numahint-init: started (kernel $(uname -r), uptime ${uptime}s)"
}

load_kernel_modules() {
	moddir=/lib/modules/$(uname -r)
	if [ ! -f "$moddir/load-order" ]; then
		built_for=
		for dir in /lib/modules/*/load-order; do
			[ -f "$dir" ] && built_for="$built_for ${dir%/load-order}"
		done
		error "initramfs has no modules for kernel $(uname -r)" \
			"(it has:${built_for:- none})"
		return
	fi
	loaded=
	while read -r module; do
		# shellcheck disable=SC2046 # one word per parameter
		if out=$(insmod "$moddir/$module.ko" $(module_params "$module") 2>&1); then
			loaded="$loaded $module"
		else
			error "cannot load kernel module $module: $out"
		fi
	done <"$moddir/load-order"
	echo "numahint-init: loaded kernel modules:${loaded:- none needed}"
}

load_numahint_module() {
	if [ ! -f "$NUMAHINT_KO" ]; then
		echo "numahint: no module in this initramfs"
		return
	fi
	# shellcheck disable=SC2046 # one word per parameter
	out=$(insmod "$NUMAHINT_KO" $(module_params virtio_numahint) 2>&1)
	status=$?
	if [ $status -eq 0 ]; then
		echo "numahint: module loaded"
	else
		echo "numahint: FAILED to load module: ${out:-insmod exit status $status}"
	fi
}

virtio_device_name() {
	case "$1" in
	0x0001) echo net ;;
	0x0002) echo block ;;
	0x0003) echo console ;;
	0x0004) echo rng ;;
	0x0005) echo balloon ;;
	0x0009) echo 9p ;;
	0x0012) echo input ;;
	0x0013) echo vsock ;;
	0x0018) echo mem ;;
	0x001a) echo fs ;;
	0x003c) echo numahint ;;
	*) echo unknown ;;
	esac
}

list_virtio_devices() {
	echo "numahint-init: virtio devices:"
	found=
	for dev in /sys/bus/virtio/devices/*; do
		[ -e "$dev" ] || continue
		found=1
		id=$(cat "$dev/device")
		driver=none
		[ -L "$dev/driver" ] && driver=$(basename "$(readlink "$dev/driver")")
		echo "  ${dev##*/}: device=$id ($(virtio_device_name "$id")) vendor=$(cat "$dev/vendor") driver=$driver"
	done
	[ -n "$found" ] || echo "  (none)"
}

# Run one test program, show its output and add its TAP results to the totals.
#
# The test runs in a session of its own, so that its time limit, or its end,
# stops everything it started (a leftover child would hold the output pipe
# open and hang the run).
#
# Each "ok" line counts as a pass, "ok ... # SKIP" as a skip, "not ok" as a
# failure.  A program that prints no results counts as one test, by its exit
# status (kselftest convention: 0 pass, 4 skip).  A program killed at its
# time limit counts one more failure; one that exits with an error status
# without reporting a failure counts one.
run_test() {
	test=$1
	timeout=$2
	echo "# numahint-test: begin $test (timeout ${timeout}s)"
	rm -f /tmp/numahint-test.status /tmp/numahint-test.timed-out
	{
		cd "$(dirname "$test")" || exit
		setsid "$test" </dev/null &
		pid=$!
		# shellcheck disable=SC2016 # expanded by the watchdog's shell
		setsid sh -c 'sleep "$1" && : >/tmp/numahint-test.timed-out &&
			kill -KILL -- "-$2"' watchdog "$timeout" "$pid" \
			</dev/null >/dev/null 2>&1 &
		watchdog=$!
		wait "$pid"
		echo $? >/tmp/numahint-test.status
		kill -KILL -- "-$pid" "-$watchdog" 2>/dev/null
	} 2>&1 | tee /tmp/numahint-test.out
	status=$(cat /tmp/numahint-test.status 2>/dev/null)
	status=${status:-255}

	ok=$(grep -cE '^ok( |$)' /tmp/numahint-test.out)
	skip=$(grep -ciE '^ok( .*)?#[[:space:]]*skip' /tmp/numahint-test.out)
	fail=$(grep -cE '^not ok( |$)' /tmp/numahint-test.out)
	pass=$((ok - skip))

	if [ $((ok + fail)) -eq 0 ]; then
		case $status in
		0) pass=1 ;;
		4) skip=1 ;;
		esac
	fi
	if [ -e /tmp/numahint-test.timed-out ]; then
		echo "# numahint-test: FAIL $test: killed at its time limit of ${timeout}s"
		fail=$((fail + 1))
	elif [ "$status" -ne 0 ] && [ "$status" -ne 4 ] && [ "$fail" -eq 0 ]; then
		echo "# numahint-test: FAIL $test: exit status $status"
		fail=1
	fi
	echo "# numahint-test: end $test exit=$status pass=$pass fail=$fail skip=$skip"
	pass_total=$((pass_total + pass))
	fail_total=$((fail_total + fail))
	skip_total=$((skip_total + skip))
}

run_tests() {
	timeout=$(cmdline_value numahint.test_timeout)
	timeout=${timeout:-$DEFAULT_TEST_TIMEOUT}
	script=$(cmdline_value numahint.run)
	if [ -z "$script" ] && [ -f "$RUN_SCRIPT" ]; then
		script=$RUN_SCRIPT
	fi

	if [ -n "$script" ]; then
		if [ -x "$script" ]; then
			run_test "$script" "$timeout"
		else
			error "run script $script is missing or not executable"
		fi
	elif [ -f "$TEST_LIST" ]; then
		while read -r test; do
			run_test "/tests/$test" "$timeout"
		done <"$TEST_LIST"
	else
		for test in /tests/*; do
			[ -f "$test" ] && [ -x "$test" ] && run_test "$test" "$timeout"
		done
	fi
}

setup_system
load_kernel_modules
load_numahint_module
list_virtio_devices
run_tests

echo "NUMAHINT-GUEST-DONE pass=$pass_total fail=$fail_total skip=$skip_total"
if [ "$(cmdline_value numahint.hold)" = 1 ]; then
	echo "NUMAHINT-GUEST-HOLD: waiting for the host to stop the VM"
	while :; do
		sleep 3600
	done
fi
poweroff -f
error "poweroff failed"
