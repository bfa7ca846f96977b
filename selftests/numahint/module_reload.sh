#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload and reload virtio_numahint in the guest: remove must undo all of
# probe (driver, sysfs and debugfs entries gone, no kernel warning), and a
# fresh load must bind the same devices again.  TAP 13 on stdout; exit 0
# on success, 1 on failure, 4 if nothing could be tested (kselftest).

MODULE=virtio_numahint
KO=${NUMAHINT_KO:-/lib/modules/numahint/virtio_numahint.ko}
DRIVER_DIR=/sys/bus/virtio/drivers/$MODULE
DEVICES_DIR=/sys/bus/virtio/devices
DEBUGFS_DIR=/sys/kernel/debug/$MODULE
MARKER="numahint-selftest: module_reload start $$"

test_nr=0
failed=0

ok() {
	test_nr=$((test_nr + 1))
	echo "ok $test_nr - $1"
}

not_ok() {
	test_nr=$((test_nr + 1))
	failed=$((failed + 1))
	echo "not ok $test_nr - $1"
}

skip() {
	test_nr=$((test_nr + 1))
	echo "ok $test_nr - $1 # SKIP $2"
}

# result NAME COMMAND...: one test whose verdict is COMMAND's exit status.
result() {
	name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name"
	fi
}

msg() {
	echo "# $*"
}

bound_devices() {
	for dev in "$DRIVER_DIR"/virtio*; do
		[ -e "$dev" ] && echo "${dev##*/}"
	done
}

# Wait up to 5 s for every device in $devices to be bound, with its files.
# shellcheck disable=SC2317 # called through result()
devices_bound() {
	tries=50
	while [ "$tries" -gt 0 ]; do
		missing=
		for dev in $devices; do
			[ -e "$DRIVER_DIR/$dev" ] &&
				[ -r "$DEVICES_DIR/$dev/numahint/features" ] ||
				missing="$missing $dev"
		done
		[ -z "$missing" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	msg "not bound again:$missing"
	return 1
}

# The kernel log since our marker has no oops, BUG or WARNING.
# shellcheck disable=SC2317 # called through result()
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

echo "1..6"

devices=$(bound_devices)
msg "bound before unload: ${devices:-none}"
echo "$MARKER" >/dev/kmsg

if out=$(rmmod $MODULE 2>&1); then
	ok "rmmod $MODULE succeeds with the devices bound"
	unloaded=1
else
	msg "rmmod: $out"
	not_ok "rmmod $MODULE succeeds with the devices bound"
	unloaded=
fi

if [ -z "$unloaded" ]; then
	skip "driver directory disappears on unload" "rmmod failed"
	skip "debugfs directory disappears on unload" "rmmod failed"
else
	result "driver directory disappears on unload" test ! -e "$DRIVER_DIR"
	if grep -q " /sys/kernel/debug debugfs " /proc/mounts; then
		result "debugfs directory disappears on unload" \
			test ! -e "$DEBUGFS_DIR"
	else
		skip "debugfs directory disappears on unload" \
			"debugfs not mounted"
	fi
fi

if [ -z "$unloaded" ]; then
	skip "insmod $KO succeeds" "rmmod failed"
	skip "every device bound before binds again with its sysfs files" \
		"rmmod failed"
else
	if out=$(insmod "$KO" 2>&1); then
		ok "insmod $KO succeeds"
		if [ -n "$devices" ]; then
			result "every device bound before binds again with its sysfs files" \
				devices_bound
		else
			skip "every device bound before binds again with its sysfs files" \
				"no device was bound"
		fi
	else
		msg "insmod: $out"
		not_ok "insmod $KO succeeds"
		skip "every device bound before binds again with its sysfs files" \
			"insmod failed"
	fi
fi

result "no oops, BUG or WARNING in the kernel log across unload and reload" \
	log_clean

if [ $failed -ne 0 ]; then
	exit 1
fi
exit 0
