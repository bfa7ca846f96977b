# SPDX-License-Identifier: GPL-2.0
"""time-to-locality: from a page's allocation in the guest to being local on the host.

    experiments/time-to-locality/run [--kernel 6.1] [--flush-ms MS]...
                                     [--ram anon|memfd]... [--seconds 10]
                                     [--rate 4] [--rounds 8]
                                     [--no-overhead] [--out DIR]

For each touch-flush-ms (default 10, 25, 50, 100 and 250 ms) and each kind
of guest RAM, boots one TCG guest with the device, first touch on, and
runs selftests/numahint/numahint_churn -r in it: one worker per vCPU
(2 vCPUs), each writing 4 KiB pages of anonymous memory at --rate MiB a
second, 64 KiB at a time, and unmapping every 4 MiB, for --seconds: an
application whose memory grows steadily.  Then it reads the two
histograms of a page's time to locality, both in pages and with the same
buckets (at most 10, 50, 100, 200, 500 ms, 1 s, 5 s, later):

- the guest's part, the driver's touch_sent_* (sysfs): from the page's
  allocation to the request carrying it handed to the device, an upper
  bound per page (the time since the first event its CPU's buffer took
  after it was last empty: see docs/ABI/testing/sysfs-driver-virtio-numahint);
- the host's part, the device's touch-placed-* (qom-get nh0 stats, once
  nothing is pending): from the page's oldest event reaching the device
  to the page found on its node or moved there.

Each part's p50 and p99 is the upper edge of the bucket where the
cumulative count reaches 50% and 99% of its pages.  The two are measured
on two clocks (the guest's and the host's), per page but not of the same
page, so their sum is bounded, not measured: the total's pXX is the least
g + h, over bucket upper edges g and h, such that the guest's pages
beyond g and the host's beyond h are together at most (100 - XX)% of
each's pages (P(G + H > g + h) <= P(G > g) + P(H > h), whatever ties the
two parts).  The table also shows the estimate that assumes the two parts
independent (the two histograms convolved, at their upper edges).
Neither includes the time between the guest's notification and the
device taking the request off the queue (QEMU's main loop).

--ram anon (default) is QEMU's anonymous guest RAM, which QEMU asks to be
backed by transparent huge pages: the engine decides per 2 MiB host
page, and a page without a majority of events waits for its settle time
(two flushes, at least 200 ms).  --ram memfd (memory-backend-memfd,
share=on; shmem without huge pages here) gives 4 KiB host pages, decided
at the next placement step.  Either way the host has one node: every
page is local already and nothing is copied, so the host's part is the
placement decision; on the two-node rig the same counters include the
moves.

Unless --no-overhead, for each flush value a second boot measures the
guest's cost as experiments/fault-overhead does, with its code: one vCPU,
numahint_fault_bench with the hook off and on in turn, -icount so that
the ratio is that of guest instructions per fault, hook on over off
(1.0 is free).  It cannot share the first boot: under -icount the
guest's clock counts instructions, and its waits could not be compared
with the host's.  A shorter flush costs the guest more drains (one work
item, and one cross-call per CPU with events, per drain).

Prints a markdown table and writes it, a CSV (every bucket of both
histograms per run) and a PNG plot to --out (default
experiments/results/time-to-locality/).
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
from .fault_overhead import measure as measure_overhead
from .plot import gnuplot


# The buckets of touch_sent_* and touch-placed-*, and their upper edges.
BUCKETS = ("10ms", "50ms", "100ms", "150ms", "200ms", "500ms", "1s", "5s",
           "later")
EDGES_MS = (10, 50, 100, 150, 200, 500, 1000, 5000, float("inf"))
FLUSH_MS = (10, 25, 50, 100, 250)
DEFAULT_FLUSH_MS = 100
TARGET_P99_MS = 150
RAM = {
    "anon": ((), "anonymous, host THP (2 MiB host pages)"),
    "memfd": (("-object", "memory-backend-memfd,id=ram0,size=1G,share=on",
               "-machine", "memory-backend=ram0"),
              "memfd, shmem without THP (4 KiB host pages)"),
}
GUEST_LINE = re.compile(r"^TTL (\w+) (\d+)\s*$", re.M)
VCPUS = 2


def quantile(hist, q, lower=False):
    """The upper edge of the bucket where hist's pages reach fraction q
    (with lower, the bucket's lower edge)."""
    total = sum(hist)
    if not total:
        return None
    seen = 0
    for i, (count, edge) in enumerate(zip(hist, EDGES_MS)):
        seen += count
        if seen >= q * total:
            return (EDGES_MS[i - 1] if i else 0) if lower else edge
    return EDGES_MS[-1]


def tails(hist):
    """(edge, fraction of the pages beyond it) for every bucket's edge."""
    total, seen, out = sum(hist), 0, []
    for count, edge in zip(hist, EDGES_MS):
        seen += count
        out.append((edge, 1 - seen / total))
    return out


def sum_bound(guest, host, q):
    """An upper bound of the q-quantile of guest + host part, whatever
    ties them: the least g + h with P(G > g) + P(H > h) <= 1 - q."""
    if not sum(guest) or not sum(host):
        return None
    return min(g + h for g, tg in tails(guest) for h, th in tails(host)
               if tg + th <= 1 - q + 1e-12)


def sum_independent(guest, host, q):
    """The q-quantile of guest + host part if the two were independent,
    each page at its bucket's upper edge."""
    gt, ht = sum(guest), sum(host)
    if not gt or not ht:
        return None
    dist = {}
    for g, gc in zip(EDGES_MS, guest):
        for h, hc in zip(EDGES_MS, host):
            dist[g + h] = dist.get(g + h, 0) + gc / gt * hc / ht
    seen = 0
    for value in sorted(dist):
        seen += dist[value]
        if seen >= q - 1e-12:
            return value
    return EDGES_MS[-1]


def ms(value):
    if value is None:
        return "-"
    return "> 5 s" if value == float("inf") else f"{value:g}"


def measure_latency(kernel, flush_ms, ram, seconds, rate):
    """One boot: the guest's and the host's histograms, and counters."""
    settle = 2 * flush_ms / 1000 + 1
    script = (f"/tests/numahint_churn -m 4 -k 1 -n 0 -r {rate} "
              f"-t {seconds}\n"
              # The last events go out within a flush.
              f"sleep {settle:.2f}\n"
              "for f in /sys/bus/virtio/devices/virtio*/numahint/touch_*; do\n"
              "\techo \"TTL ${f##*/} $(cat $f)\"\n"
              "done\n"
              "echo TTL-DONE\n")
    extra = RAM[ram][0]
    with ScriptGuest(script, kernel=kernel, smp=VCPUS,
                     device=f"first-touch=on,touch-flush-ms={flush_ms}",
                     extra_args=extra, timeout=300 + 10 * seconds) as run:
        if run.guest.wait_for_report() is None:
            raise RuntimeError(f"{kernel}: the guest did not finish")
        deadline = time.monotonic() + 60
        while True:
            stats = run.stats()
            if not stats["touch-pages-pending"] or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
    guest = {name: int(value)
             for name, value in GUEST_LINE.findall(run.console)}
    if "touch_sent_later" not in guest:
        raise RuntimeError(f"{kernel}: no touch_sent_* in the console:\n"
                           + run.console[-3000:])
    churn = re.search(r"# churn: .*", run.console)
    return {
        "guest": [guest[f"touch_sent_{b}"] for b in BUCKETS],
        "host": [stats[f"touch-placed-{b}"] for b in BUCKETS],
        # The longest wait of each part (ms): their sum bounds every
        # page's total, not only a quantile's.
        "guest_max": guest["touch_sent_max_ms"],
        "host_max": stats["touch-placed-max-ms"],
        "touch_pages": guest["touch_pages"],
        "touch_requests": guest["touch_requests"],
        "touch_dropped": guest["touch_dropped"],
        "touch_unsent": guest["touch_unsent"],
        "host_pending": stats["touch-pages-pending"],
        "host_local": stats["touch-pages-local"],
        "host_migrated": stats["touch-pages-migrated"],
        "host_absent": stats["touch-pages-absent"],
        "host_dropped": stats["touch-dropped"],
        "churn": churn.group(0) if churn else "",
    }


def summarize(run):
    g, h = run["guest"], run["host"]
    out = {}
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        out[f"guest_{name}"] = quantile(g, q)
        out[f"host_{name}"] = quantile(h, q)
        out[f"total_{name}"] = sum_bound(g, h, q)
        out[f"indep_{name}"] = sum_independent(g, h, q)
    # The host's part is measured, not bounded, and every page's total
    # is at least its host part: the host's pXX bucket starts below it.
    out["total_p99_above"] = quantile(h, 0.99, lower=True)
    out["total_max"] = run["guest_max"] + run["host_max"]
    return out


def verdict(row):
    """Whether the goal p99 <= TARGET_P99_MS is met, missed, or not
    decided at the buckets' resolution."""
    if row["total_p99"] is not None and row["total_p99"] <= TARGET_P99_MS:
        return f"met (p99 <= {ms(row['total_p99'])} ms)"
    # Every page's total is at most the two parts' maxima together.
    if row.get("total_max") is not None and \
            row["total_max"] <= TARGET_P99_MS:
        return f"met (every page <= {row['total_max']} ms)"
    if row["total_p99_above"] is not None and \
            row["total_p99_above"] >= TARGET_P99_MS:
        return (f"missed (p99 > {ms(row['total_p99_above'])} ms, the "
                "host's part alone)")
    above = row["total_p99_above"]
    return (f"not decided (p99 <= {ms(row['total_p99'])} ms"
            + (f", > {ms(above)} ms" if above else "") + ")")


def plot(rows, png):
    data = png.with_suffix(".dat")
    rams = list(dict.fromkeys(r["ram"] for r in rows))

    def num(v):
        return "NaN" if v is None or v == float("inf") else f"{v:g}"

    blocks = []
    for ram in rams:
        blocks.append(f"# {ram}\n" + "".join(
            f"{r['flush_ms']} {num(r['guest_p99'])} {num(r['host_p99'])} "
            f"{num(r['total_p99'])} {num(r['guest_p50'])} "
            f"{num(r['total_p50'])} "
            f"{num(100 * (1 - r['overhead']) if r.get('overhead') else None)}"
            "\n" for r in rows if r["ram"] == ram))
    data.write_text("\n\n".join(blocks))
    lines = [f"'{data}' index 0 using 1:2 with linespoints dashtype 2 "
             "title 'guest p99'"]
    for i, ram in enumerate(rams):
        lines += [f"'{data}' index {i} using 1:4 with linespoints lw 2 "
                  f"title 'total p99 (bound), {ram}'",
                  f"'{data}' index {i} using 1:3 with linespoints "
                  f"title 'host p99, {ram}'"]
    has_cost = any(r.get("overhead") for r in rows)
    cost = f"""set title 'Guest cost: page faults, hook on vs off (1 vCPU, -icount)'
set ylabel 'more instructions per fault (%)'
unset logscale y
set yrange [0:*]
plot '{data}' index 0 using 1:7 with linespoints title 'hook cost'"""
    tics = ", ".join(f"'{f}' {f}" for f in sorted({r["flush_ms"]
                                                    for r in rows}))
    gnuplot("time-to-locality", f"""
set terminal pngcairo size 900,800
set output '{png}'
set multiplot layout {2 if has_cost else 1},1
set title 'Time to locality per page (p99, bucket upper edges), one-node TCG host'
set xlabel 'touch-flush-ms'
set ylabel 'ms'
set logscale xy
set xrange [7:350]
set xtics ({tics})
set key below
plot {", ".join(lines)}, {TARGET_P99_MS} with lines dashtype 3 lc rgb 'gray' title 'goal {TARGET_P99_MS} ms'
{cost if has_cost else ""}
unset multiplot
""")
    data.unlink()


def main():
    parser = argparse.ArgumentParser(
        prog="experiments/time-to-locality/run",
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--kernel", default="6.1", choices=("6.1", "6.12"))
    parser.add_argument("--flush-ms", action="append", type=int,
                        help="touch-flush-ms values (default "
                        f"{', '.join(map(str, FLUSH_MS))})")
    parser.add_argument("--ram", action="append", choices=tuple(RAM),
                        help="guest RAM (default: anon and memfd)")
    parser.add_argument("--seconds", type=int, default=10,
                        help="how long the workload allocates")
    parser.add_argument("--rate", type=float, default=4,
                        help="MiB a second each of the 2 workers writes")
    parser.add_argument("--rounds", type=int, default=8,
                        help="rounds of the overhead boot")
    parser.add_argument("--no-overhead", action="store_true",
                        help="skip the overhead boots")
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" /
                        "time-to-locality")
    args = parser.parse_args()
    flushes = args.flush_ms or list(FLUSH_MS)
    rams = args.ram or list(RAM)
    subprocess.run(["make", "-s", "-C", str(REPO / "selftests" / "numahint"),
                    "numahint_churn", "numahint_fault_bench"], check=True)
    args.out.mkdir(parents=True, exist_ok=True)

    overhead = {}
    rows = []
    boots = len(flushes) * (len(rams) + (0 if args.no_overhead else 1))
    done = 0
    for flush in flushes:
        for ram in rams:
            done += 1
            start = time.monotonic()
            print(f"time-to-locality: [{done}/{boots}] touch-flush-ms "
                  f"{flush}, {ram} RAM ...", flush=True)
            run = measure_latency(args.kernel, flush, ram, args.seconds,
                                  args.rate)
            rows.append({"flush_ms": flush, "ram": ram, **run,
                         **summarize(run)})
            r = rows[-1]
            print(f"time-to-locality: guest p50/p99 {ms(r['guest_p50'])}/"
                  f"{ms(r['guest_p99'])} ms, host {ms(r['host_p50'])}/"
                  f"{ms(r['host_p99'])} ms, total <= {ms(r['total_p50'])}/"
                  f"{ms(r['total_p99'])} ms in "
                  f"{time.monotonic() - start:.0f} s", flush=True)
        if not args.no_overhead:
            done += 1
            start = time.monotonic()
            print(f"time-to-locality: [{done}/{boots}] touch-flush-ms "
                  f"{flush}: fault overhead, {args.rounds} rounds ...",
                  flush=True)
            rounds, stats = measure_overhead(
                args.kernel, 1, args.rounds, 0.5, 64, True, False,
                device=f"first-touch=on,touch-flush-ms={flush}")
            ratios = [r[3] / r[1] for r in rounds]
            # Requests go out while the hook is on: half of the phases.
            overhead[flush] = (statistics.median(ratios), min(ratios),
                               max(ratios),
                               stats.get("touch-requests", 0) /
                               (args.rounds * 0.5))
            print(f"time-to-locality: median ratio {overhead[flush][0]:.4f} "
                  f"in {time.monotonic() - start:.0f} s", flush=True)
    for r in rows:
        if r["flush_ms"] in overhead:
            (r["overhead"], r["overhead_min"], r["overhead_max"],
             r["overhead_requests_per_s"]) = overhead[r["flush_ms"]]

    table = ["| Guest RAM | touch-flush-ms | Guest p50 / p99 (ms) | Host p50 "
             "/ p99 (ms) | Total p50 / p99, bound (ms) | Total p50 / p99, "
             "if independent (ms) | Longest: guest + host = total (ms) | "
             "Pages sent / placed | Requests a second | Hook cost (1 vCPU) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: |"]
    for r in rows:
        cost = (f"{100 * (1 - r['overhead']):.2f}% "
                f"({r['overhead_min']:.4f}–{r['overhead_max']:.4f})"
                if "overhead" in r else "-")
        table.append(
            f"| {r['ram']} | {r['flush_ms']} | {ms(r['guest_p50'])} / "
            f"{ms(r['guest_p99'])} | {ms(r['host_p50'])} / "
            f"{ms(r['host_p99'])} | {ms(r['total_p50'])} / "
            f"**{ms(r['total_p99'])}** | {ms(r['indep_p50'])} / "
            f"{ms(r['indep_p99'])} | {r['guest_max']} + {r['host_max']} = "
            f"{r['total_max']} | {sum(r['guest'])} / {sum(r['host'])} | "
            f"{r['touch_requests'] / args.seconds:.0f} | {cost} |")
    trade = ["| touch-flush-ms | Guest part p50 / p99, bound (ms) | "
             + " | ".join(f"Goal p99 <= {TARGET_P99_MS} ms, {m} RAM"
                          for m in rams)
             + " | Requests a second, workload | Hook cost, 1 vCPU "
             "(requests a second) |",
             "| ---: | ---: | " + "---: | " * len(rams) + "---: | ---: |"]
    for flush in flushes:
        runs = {r["ram"]: r for r in rows if r["flush_ms"] == flush}
        first = runs[rams[0]]
        trade.append(
            f"| {flush} | {ms(first['guest_p50'])} / {ms(first['guest_p99'])}"
            " | " + " | ".join(verdict(runs[m]) for m in rams) + " | "
            + f"{first['touch_requests'] / args.seconds:.0f} | "
            + (f"{100 * (1 - first['overhead']):.2f}% "
               f"({first['overhead_requests_per_s']:.0f})"
               if "overhead" in first else "-") + " |")
    default = [r for r in rows if r["flush_ms"] == DEFAULT_FLUSH_MS]
    verdicts = "; ".join(f"{r['ram']} RAM: {verdict(r)}" for r in default)
    text = ("\n".join(trade) + "\n\n" + "\n".join(table) + "\n\n"
            + (f"At the default touch-flush-ms ({DEFAULT_FLUSH_MS}), goal p99 "
               f"<= {TARGET_P99_MS} ms: {verdicts}.\n\n" if default else "")
            + f"Command: `experiments/time-to-locality/run --kernel {args.kernel}"
            + "".join(f" --flush-ms {f}" for f in flushes)
            + "".join(f" --ram {m}" for m in rams)
            + f" --seconds {args.seconds} --rate {args.rate:g}"
            + (" --no-overhead" if args.no_overhead else
               f" --rounds {args.rounds}")
            + f"` (TCG guest {args.kernel}, {VCPUS} vCPUs, 1 GiB, "
            f"numahint_churn -r {args.rate:g} on each vCPU for "
            f"{args.seconds} s; percentiles are bucket upper edges; hook cost: "
            "numahint_fault_bench, 1 vCPU, -icount, 0.5 s phases, median "
            "round and the rounds' range of the ratio on/off; the host has "
            "2 cores and one NUMA node).\n")
    (args.out / "table.md").write_text(text)
    with open(args.out / "results.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["kernel", "ram", "flush_ms"]
                     + [f"guest_{b}" for b in BUCKETS]
                     + [f"host_{b}" for b in BUCKETS]
                     + ["guest_p50", "guest_p99", "host_p50", "host_p99",
                        "total_p50_bound", "total_p99_bound",
                        "total_p50_indep", "total_p99_indep",
                        "guest_max_ms", "host_max_ms",
                        "touch_pages", "touch_requests", "touch_dropped",
                        "touch_unsent", "host_local", "host_migrated",
                        "host_absent", "host_pending", "host_dropped",
                        "overhead_median_ratio", "overhead_min",
                        "overhead_max", "overhead_requests_per_s"])
        for r in rows:
            out.writerow([args.kernel, r["ram"], r["flush_ms"], *r["guest"],
                          *r["host"], ms(r["guest_p50"]), ms(r["guest_p99"]),
                          ms(r["host_p50"]), ms(r["host_p99"]),
                          ms(r["total_p50"]), ms(r["total_p99"]),
                          ms(r["indep_p50"]), ms(r["indep_p99"]),
                          r["guest_max"], r["host_max"],
                          r["touch_pages"], r["touch_requests"],
                          r["touch_dropped"], r["touch_unsent"],
                          r["host_local"], r["host_migrated"],
                          r["host_absent"], r["host_pending"],
                          r["host_dropped"],
                          *(f"{r[k]:.4f}" if k in r else ""
                            for k in ("overhead", "overhead_min",
                                      "overhead_max",
                                      "overhead_requests_per_s"))])
    plot(rows, args.out / "plot.png")
    print()
    print(text)
    for r in rows:
        print(f"# {r['ram']} {r['flush_ms']} ms: guest {r['guest']}, "
              f"host {r['host']}; {r['churn']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
