# SPDX-License-Identifier: GPL-2.0
"""discard-bench: what a free page report costs the host, next to madvise.

    experiments/discard-bench [--kernel 6.1] [--rounds 12] [--memory 2G]
                              [--first-touch] [--label NAME] [--out DIR]

A benchmark, not a test: it prints numbers and judges nothing.

The guest (Debian, under TCG) lets its boot-time reports settle, then
touches 256 MiB in a child process and lets it exit, --rounds times; the
driver reports the freed memory and QEMU discards it.  Meanwhile the host
measures, for that window only:

  - the bytes QEMU discarded (the device's report-bytes-discarded);
  - the device's own CPU time in its report handler: the trace event
    virtio_numahint_report_done gives, per request, the main loop
    thread's CPU clock (ns) across the request's ranges: validation,
    lookups, the discards and the placement engine's bookkeeping;
  - the CPU time of QEMU's main thread over the whole window, from
    /proc/PID/task/PID/schedstat (ns), less its idle cost measured over
    10 s while the guest sleeps.  Printed, not judged: under TCG the
    main loop also runs the busy guest's timers, and that varies between
    runs by more than the whole free path costs (it can come out below
    zero).

First-touch events are off (--first-touch turns them on): their handler
runs on the same thread and would be counted.

Then, in this same process and run, a raw loop maps anonymous memory as
QEMU maps guest RAM (MADV_HUGEPAGE), touches it and gives it back with
madvise(MADV_DONTNEED) in ranges of the mean size of the guest's, the
same amount, three times; and once more with 4 KiB pages
(MADV_NOHUGEPAGE).  Everything is printed as GiB per CPU second and CPU
seconds per GiB; the ratio of the handler's throughput to the raw
loop's (THP) is the figure.
Only ratios within one run mean anything: these machines are noisy.

With --label, the run is also recorded in --out: its output as
NAME.txt, a row in results.csv (one per label, replaced on a rerun),
and results.md and results.png regenerated from every row.
"""

import argparse
import csv
import ctypes
import mmap
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ..vm.paths import REPO_ROOT as REPO
from ..vm.scenario import ScriptGuest
from .plot import gnuplot


GiB = 1 << 30
IDLE_S = 10
PAGE = mmap.PAGESIZE
RAW_REPEAT = 3
TRACE_EVENT = "virtio_numahint_report_done"
TRACE_RE = re.compile(TRACE_EVENT + r" nr_ranges=(\d+)(?: nr_discards=(\d+))?"
                      r" discarded=(\d+) cpu_ns=(-?\d+)")
MADV_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", 14)
MADV_NOHUGEPAGE = getattr(mmap, "MADV_NOHUGEPAGE", 15)
CSV_FIELDS = ("label", "date", "first_touch", "rounds", "gib", "requests",
              "ranges",
              "discard_calls", "mean_range_kib", "handler_cpu_s",
              "main_thread_cpu_s",
              "raw_thp_cpu_s", "raw_4k_cpu_s", "raw_thp_share",
              "handler_vs_raw")


def thread_cpu_ns(pid, tid):
    """Time one thread of another process has run, in ns (schedstat)."""
    return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text()
               .split()[0])


def anon_huge_share(pid, start=None):
    """AnonHugePages / Rss of a process, or of its mapping at `start`."""
    rss = huge = 0
    inside = start is None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            if start is not None:
                inside = int(line.split("-", 1)[0], 16) == start
            continue
        if inside and line.startswith("Rss:"):
            rss += int(line.split()[1])
        elif inside and line.startswith("AnonHugePages:"):
            huge += int(line.split()[1])
    return huge / rss if rss else 0.0


def madvise_baseline(total, chunk, advice):
    """Map `total` bytes of anonymous memory with madvise(`advice`), touch
    it, then drop it with MADV_DONTNEED in `chunk`-byte ranges; return the
    CPU seconds of the dropping alone and the share of the memory that
    was in transparent huge pages."""
    area = mmap.mmap(-1, total, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        area.madvise(advice)
        for offset in range(0, total, PAGE):
            area[offset] = 1
        address = ctypes.addressof(ctypes.c_char.from_buffer(area))
        share = anon_huge_share(os.getpid(), address)
        start = time.thread_time_ns()
        for offset in range(0, total, chunk):
            area.madvise(mmap.MADV_DONTNEED, offset, min(chunk, total - offset))
        return (time.thread_time_ns() - start) / 1e9, share
    finally:
        area.close()


def trace_slice(path, begin, end):
    """The report_done records between two offsets of the trace log."""
    with open(path, "rb") as log:
        log.seek(begin)
        text = log.read(end - begin).decode(errors="replace")
    # nr_discards: ram_block_discard_range() calls, where the trace says.
    return [(int(m[1]), int(m[2] or -1), int(m[3]), int(m[4]))
            for m in TRACE_RE.finditer(text)]


def plot(rows, png):
    data = png.with_suffix(".dat")
    data.write_text("".join(
        f"{r['label']} {float(r['gib']) / float(r['raw_thp_cpu_s'])} "
        f"{float(r['gib']) / float(r['handler_cpu_s'])} "
        f"{float(r['gib']) / float(r['raw_4k_cpu_s'])}\n" for r in rows))
    gnuplot("discard-bench", f"""
set terminal pngcairo size 800,480
set output '{png}'
set title 'discard-bench: GiB discarded per CPU second (higher is better)'
set style data histograms
set style fill solid 0.8 border -1
set ylabel 'GiB / CPU s'
set yrange [0:*]
set key top left
plot '{data}' using 2:xtic(1) title 'raw madvise(DONTNEED), THP as guest RAM', \\
     '' using 3 title 'device: report handler', \\
     '' using 4 title 'raw madvise(DONTNEED), 4 KiB pages'
""")
    data.unlink()


def record(args, row, text):
    """Keep this run under --out as `--label` and redraw the summary."""
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.label}.txt").write_text(text)
    table = out / "results.csv"
    rows = []
    if table.exists():
        with table.open() as f:
            rows = [{k: r.get(k) or "" for k in CSV_FIELDS}
                    for r in csv.DictReader(f) if r["label"] != args.label]
    rows.append({k: str(row[k]) for k in CSV_FIELDS})
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# discard-bench", "",
        "`experiments/discard-bench --rounds N --label NAME` (Debian "
        f"{args.kernel} guest, {args.memory}), TCG on a 2-core host; "
        "each label's full output in NAME.txt.  Throughput ratios, device "
        "/ raw madvise(MADV_DONTNEED) over the same amount in ranges of the "
        "guest's mean size, the raw memory set up as QEMU's guest RAM "
        "(MADV_HUGEPAGE); only ratios within one run mean anything.  "
        "Handler: the device's CPU in its report handler (trace event "
        "virtio_numahint_report_done, ns).  Main thread: QEMU's main "
        "thread over the window less its idle rate, printed only (see "
        "the harness: under TCG it varies with the guest's timers by more "
        "than the free path costs).", "",
        "| run | date | first touch | GiB | requests | ranges | "
        "discard calls | "
        "mean range KiB | "
        "handler CPU s | main thread CPU s | raw CPU s (THP) | "
        "raw CPU s (4 KiB) | handler / raw |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['date']} | {r['first_touch'] or 'off'} | "
            f"{float(r['gib']):.2f} | "
            f"{r['requests']} | {r['ranges']} | "
            f"{r.get('discard_calls') or r['ranges']} | {r['mean_range_kib']} | "
            f"{float(r['handler_cpu_s']):.4f} | "
            f"{float(r['main_thread_cpu_s']):.4f} | "
            f"{float(r['raw_thp_cpu_s']):.4f} | "
            f"{float(r['raw_4k_cpu_s']):.4f} | "
            f"{float(r['handler_vs_raw']):.2f} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    plot(rows, out / "results.png")
    print(f"discard-bench: recorded as {args.label} in {out}")


def main():
    parser = argparse.ArgumentParser(
        prog="experiments/discard-bench",
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--kernel", default="6.1", choices=("6.1", "6.12"))
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--memory", default="2G")
    parser.add_argument("--first-touch", action="store_true",
                        help="leave first-touch events on")
    parser.add_argument("--label", help="record the run under this name")
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" /
                        "discard-bench")
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
    tmp = tempfile.TemporaryDirectory(prefix="discard-bench-")
    trace = Path(tmp.name) / "trace.log"
    trace.touch()
    with ScriptGuest(script, kernel=args.kernel, memory=args.memory,
                     device="" if args.first_touch else "first-touch=off",
                     extra_args=("-trace",
                                 f"enable={TRACE_EVENT},file={trace}"),
                     timeout=1800, console=sys.stdout) as run:
        pid = run.guest.pid
        marks = {}
        for mark in ("IDLE", "START", "END"):
            if run.guest.wait_for_line(rf"^NUMAHINT-BENCH-{mark}") is None:
                sys.exit(f"discard-bench: the guest never printed {mark}")
            if mark == "END":
                stats1 = run.settled_stats()
            elif mark == "START":
                stats0 = run.stats()
                qemu_thp = anon_huge_share(pid)
            marks[mark] = (time.monotonic(), thread_cpu_ns(pid, pid) / 1e9,
                           trace.stat().st_size)
    records = trace_slice(trace, marks["START"][2], marks["END"][2])

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
    main_cpu = window_cpu - idle_rate * window
    handler_cpu = max(1e-9, sum(r[3] for r in records) / 1e9)
    calls = (sum(r[1] for r in records) if records and
             all(r[1] >= 0 for r in records) else None)
    if not discarded or not ranges:
        sys.exit("discard-bench: nothing was discarded in the window")
    if len(records) != requests or \
            sum(r[2] for r in records) != discarded:
        print(f"discard-bench: warning: the trace holds {len(records)} "
              f"requests, {sum(r[2] for r in records)} bytes; the counters "
              f"{requests}, {discarded}")
    chunk = max(PAGE, discarded // ranges // PAGE * PAGE)
    raws = [madvise_baseline(discarded, chunk, MADV_HUGEPAGE)
            for _ in range(RAW_REPEAT)]
    raw_cpu = statistics.median(r[0] for r in raws)
    raw_share = statistics.median(r[1] for r in raws)
    raw_4k_cpu, _ = madvise_baseline(discarded, chunk, MADV_NOHUGEPAGE)
    gib = discarded / GiB

    def line(name, cpu):
        rate = f"{gib / cpu:9.1f}" if cpu > 0 else "      n/a"
        return (f"| {name:44} | {gib:6.2f} | {cpu:8.4f} | "
                f"{rate} | {cpu / gib:9.4f} |")

    text = "\n".join([
        f"{requests} reports, {ranges} ranges"
        f"{'' if calls is None else f' in {calls} discard calls'}, "
        f"mean range "
        f"{chunk // 1024} KiB, in a {window:.1f} s window; main thread "
        f"{window_cpu:.4f} CPU s in it, {idle_rate * window:.4f} of it idle "
        f"cost (schedstat, ns); QEMU's memory {qemu_thp:.0%} THP at the "
        f"start, the raw loop's {raw_share:.0%}",
        "",
        "| path                                         |    GiB |    CPU s "
        "| GiB/CPU s | CPU s/GiB |",
        "|----------------------------------------------|--------|----------"
        "|-----------|-----------|",
        line("numahint: report handler (trace, ns)", handler_cpu),
        line("numahint: QEMU main thread less idle", main_cpu),
        line(f"madvise(DONTNEED), {chunk // 1024} KiB, THP as QEMU", raw_cpu),
        line(f"madvise(DONTNEED), {chunk // 1024} KiB, 4 KiB pages",
             raw_4k_cpu),
        "",
        f"throughput device / raw (THP as QEMU): handler "
        f"{raw_cpu / handler_cpu:.2f}",
        f"raw THP rounds (CPU s): "
        + ", ".join(f"{r[0]:.4f}" for r in raws), ""])
    print()
    print(text)
    if args.label:
        record(args, {
            "label": args.label, "date": time.strftime("%Y-%m-%d"),
            "first_touch": "on" if args.first_touch else "off",
            "rounds": args.rounds, "gib": f"{gib:.4f}",
            "requests": requests, "ranges": ranges,
            "mean_range_kib": chunk // 1024,
            "discard_calls": "" if calls is None else calls,
            "handler_cpu_s": f"{handler_cpu:.6f}",
            "main_thread_cpu_s": f"{main_cpu:.6f}",
            "raw_thp_cpu_s": f"{raw_cpu:.6f}",
            "raw_4k_cpu_s": f"{raw_4k_cpu:.6f}",
            "raw_thp_share": f"{raw_share:.3f}",
            "handler_vs_raw": f"{raw_cpu / handler_cpu:.3f}",
        }, f"experiments/discard-bench --rounds {args.rounds}"
           f"{' --first-touch' if args.first_touch else ''} --label "
           f"{args.label}\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
