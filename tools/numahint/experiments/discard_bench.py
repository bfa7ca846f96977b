# SPDX-License-Identifier: GPL-2.0
"""discard-bench: what a free page report costs the host, next to madvise.

    experiments/discard-bench [--kernel 6.1] [--rounds 4] [--memory 2G]

A benchmark, not a test: it prints numbers and judges nothing.

The guest (Debian, under TCG) lets its boot-time reports settle, then
touches 256 MiB in a child process and lets it exit, --rounds times; the
driver reports the freed memory and QEMU discards it.  Meanwhile the host
measures, for that window only:

  - the bytes QEMU discarded (the device's report-bytes-discarded), and
  - the CPU time of QEMU's main thread, where the device's queue handler
    runs (TCG vCPUs have threads of their own).

Then, in this same process and run, a raw loop maps and touches the same
amount of anonymous memory and gives it back with madvise(MADV_DONTNEED)
in ranges of the same mean size as the guest's reports.  Both are
printed as GiB per CPU second and CPU seconds per GiB, with their ratio.
Only ratios within one run mean anything: these machines are noisy.
The main thread also runs QEMU's other housekeeping: its idle cost,
measured over 10 s while the guest sleeps, is subtracted.
"""

import argparse
import mmap
import os
import sys
import time
from pathlib import Path

from ..vm.paths import REPO_ROOT as REPO
from ..vm.scenario import ScriptGuest


GiB = 1 << 30
IDLE_S = 10
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = mmap.PAGESIZE


def thread_cpu_seconds(pid, tid):
    """utime + stime of one thread of another process, from /proc."""
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def madvise_baseline(total, chunk):
    """Touch `total` bytes of anonymous memory, then drop it with
    MADV_DONTNEED in `chunk`-byte ranges; return the CPU seconds of the
    dropping alone."""
    area = mmap.mmap(-1, total, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        for offset in range(0, total, PAGE):
            area[offset] = 1
        start = time.thread_time()
        for offset in range(0, total, chunk):
            area.madvise(mmap.MADV_DONTNEED, offset, min(chunk, total - offset))
        return time.thread_time() - start
    finally:
        area.close()


def main():
    parser = argparse.ArgumentParser(
        prog="experiments/discard-bench",
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--kernel", default="6.1", choices=("6.1", "6.12"))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--memory", default="2G")
    args = parser.parse_args()

    script = f"""\
/tests/numahint_report_test > /dev/null
echo NUMAHINT-BENCH-IDLE
sleep {IDLE_S}
echo NUMAHINT-BENCH-START
for i in $(seq {args.rounds}); do
    /tests/numahint_report_test | grep '^# reported'
done
echo NUMAHINT-BENCH-END
echo "ok 1 - {args.rounds} rounds of 256 MiB touched, freed and reported"
"""
    print(f"discard-bench: booting Debian {args.kernel} ({args.memory}); "
          f"{args.rounds} rounds of 256 MiB", flush=True)
    with ScriptGuest(script, kernel=args.kernel, memory=args.memory,
                     timeout=900, console=sys.stdout) as run:
        pid = run.guest.pid
        marks = {}
        for mark in ("IDLE", "START", "END"):
            if run.guest.wait_for_line(rf"^NUMAHINT-BENCH-{mark}") is None:
                sys.exit(f"discard-bench: the guest never printed {mark}")
            if mark == "END":
                stats1 = run.settled_stats()
            elif mark == "START":
                stats0 = run.stats()
            marks[mark] = (time.monotonic(), thread_cpu_seconds(pid, pid))

    discarded = stats1["report-bytes-discarded"] - \
        stats0["report-bytes-discarded"]
    ranges = stats1["report-ranges"] - stats0["report-ranges"]
    requests = stats1["report-requests"] - stats0["report-requests"]
    # The main thread's own idle cost, measured while the guest slept,
    # is taken out of the benchmark window.
    idle_rate = (marks["START"][1] - marks["IDLE"][1]) / \
        (marks["START"][0] - marks["IDLE"][0])
    window = marks["END"][0] - marks["START"][0]
    window_cpu = marks["END"][1] - marks["START"][1]
    device_cpu = max(0.0, window_cpu - idle_rate * window)
    if not discarded or not ranges:
        sys.exit("discard-bench: nothing was discarded in the window")
    chunk = max(PAGE, discarded // ranges // PAGE * PAGE)
    raw_cpu = madvise_baseline(discarded, chunk)

    def row(name, cpu):
        rate = discarded / GiB / cpu if cpu else float("inf")
        return (f"| {name:34} | {discarded / GiB:6.2f} | {cpu:7.3f} | "
                f"{rate:8.1f} | {cpu / (discarded / GiB):8.4f} |")

    print()
    print(f"{requests} reports, {ranges} ranges, mean range "
          f"{chunk // 1024} KiB, in a {window:.1f} s window; main thread "
          f"{window_cpu:.3f} CPU s in it, {idle_rate * window:.3f} of it "
          f"idle cost; CPU time resolution {1 / CLK_TCK:.3f} s")
    print("| path                               |    GiB |   CPU s | "
          "GiB/CPU s | CPU s/GiB |")
    print("|------------------------------------|--------|---------|"
          "----------|-----------|")
    print(row("numahint: QEMU main thread", device_cpu))
    print(row(f"madvise(DONTNEED), {chunk // 1024} KiB ranges", raw_cpu))
    if raw_cpu > 0:
        print(f"\nratio numahint / madvise CPU per GiB: "
              f"{device_cpu / raw_cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
