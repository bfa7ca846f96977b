#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# TAP 13 helpers for the guest's shell tests, sourced, as kselftest's
# ktap_helpers.sh is:  . "$(dirname "$0")/ktap_helpers.sh"
# They number the tests in $test_nr and count failures in $failed.

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

# skip NAME REASON
skip() {
	test_nr=$((test_nr + 1))
	echo "ok $test_nr - $1 # SKIP $2"
}

msg() {
	echo "# $*"
}

# verdict NAME FAILURES: one test that passed if FAILURES is 0.
verdict() {
	if [ "$2" -eq 0 ]; then
		ok "$1"
	else
		not_ok "$1"
	fi
}
