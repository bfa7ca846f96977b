#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of selftests/host/test_migration.py, run as the guest's
# init script: numahint_stress cycles memory (allocate, write, verify,
# free; free page reports and first-touch events all along) until the host
# says that the guest has been migrated, then runs once more on the
# destination, so that reports and events are seen to work there too.
#
# The host says so by changing the device's touch_flush_ms (qom-set on
# the destination), which reaches the driver as a configuration change:
# the guest needs no other channel.  Each run of numahint_stress verifies
# what it wrote, so the run in progress during the migration checks memory
# written on the source and read back on the destination.

dir=$(echo /sys/bus/virtio/drivers/virtio_numahint/virtio*/numahint)
if [ ! -d "$dir" ]; then
	echo "not ok 1 - no device bound to virtio_numahint"
	exit 1
fi
flush_ms=$(cat "$dir/touch_flush_ms")

# The host speaks in two steps: touch_flush_ms + 1, free the 128 MiB
# held in a file of the initramfs (free page reports at a moment the host
# chooses: test_postcopy makes it while the destination runs in incoming
# postcopy, where the device must skip them); + 2, the guest has moved.
hold=/tmp/numahint-hold
if ! dd if=/dev/zero of="$hold" bs=1M count=128 2>/dev/null; then
	echo "not ok 1 - cannot hold 128 MiB in $hold"
	exit 1
fi
(
	while [ "$(cat "$dir/touch_flush_ms")" = "$flush_ms" ]; do
		sleep 0.1
	done
	rm -f "$hold"
	echo "# migration-stress: touch_flush_ms changed: freed the 128 MiB held"
) &

echo "# migration-stress: cycling until touch_flush_ms is $((flush_ms + 2))"
runs=0
while [ "$(cat "$dir/touch_flush_ms")" -lt $((flush_ms + 2)) ]; do
	/tests/numahint_stress -b 576M || exit 1
	runs=$((runs + 1))
done
echo "# migration-stress: touch_flush_ms is $(cat "$dir/touch_flush_ms") after $runs runs: migrated; one more run"
exec /tests/numahint_stress -b 576M
