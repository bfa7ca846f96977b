#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run in a guest that also has virtio-balloon-pci,free-page-reporting=on,
# with virtio_balloon loaded before virtio_numahint: only one driver can
# have free page reporting, and the balloon got there first.  Our driver
# must say so once, clearly, bind the device anyway and keep its other
# features working.  TAP 13 on stdout.  Not in TEST_PROGS: the test
# harness runs it as the init script of that one boot.

DRIVER_DIR=/sys/bus/virtio/drivers/virtio_numahint
BALLOON_DIR=/sys/bus/virtio/drivers/virtio_balloon
MESSAGE='free page reporting is already taken by another driver'

test_nr=0

result() {
	test_nr=$((test_nr + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $test_nr - $2"
	else
		echo "not ok $test_nr - $2"
	fi
}

skip() {
	test_nr=$((test_nr + 1))
	echo "ok $test_nr - $1 # SKIP $2"
}

echo "TAP version 13"
echo "1..7"

device=
for dev in "$DRIVER_DIR"/virtio*; do
	[ -e "$dev" ] && device=${dev##*/}
done
sysfs=/sys/bus/virtio/devices/$device/numahint

balloon=
for dev in "$BALLOON_DIR"/virtio*; do
	[ -e "$dev" ] && balloon=${dev##*/}
done
[ -n "$balloon" ]
result $? "virtio_balloon is bound (${balloon:-no device})"

[ -n "$device" ] && [ -r "$sysfs/report_active" ]
result $? "virtio_numahint is bound despite the balloon (${device:-no device})"

lines=$(dmesg | grep -c "virtio_numahint.*$MESSAGE")
dmesg | grep "virtio_numahint.*$MESSAGE" | sed 's/^\[[^]]*\] /# /'
[ "$lines" -eq 1 ]
result $? "the kernel log says once that page reporting is taken"

active=$(cat "$sysfs/report_active" 2>/dev/null)
order=$(cat "$sysfs/report_order_used" 2>/dev/null)
echo "# report_active=$active report_order_used=$order"
[ "$active" = 0 ] && [ "$order" = 0 ]
result $? "report_active and report_order_used read 0"

# The virtio core's features: one 0 or 1 per bit; free_report is bit 0.
features=$(cat "$sysfs/../features" 2>/dev/null)
echo "# features: $features"
case $features in
1*) status=0 ;;
*) status=1 ;;
esac
result $status "free_report stays negotiated: only the guest side is off"

bad=
for file in "$sysfs"/*; do
	value=$(cat "$file" 2>/dev/null)
	case $value in
	'' | *[!0-9]*) bad="$bad ${file##*/}" ;;
	esac
done
[ -n "$device" ] && [ -z "$bad" ]
result $? "every numahint sysfs file reads as a number${bad:+ (not:$bad)}"

probe=/sys/kernel/debug/virtio_numahint/$device/probe
if [ -e "$probe" ]; then
	echo "cpu 0" >"$probe" && answer=$(cat "$probe")
	echo "# probe: $answer"
	case $answer in
	"cpu 0 node "*) status=0 ;;
	*) status=1 ;;
	esac
	result $status "the locality probe still answers"
else
	skip "the locality probe still answers" "locality_probe not negotiated"
fi
