# SPDX-License-Identifier: GPL-2.0
"""Run placement-bench on a host with two NUMA nodes, or in a VM that has.

    experiments/placement-bench/run [--mib 128] [--rounds 5]
                                    [--out experiments/results/placement-bench]
    experiments/placement-bench/run --rig [--mib 128] [--rounds 4]

With --rig, the engine is measured through the device: see rig_bench().

A benchmark, not a test: it prints numbers and judges nothing.  This
machine has one NUMA node, so by default the program runs in a TCG VM
with two (the rig's outer host: Debian 6.1, -smp 2 with one CPU and
1.5 GiB per node, transparent huge pages at the distribution's default,
`always`, automatic NUMA balancing off), as init of a guest with nothing
else to do; with --here it
runs on this host instead.  placement_bench.c says what is measured.
Under TCG every copy is emulated, so only the ratio engine / raw means
something, and only within one run.

Writes results.md (the table and the command), results.csv and
results.png (gnuplot) to --out.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .. import rig, vm
from ..vm.paths import REPO_ROOT as REPO
from ..vm.scenario import ScriptGuest
from . import onrig
from .plot import gnuplot

HERE = REPO / "experiments" / "placement-bench"

#: Two nodes of 1.5 GiB, one vCPU each.
TWO_NODES = (
    "-smp", "2,sockets=2",
    "-object", "memory-backend-ram,id=m0,size=1536M",
    "-object", "memory-backend-ram,id=m1,size=1536M",
    "-numa", "node,nodeid=0,cpus=0,memdev=m0",
    "-numa", "node,nodeid=1,cpus=1,memdev=m1",
)


def build():
    subprocess.run(["make", "-s", "-C", str(HERE)], check=True)


def in_vm(args) -> str:
    script = (f"/tests/placement_bench -m {args.mib} -r {args.rounds} "
              "> /tmp/bench.out 2>&1\n"
              "echo placement-bench: exit $?\n"
              "sed 's/^/bench: /' /tmp/bench.out\n"
              "echo placement-bench: done\n")
    # As on the rig: automatic NUMA balancing would mark pages PROT_NONE,
    # and 6.1's move_pages() then sees them as not present (ENOENT).
    with ScriptGuest(script, memory="3G", extra_args=TWO_NODES,
                     append="numa_balancing=disable",
                     module=False, timeout=args.timeout,
                     plug_device=False, tests_dirs=(HERE,)) as run:
        start = time.monotonic()
        for label in ("4k", "thp"):
            for r in range(1, args.rounds + 1):
                line = run.guest.wait_for_line(
                    f"bench: placement-bench: {label} round {r}:")
                if line is None:
                    break
                print(f"placement-bench: {time.monotonic() - start:.0f} s: "
                      f"{line[len('bench: placement-bench: '):][:160]}",
                      flush=True)
        run.guest.wait_for_line(r"placement-bench: done")
    console = run.console
    return "\n".join(line.split("bench: ", 1)[1]
                     for line in console.splitlines()
                     if line.startswith("bench: "))


def plot(rows, png: Path, title: str = "placement-bench: 4 KiB pages "
         "moved per second (median)"):
    data = png.with_suffix(".dat")
    data.write_text("".join(f"{r[0]} {r[3]} {r[4]}\n" for r in rows))
    gnuplot("placement-bench", f"""
set terminal pngcairo size 800,480
set output '{png}'
set title '{title}'
set style data histograms
set style fill solid 0.8 border -1
set ylabel '4 KiB pages/s'
set yrange [0:*]
set key top left
plot '{data}' using 2:xtic(1) title 'raw move\\_pages loop', \\
     '' using 3 title 'placement engine'
""")
    data.unlink()


#: The device holds placement (one page a second) until the host gives
#: it the budget: rig-outer.sh does, once the guest's touch is queued.
BENCH_CONFIG = rig.RigConfig(
    "bench", "numahint: first touch, free reports off, placement held "
    "until the host releases it", True,
    numahint="id=nh0,free-page-reporting=off,first-touch=on,"
    "touch-pages-per-sec=1")


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else None


def rig_bench(args) -> int:
    """The engine through the device against a raw loop, on the rig.

    In the inner guest, A touches --mib MiB on vCPU 1 and exits; then
    apps P1, P2, ... (--rounds) touch --mib MiB each on vCPU 0, vCPU 1,
    ... in turn, each reusing the memory the one before freed on the
    other node (tools/rig/rig-inner.sh, bench).  The device (first touch,
    no free page reports) queues their events with a budget of one page
    a second; once the round's app holds its memory and the guest is
    quiet (its frame list printed), the outer VM (the host) moves all
    the round's pages to the other node (rig-placement --move), so that
    the engine and the raw loop place the same set of misplaced pages,
    sets touch-pages-per-sec to its largest and waits until nothing is
    pending: the engine's rate is touch-pages-migrated over placement-ns,
    the time its steps took (queue handling, planning and system calls;
    the device's main-loop side is not in it).  The raw loop
    (rig-placement --move) moves the same guest pages' host pages to the
    other node and back, after the engine in odd rounds and before it in
    even ones (under nested TCG a move's speed depends on the moves before
    it), 256 a call, one address per host huge page: its
    rate is 4 KiB pages moved (a huge page counts 512) over the loop's
    wall time.  Each round's ratio is the engine's rate over the raw
    loop's into the same node; the table gives the medians.  Host THP
    never gives 4 KiB host pages, always THPs."""
    # Each round's app holds its memory this long after each mark: time
    # for the host's side of the round.
    args.hold = 15
    scenario = onrig.Scenario(
        "bench", "the device's placement against a raw move_pages loop",
        f"rig.rounds={args.rounds}")
    out = args.out_rig or args.out / "device"
    out.mkdir(parents=True, exist_ok=True)
    rows, lines_md = [], []
    for thp, label in (("never", "4k"), ("always", "thp")):
        if label not in args.pages:
            continue
        lines = onrig.run(BENCH_CONFIG, scenario, args, vm.default_qemu(),
                          thp, out / f"console-{label}.log")
        res = onrig.results(lines)
        engine_rates, raw_rates, ratios = [], [], []
        for r in range(1, args.rounds + 1):
            engine = next((x for x in res if x.get("phase") == "engine"
                           and x.get("round") == str(r)), None)
            placed = next((x for x in res if x.get("phase") == "placed"
                           and x.get("round") == str(r)), None)
            raws = [x for x in res if x.get("phase") == "raw"
                    and x.get("round") == str(r)]
            scatter = next((x for x in res if x.get("phase") == "scatter"
                            and x.get("round") == str(r)), {})
            if not engine or not placed or len(raws) != 2:
                print(f"placement-bench: {label} round {r}: not measured")
                continue
            ns = int(engine["placement_ns"])
            e_rate = int(engine["migrated"]) / (ns / 1e9) if ns else 0.0
            # The raw move that goes where the engine moved the pages.
            into = [x for x in raws if x.get("to") == placed["node"]]
            other = [x for x in raws if x.get("to") != placed["node"]]
            if len(into) != 1 or len(other) != 1:
                print(f"placement-bench: {label} round {r}: not measured")
                continue
            same, back = float(into[0]["pages_per_s"]), \
                float(other[0]["pages_per_s"])
            ratio = e_rate / same if same else 0.0
            engine_rates.append(e_rate)
            raw_rates.append(same)
            ratios.append(ratio)
            line = (f"{label} round {r}: {scatter.get('moved_4k', '?')} "
                    f"pages moved to node {scatter.get('to', '?')} first; "
                    f"engine {e_rate:.0f} pages/s "
                    f"({engine['migrated']} migrated, {engine['local']} "
                    f"local, {engine['failed']} busy, "
                    f"{engine['move_calls']} move calls, "
                    f"{ns / 1e6:.0f} ms, "
                    f"{int(engine.get('placement_cpu_ns', 0)) / 1e6:.0f} ms "
                    f"CPU, wall {engine['seconds']} s), raw "
                    f"{same:.0f} pages/s into node {placed['node']} "
                    f"({into[0]['moved_4k']} pages, "
                    f"{into[0]['host_pages']} host pages) and {back:.0f} "
                    f"out, {'engine first' if r % 2 else 'raw first'}, "
                    f"ratio {ratio:.2f}; placed: "
                    + " ".join(f"{k}={v}" for k, v in placed.items()
                               if k.startswith("node") and k != "node"))
            print(f"placement-bench: {line}", flush=True)
            lines_md.append(line)
        if ratios:
            rows.append([label, str(args.mib), str(len(ratios)),
                         f"{median(raw_rates):.0f}",
                         f"{median(engine_rates):.0f}",
                         f"{median(ratios):.2f}"])
    if not rows:
        print("placement-bench: no result")
        return 1
    header = ("| Host pages | MiB | Rounds | raw move_pages (4 KiB pages/s) "
              "| engine through the device (4 KiB pages/s) "
              "| engine / raw (median of rounds) |\n"
              "| --- | ---: | ---: | ---: | ---: | ---: |\n")
    table = header + "".join("| " + " | ".join(r) + " |\n" for r in rows)
    print(table)
    (out / "results.csv").write_text(
        "host_pages,mib,rounds,raw_pages_per_s,engine_pages_per_s,ratio\n"
        + "".join(",".join(r) + "\n" for r in rows))
    pages = "".join(f" --pages {p}" for p in args.pages) \
        if len(args.pages) == 1 else ""
    (out / "results.md").write_text(
        "# placement-bench through the device, on the rig\n\n"
        f"`experiments/placement-bench/run --rig --mib {args.mib} "
        f"--rounds {args.rounds}{pages}`, on the two-node rig (outer TCG VM, "
        f"Debian 6.1; host THP never: 4 KiB host pages; always: THPs), "
        f"{time.strftime('%Y-%m-%d')}.\n\n" + table +
        "\nRounds:\n\n```\n" + "\n".join(lines_md) + "\n```\n\n"
        "What is measured: `rig_bench()` in "
        "`tools/numahint/experiments/placement_bench.py`.\n")
    plot(rows, out / "results.png", "placement-bench on the rig: engine "
         "through the device vs raw move\\_pages (median)")
    print(f"placement-bench: results in {out}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="experiments/placement-bench/run", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--here", action="store_true",
                        help="run on this host (two NUMA nodes needed)")
    parser.add_argument("--rig", action="store_true",
                        help="the engine through the device, on the "
                        "two-node rig (one boot per host THP setting)")
    parser.add_argument("--pages", action="append", choices=("4k", "thp"),
                        help="with --rig: host pages to measure on "
                        "(repeatable; default both: 4k is host THP never, "
                        "thp always)")
    parser.add_argument("--out-rig", type=Path,
                        help="with --rig: results directory (default "
                        "OUT/device)")
    onrig.add_arguments(parser, mib=128, timeout=1800)
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" /
                        "placement-bench")
    args = parser.parse_args()

    if args.rig:
        args.pages = args.pages or ["4k", "thp"]
        return rig_bench(args)
    build()
    if args.here:
        out = subprocess.run([str(HERE / "placement_bench"), "-m",
                              str(args.mib), "-r", str(args.rounds)],
                             capture_output=True, text=True)
        sys.stderr.write(out.stderr)
        text = out.stdout
    else:
        text = in_vm(args)
    print(text)
    rows = [line.split(",")[1:] for line in text.splitlines()
            if line.startswith("csv,")]
    if not rows:
        print("placement-bench: no result")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    table = [line for line in text.splitlines() if line.startswith("|")]
    (args.out / "results.csv").write_text(
        "host_pages,mib,rounds,raw_pages_per_s,engine_pages_per_s,ratio\n"
        + "".join(",".join(r) + "\n" for r in rows))
    where = ("this host" if args.here else
             "a TCG VM with two NUMA nodes (Debian 6.1, THP `always`)")
    (args.out / "results.md").write_text(
        "# placement-bench\n\n"
        f"`experiments/placement-bench/run --mib {args.mib} --rounds "
        f"{args.rounds}{' --here' if args.here else ''}`, on {where}, "
        f"{time.strftime('%Y-%m-%d')}.\n\n" + "\n".join(table) + "\n\n"
        "Rounds:\n\n```\n" + "\n".join(
            line for line in text.splitlines()
            if "round" in line) + "\n```\n")
    plot(rows, args.out / "results.png")
    print(f"placement-bench: results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
