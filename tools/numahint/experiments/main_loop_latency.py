# SPDX-License-Identifier: GPL-2.0-or-later
"""QEMU's main loop under a placement storm, on the two-node rig.

    experiments/main-loop-latency/run [--before QEMU] [--phase-s 30]
                                      [--mib 64]
                                      [--out experiments/results/main-loop-latency]

The inner guest (tools/rig/rig-inner.sh, storm) goes through phases:
idle; "held", a storm with placement held to one page a second; and
"storm", the same storm with placement at the device's budget.  Before the
phases, one untimed pass on vCPU 1 backs the memory on the host's node 1
(else the first phase with a storm begins on memory the host never
backed, which host first touch places, and its counters, read during that
first pass, find it local).  In the
storm an app touches --mib MiB, holds it 2 s and frees it, over and
over, on vCPU 0 and vCPU 1 in turn, so that each pass reuses memory on
the other node and the device migrates it as fast as the guest allocates
it (held 2 s: passes that followed each other at once reused pages before
the device before, which waits longer to decide, had placed them, and
it found them local to the next pass; one app: with two,
the inner vCPUs keep both of this machine's cores busy and the inner main
loop waits for a core whatever the device does).  In each phase, for --phase-s
seconds, the guest times its timer wakeups on vCPU 1 as a real-time task
(tools/rig/rig-latency: p50, p99 of how late a 1 ms sleep wakes), and the
host (the outer VM) times 2,000 QMP query-status round trips
(tools/rig/rig-qmp).  Both go through QEMU's main loop and the big QEMU
lock.

It runs the device as built (after) and, with --before, a QEMU with the
device as it was with placement in the main loop (tools/setup
qemu-before builds it in .cache/qemu-before/build; that device cannot
change its budget at run time, so it has no "held" phase).  Under nested
TCG every figure is slow; compare within a run and as ratios to the idle
phase of the same boot.  Writes results.md (the table and the command),
results.csv and results.png to --out, and the console logs.
"""

import argparse
import sys
import time
from pathlib import Path

from .. import rig, vm
from ..vm.paths import REPO_ROOT as REPO
from . import onrig
from .plot import gnuplot

#: First touch without free page reports: the storm's freed memory keeps
#: its host pages, so that the next pass on the other vCPU reuses
#: misplaced ones.  The vCPUs' nodes are given (rig-outer.sh pins vCPU k
#: to the rig's node k, host node k here): the device before read the
#: vCPU threads' affinity once, before the rig pinned them, and would have
#: had no node for either.
STORM_CONFIG = rig.RigConfig(
    "storm", "numahint: first touch, free reports off", True,
    numahint="id=nh0,free-page-reporting=off,first-touch=on,vcpu-nodes=0:1")

BEFORE = vm.cache_dir() / "qemu-before" / "build" / "qemu-system-x86_64"

COLUMNS = ("build", "phase", "budget", "qmp_p50_us", "qmp_p99_us",
           "qmp_max_us", "wake_p50_us", "wake_p99_us", "wake_max_us",
           "wakeups", "migrated_per_s", "placement_share",
           "qmp_p99_vs_idle", "wake_p99_vs_idle", "load")


def measure(build: str, qemu: Path, phases: tuple[str, ...], args) -> list:
    """One boot: a row of COLUMNS per phase."""
    scenario = onrig.Scenario(
        "storm", "placement storm, QMP and timer latency",
        f"rig.phases={','.join(phases)} rig.phase_s={args.phase_s:g}")
    lines = onrig.run(STORM_CONFIG, scenario, args, qemu, args.host_thp,
                      args.out / f"console-{build}.log",
                      inner_files=(rig.RIG / "rig-latency",))
    load = onrig.load_average()
    res = onrig.results(lines)
    rows, idle = [], None
    for phase in phases:
        qmp = next((x for x in res if x.get("what") == "qmp"
                    and x.get("phase") == phase), {})
        wake = next((x for x in res if x.get("what") == "latency"
                     and x.get("name") == phase), {})
        if not qmp or not wake:
            raise SystemExit(f"main-loop-latency: {build}: phase {phase} "
                             "not measured")
        seconds = float(qmp["seconds"]) or 1.0
        row = {"build": build, "phase": phase, "budget": qmp["budget"],
               "qmp_p50_us": int(qmp["qmp_p50_us"]),
               "qmp_p99_us": int(qmp["qmp_p99_us"]),
               "qmp_max_us": int(qmp["qmp_max_us"]),
               "wake_p50_us": int(wake["p50_us"]),
               "wake_p99_us": int(wake["p99_us"]),
               "wake_max_us": int(wake["max_us"]),
               "wakeups": int(wake["n"]),
               "migrated_per_s": int(int(qmp["migrated"]) / seconds),
               # The device before had no placement-ns: its placement
               # ran in the main loop.
               "placement_share": (
                   f"{int(qmp['placement_ns']) / 1e9 / seconds:.3f}"
                   if build != "before" else "n/a"),
               "load": load}
        if phase == "idle":
            idle = row
        for key in ("qmp_p99_us", "wake_p99_us"):
            name = key.split("_")[0] + "_p99_vs_idle"
            row[name] = (f"{row[key] / idle[key]:.2f}"
                         if idle and idle[key] else "")
        rows.append(row)
        print(f"main-loop-latency: {build} {phase}: QMP p50/p99 "
              f"{row['qmp_p50_us']}/{row['qmp_p99_us']} us, wakeup p50/p99 "
              f"{row['wake_p50_us']}/{row['wake_p99_us']} us, "
              f"{row['migrated_per_s']} pages migrated/s", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    head = ("| Build | Phase | Budget (pages/s) | QMP p50 (µs) | QMP p99 (µs) "
            "| QMP max (µs) | Wakeup p50 (µs) | Wakeup p99 (µs) "
            "| Wakeup max (µs) | Wakeups | Pages migrated/s "
            "| Placement thread busy | QMP p99 ÷ idle | Wakeup p99 ÷ idle "
            "| Load average |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: | ---: | ---: | ---: | --- |\n")
    return head + "".join("| " + " | ".join(str(r[c]) for c in COLUMNS)
                          + " |\n" for r in rows)


def plot(rows: list[dict], png: Path) -> None:
    data = png.with_suffix(".dat")
    data.write_text("".join(f"{r['build']}/{r['phase']} {r['qmp_p99_us']} "
                            f"{r['wake_p99_us']}\n" for r in rows))
    gnuplot("main-loop-latency", f"""
set terminal pngcairo size 900,480
set output '{png}'
set title 'QEMU main loop under a placement storm (rig, nested TCG): p99'
set style data histograms
set style fill solid 0.8 border -1
set ylabel 'microseconds'
set yrange [0:*]
set key top left
set xtics rotate by -20
plot '{data}' using 2:xtic(1) title 'QMP query-status round trip', \\
     '' using 3 title 'guest timer wakeup lateness'
""")
    data.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="experiments/main-loop-latency/run",
        description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, nargs="?", const=BEFORE,
                        help="also run this QEMU, the device with "
                        f"placement in the main loop (default {BEFORE}, "
                        "from tools/setup qemu-before)")
    parser.add_argument("--before-only", action="store_true",
                        help="run only --before's QEMU")
    parser.add_argument("--host-thp", choices=("always", "never"),
                        default="always",
                        help="the outer host's transparent huge pages "
                        "(default always)")
    parser.add_argument("--phase-s", type=float, default=30,
                        help="guest seconds of each phase (default 30)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" /
                        "main-loop-latency")
    onrig.add_arguments(parser, mib=64, timeout=900)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.before_only and not args.before:
        args.before = BEFORE
    if args.before and not args.before.is_file():
        parser.error(f"--before {args.before}: no such QEMU (tools/setup "
                     "qemu-before builds it)")

    rows = []
    if not args.before_only:
        rows += measure("after", vm.default_qemu(),
                        ("idle", "held", "storm"), args)
    if args.before:
        rows += measure("before", args.before, ("idle", "storm"), args)
    text = table(rows)
    print(text)
    command = ("experiments/main-loop-latency/run"
               + (" --before" if args.before else "")
               + (" --before-only" if args.before_only else "")
               + f" --host-thp {args.host_thp}"
               + f" --phase-s {args.phase_s:g} --mib {args.mib}")
    (args.out / "results.csv").write_text(
        ",".join(COLUMNS) + "\n" + "".join(
            ",".join(str(r[c]) for c in COLUMNS) + "\n" for r in rows))
    (args.out / "results.md").write_text(
        "# QEMU's main loop under a placement storm\n\n"
        f"`{command}`, on the two-node rig (outer TCG VM, Debian 6.1, "
        f"host THP {args.host_thp}), {time.strftime('%Y-%m-%d')}.  after: this "
        "tree; before: the device with placement in the main loop "
        "(`tools/setup qemu-before`).\n\n" + text + "\n"
        "What is measured: the docstring of "
        "`tools/numahint/experiments/main_loop_latency.py`.\n")
    plot(rows, args.out / "results.png")
    print(f"main-loop-latency: results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
