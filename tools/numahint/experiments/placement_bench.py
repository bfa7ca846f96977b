# SPDX-License-Identifier: GPL-2.0
"""Run placement-bench on a host with two NUMA nodes, or in a VM that has.

    experiments/placement-bench/run [--mib 128] [--rounds 5]
                                    [--out experiments/results/placement-bench]

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
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..vm.paths import REPO_ROOT as REPO
from ..vm.scenario import ScriptGuest

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


def plot(rows, png: Path):
    if not shutil.which("gnuplot"):
        print("placement-bench: gnuplot not installed, no plot "
              "(apt-get install gnuplot-nox)")
        return
    data = png.with_suffix(".dat")
    data.write_text("".join(f"{r[0]} {r[3]} {r[4]}\n" for r in rows))
    subprocess.run(["gnuplot"], check=True, text=True, input=f"""
set terminal pngcairo size 800,480
set output '{png}'
set title 'placement-bench: 4 KiB pages moved per second (median)'
set style data histograms
set style fill solid 0.8 border -1
set ylabel '4 KiB pages/s'
set yrange [0:*]
set key top left
plot '{data}' using 2:xtic(1) title 'raw move\\_pages loop', \\
     '' using 3 title 'placement engine'
""")
    data.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(prog="experiments/placement-bench/run", description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--here", action="store_true",
                        help="run on this host (two NUMA nodes needed)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" /
                        "placement-bench")
    args = parser.parse_args()

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
