# SPDX-License-Identifier: GPL-2.0
"""report-order: what the free page report order trades, measured.

    experiments/report-order [--orders 1,3,5,7,9,10] [--bytes 1G]
                             [--kernel 6.1] [--out DIR]

For each order, boots a fresh 1 GiB guest with virtio_numahint.report_order
set to it, runs the guest stress program (--bytes of allocate, write,
verify and free cycles over anonymous memory, THP and page cache), lets
the reports settle, and measures on the host:

  - resident guest RAM at the end (QEMU's pagemap over the RAM block):
    lower means more of the memory the guest freed went back to the host;
  - bytes discarded, reports and ranges (the device's counters): the
    host's work;
  - host THP splits during the run (thp_split_pmd in /proc/vmstat): a
    discard smaller than 2 MiB inside a host huge page splits it;
  - the stress program's mismatches, which must be 0.

Prints a markdown table, writes it with a CSV and a PNG plot to --out
(default experiments/results/report-order/).  Timings under TCG mean
nothing; the counts and sizes do.
"""

import argparse
import csv
import re
import sys
import time
from pathlib import Path

from ..vm.hostmem import resident_bytes
from ..vm.paths import REPO_ROOT as REPO
from ..vm.scenario import ScriptGuest
from .plot import gnuplot


MiB = 1 << 20
FIELDS = ("order", "resident_mib", "discarded_mib", "reports", "ranges",
          "mean_range_kib", "thp_splits", "mismatches")


def vmstat(name):
    text = Path("/proc/vmstat").read_text()
    return int(re.search(rf"^{name} (\d+)$", text, re.MULTILINE).group(1))


def size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].isalpha() \
        else int(text)


def measure(order, nbytes, kernel):
    script = f"exec /tests/numahint_stress -b {nbytes}\n"
    splits0 = vmstat("thp_split_pmd")
    with ScriptGuest(script, kernel=kernel, memory="1G", timeout=900,
                     append=f"virtio_numahint.report_order={order}") as run:
        block = run.ram_block()
        if run.guest.wait_for_report() is None:
            raise RuntimeError(f"order {order}: the guest did not finish")
        stats = run.settled_stats(quiet=3.0)
        resident = resident_bytes(run.guest.pid, block.host, block.used)
    splits = vmstat("thp_split_pmd") - splits0
    mismatch = re.search(r"# mismatches: (\d+)", run.console)
    ranges = stats["report-ranges"]
    return {
        "order": order,
        "resident_mib": resident // MiB,
        "discarded_mib": stats["report-bytes-discarded"] // MiB,
        "reports": stats["report-requests"],
        "ranges": ranges,
        "mean_range_kib": (stats["report-bytes-discarded"] // ranges // 1024
                           if ranges else 0),
        "thp_splits": splits,
        "mismatches": int(mismatch.group(1)) if mismatch else -1,
    }


def plot(rows, png):
    data = png.with_suffix(".dat")
    data.write_text("".join(f"{r['order']} {r['resident_mib']} "
                            f"{r['ranges']} {r['thp_splits']}\n"
                            for r in rows))
    gnuplot("report-order", f"""
set terminal pngcairo size 900,500
set output '{png}'
set title 'Free page report order: memory returned vs host work'
set xlabel 'report order (log2 of 4 KiB pages)'
set ylabel 'guest RAM resident on the host at the end (MiB)'
set y2label 'ranges reported / host THP splits'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key below
plot '{data}' using 1:2 with linespoints axes x1y1 title 'resident MiB', \\
     '{data}' using 1:3 with linespoints axes x1y2 title 'ranges', \\
     '{data}' using 1:4 with linespoints axes x1y2 title 'THP splits'
""", text=True)
    data.unlink()


def main():
    parser = argparse.ArgumentParser(
        prog="experiments/report-order",
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--orders", default="1,3,5,7,9,10")
    parser.add_argument("--bytes", default="1G")
    parser.add_argument("--kernel", default="6.1", choices=("6.1", "6.12"))
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" /
                        "report-order")
    args = parser.parse_args()
    orders = [int(o) for o in args.orders.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)

    rows = []
    for i, order in enumerate(orders, 1):
        start = time.monotonic()
        print(f"report-order: [{i}/{len(orders)}] order {order} ...",
              flush=True)
        rows.append(measure(order, size(args.bytes), args.kernel))
        print(f"report-order: [{i}/{len(orders)}] order {order}: "
              f"{rows[-1]} ({time.monotonic() - start:.0f} s)", flush=True)

    header = "| " + " | ".join(FIELDS) + " |"
    table = [header, "|" + "---|" * len(FIELDS)]
    table += ["| " + " | ".join(str(r[f]) for f in FIELDS) + " |"
              for r in rows]
    print("\n".join(table))
    (args.out / "table.md").write_text(
        f"Command: experiments/report-order --orders {args.orders} "
        f"--bytes {args.bytes} --kernel {args.kernel}\n\n" +
        "\n".join(table) + "\n")
    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out / "plot.png")
    print(f"report-order: wrote {args.out}/table.md, results.csv, plot.png")
    return 1 if any(r["mismatches"] != 0 for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
