# SPDX-License-Identifier: GPL-2.0
"""fault-overhead: what the first-touch hook costs guest page faults.

    experiments/fault-overhead [--kernel 6.1]... [--vcpus 1]...
                               [--rounds 20] [--seconds 0.5] [--mib 64]
                               [--null] [--out DIR]

For each guest kernel and each vCPU count N (default 1, 2, 4 and 8),
boots one guest with N vCPUs (-smp N) and the device's first touch on
(first-touch=on) and runs selftests/numahint/numahint_fault_bench -p N in
it: N processes, one per vCPU, each faulting in and unmapping 4 KiB
anonymous pages in a loop (will-it-scale's page_fault1 with N tasks), for
the whole boot, with the driver's mm_page_alloc hook switched off and on
in turn (debugfs touch_hook), --rounds rounds of --seconds per phase, the
order of the phases alternating from round to round.  As will-it-scale
does, a parent samples the processes' fault counters, so every phase has
all N running from its start to its end.  The hook sends its
events to the device, which places them (on this one-node host every
page is already local).

The figure is the median of the per-round ratios, faults per second with
the hook active over inactive: 1.0 means free, the target is 0.99 or
better (upstream free page reporting costs page_fault1/2 0.8-1.7% with 16
tasks).  The ratio of the means and the spread of the rounds are shown
beside it.

The guest runs with -icount shift=0,sleep=off: its clock counts executed
instructions (1 ns each), not host time, so "faults per second" is
faults per 10^9 guest instructions and the ratio is that of instructions
per fault, with and without the hook: the work the hook adds, immune to
the host's load.  Under -icount TCG runs the vCPUs in turn on one host
thread, so N vCPUs measure the instructions of N CPUs' worth of faults,
interrupts and drains, not contention between real cores: TCG models no
caches, so a cache line bounced between CPUs costs nothing here.  It does
not model real CPU timing either; on real hardware the cost of a few dozen
instructions per fault is smaller still beside the fault's memory traffic.
--wall-clock runs with the host's clock instead (multi-threaded TCG): on
a shared 2-core host single rounds then scatter from 0.6 to 2.0, and the
median drifts by several per cent between runs, more so with N > 2 vCPUs
on 2 cores.

--null keeps the hook off in both phases (numahint_fault_bench -n): the
ratios then show how much the measurement scatters on its own, and how
far from 1.0 its median lands, at each N.

Prints a markdown table, writes it with a CSV of every round and a PNG
plot (the median ratio per N, the rounds' spread as error bars) to --out
(default experiments/results/fault-overhead/).
"""

import argparse
import csv
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ..vm.paths import REPO_ROOT as REPO
from ..vm.scenario import ScriptGuest


ROUND = re.compile(r"# round (\d+) hook (active|inactive)\s+(\d+) faults/s"
                   r"\s+touch_events \+(\d+)")
TARGET = 0.99
VCPUS = (1, 2, 4, 8)


def measure(kernel, vcpus, rounds, seconds, mib, icount, null,
            device="first-touch=on"):
    """One boot: every round's rates, and the device's counters.
    `device`: the device's properties (experiments/time-to-locality
    gives touch-flush-ms)."""
    script = (f"/tests/numahint_fault_bench -m {mib} -t {seconds} "
              f"-r {rounds} -p {vcpus}{' -n' if null else ''}\n"
              "echo FAULT-BENCH-DONE\n")
    budget = 120 + 2.5 * rounds * 2 * seconds * (12 if icount else 4 * vcpus)
    extra = ["-icount", "shift=0,sleep=off"] if icount else []
    # Each process maps --mib; the guest keeps 512 MiB besides.
    memory = f"{max(1024, 512 + vcpus * mib)}M"
    with ScriptGuest(script, kernel=kernel, device=device,
                     timeout=budget, extra_args=extra, memory=memory,
                     smp=vcpus) as run:
        if run.guest.wait_for_report() is None:
            raise RuntimeError(f"{kernel}: the guest did not finish")
        stats = run.stats()
    rates = {}
    for match in ROUND.finditer(run.console):
        number, phase, rate, events = match.groups()
        rates.setdefault(int(number), {})[phase] = (int(rate), int(events))
    complete = [r for r in sorted(rates) if len(rates[r]) == 2]
    if len(complete) != rounds:
        raise RuntimeError(f"{kernel}: {len(complete)} of {rounds} rounds "
                           "in the console:\n" + run.console[-3000:])
    return [(r, *rates[r]["inactive"], *rates[r]["active"])
            for r in complete], stats


def plot(summary, png):
    if subprocess.run(["which", "gnuplot"], capture_output=True,
                      check=False).returncode:
        print("fault-overhead: gnuplot not installed, no plot "
              "(apt-get install gnuplot-nox)")
        return
    data = png.with_suffix(".dat")
    kernels = list(dict.fromkeys(s["kernel"] for s in summary))
    blocks = []
    for i, kernel in enumerate(kernels):
        # Kernels side by side around each N, so the bars do not overlap.
        shift = (i - (len(kernels) - 1) / 2) * 0.08
        blocks.append(f"# {kernel}\n" + "".join(
            f"{s['vcpus'] * (1 + shift):.3f} {s['median_ratio']:.4f} "
            f"{s['spread'][0]:.4f} {s['spread'][1]:.4f}\n"
            for s in summary if s["kernel"] == kernel))
    data.write_text("\n\n".join(blocks))
    plots = ", ".join(
        f"'{data}' index {i} using 1:2:3:4 with yerrorlines title "
        f"'guest {kernel}'" for i, kernel in enumerate(kernels))
    tics = ", ".join(f"'{n}' {n}" for n in sorted({s["vcpus"]
                                                   for s in summary}))
    subprocess.run(["gnuplot"], check=True, text=True, input=f"""
set terminal pngcairo size 900,500
set output '{png}'
set title 'Page-fault throughput (N processes on N vCPUs), first-touch hook active / inactive'
set xlabel 'vCPUs = faulting processes (N)'
set ylabel 'ratio (median; bars: rounds min-max)'
set logscale x 2
set xrange [0.8:10]
# A round that something else in the guest slowed would flatten the rest.
set yrange [0.85:1.15]
set xtics ({tics})
set key below
plot {plots}, {TARGET} with lines dashtype 2 title 'target {TARGET}', \\
     1 with lines lc rgb 'gray' title 'no cost'
""")
    data.unlink()


def main():
    parser = argparse.ArgumentParser(
        prog="experiments/fault-overhead",
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--kernel", action="append", choices=("6.1", "6.12"))
    parser.add_argument("--vcpus", action="append", type=int,
                        help="vCPUs and faulting processes of one boot "
                        f"(default {', '.join(map(str, VCPUS))})")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--mib", type=int, default=64,
                        help="MiB each process faults in and unmaps")
    parser.add_argument("--null", action="store_true",
                        help="the hook stays off in both phases")
    parser.add_argument("--wall-clock", action="store_true",
                        help="guest time runs with the host's clock "
                        "(default: -icount, see above)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" /
                        "fault-overhead")
    args = parser.parse_args()
    kernels = args.kernel or ["6.1", "6.12"]
    vcpus = args.vcpus or list(VCPUS)
    subprocess.run(["make", "-s", "-C", str(REPO / "selftests" / "numahint"),
                    "numahint_fault_bench"], check=True)
    args.out.mkdir(parents=True, exist_ok=True)

    per_boot, summary = {}, []
    boots = [(k, n) for k in kernels for n in vcpus]
    for i, (kernel, n) in enumerate(boots, 1):
        start = time.monotonic()
        print(f"fault-overhead: [{i}/{len(boots)}] guest {kernel}, {n} "
              f"vCPU(s): {args.rounds} rounds of 2 x {args.seconds} s ...",
              flush=True)
        rows, stats = measure(kernel, n, args.rounds, args.seconds,
                              args.mib, not args.wall_clock, args.null)
        per_boot[kernel, n] = rows
        ratios = [r[3] / r[1] for r in rows]
        inactive = statistics.mean(r[1] for r in rows)
        active = statistics.mean(r[3] for r in rows)
        summary.append({
            "kernel": kernel, "vcpus": n, "rounds": len(rows),
            "inactive": inactive, "active": active,
            "mean_ratio": active / inactive,
            "median_ratio": statistics.median(ratios),
            "spread": (min(ratios), max(ratios)),
            "stdev": statistics.stdev(ratios) if len(ratios) > 1 else 0.0,
            "events": sum(r[4] for r in rows),
            "requests": stats.get("touch-requests", 0),
        })
        print(f"fault-overhead: guest {kernel}, {n} vCPU(s): median ratio "
              f"{summary[-1]['median_ratio']:.4f} in "
              f"{time.monotonic() - start:.0f} s", flush=True)

    table = ["| Guest | vCPUs = processes | Rounds | Faults/s hook inactive "
             "| Faults/s hook active | Ratio of means | Median per-round "
             "ratio | Round ratios (min–max) | Stdev | Touch events | "
             "Target |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | --- |"]
    for s in summary:
        table.append(
            f"| {s['kernel']} | {s['vcpus']} | {s['rounds']} | "
            f"{s['inactive']:.0f} | {s['active']:.0f} | "
            f"{s['mean_ratio']:.4f} | {s['median_ratio']:.4f} | "
            f"{s['spread'][0]:.4f}–{s['spread'][1]:.4f} | "
            f"{s['stdev']:.4f} | {s['events']} | "
            f"{'met' if s['median_ratio'] >= TARGET else 'MISSED'} "
            f"(>= {TARGET}) |")
    text = ("\n".join(table) + "\n\n"
            f"Command: `experiments/fault-overhead --rounds {args.rounds} "
            f"--seconds {args.seconds} --mib {args.mib}"
            + (" --wall-clock" if args.wall_clock else "")
            + (" --null" if args.null else "")
            + "".join(f" --kernel {k}" for k in kernels)
            + "".join(f" --vcpus {n}" for n in vcpus) + "` (TCG guests, "
            "one boot per kernel and N with -smp N and N faulting "
            f"processes of {args.mib} MiB, device first-touch=on, "
            + ("null run: the hook off in both phases, " if args.null
               else "")
            + ("host clock" if args.wall_clock else
               "-icount shift=0: faults per 10^9 guest instructions, the "
               "vCPUs run in turn on one host thread")
            + "; the host has 2 cores).\n")
    (args.out / "table.md").write_text(text)
    with open(args.out / "results.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["kernel", "vcpus", "round", "inactive_faults_per_s",
                      "inactive_touch_events", "active_faults_per_s",
                      "active_touch_events", "ratio"])
        for (kernel, n), rows in per_boot.items():
            for r in rows:
                out.writerow([kernel, n, *r, f"{r[3] / r[1]:.4f}"])
    plot(summary, args.out / "plot.png")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
