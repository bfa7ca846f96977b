# SPDX-License-Identifier: GPL-2.0-or-later
"""rerun: the warm-VM rerun experiment, every alternative side by side.

    experiments/rerun [-c CONFIG]... [--workload CMD] [--runs K]
                      [--out DIR] [-v]

Boots one guest per configuration (a warm VM) and runs a workload --runs
times in it, on the vCPUs of host node 1 first, then of node 0, then 1
again...: the published penalty is that of a rerun in a warm VM whose
memory the previous run placed.  Configurations:

  none      virtio-numahint-pci present, driver not loaded (device idle)
  balloon   virtio-balloon-pci with free-page-reporting=on
  autonuma  device idle, the host's automatic NUMA balancing on
  numahint  virtio-numahint-pci with the driver (free reports and first
            touch)

For every run it records the wall time and its ratio to the first (cold)
run; locality, the share of the workload's pages on its vCPUs' host node:
its working set (the guest frames behind its private writable mappings,
from /proc/PID/pagemap) is sampled at 1, 2, 4, 8... s of the run, when
the project's workloads say their data is set up, and when the program
exits (ptrace's exit stop, before the kernel takes its memory), and
locality is given on the largest sample, with the pages it stands on and
their share of the run's page faults (below 90%: "partial sample"), and
over the run's time; the guest's page faults (the workload's) and the
host's (QEMU's, over the run), and their ratio: in a cold VM every guest
fault also faults in the host, in a warm one the host mapping is already
there; QEMU's host CPU time; and the pages the device discarded and
migrated.

Modes (--mode; default auto: host where this machine has two NUMA nodes
with CPUs and KVM works, else rig):
  rig   the two-node rig (tools/numahint-rig: an outer TCG VM with two
        emulated nodes plays the host).  Placement on the rig is real; its
        timings are not (nested TCG, ~50 times slower than the host, and
        noisy): read the wall-time columns as "the run finished", not as
        a measurement.
  host  this machine is the host: the patched QEMU runs the guest here,
        under KVM (--accel), its vCPU threads pinned to the CPUs of two
        host nodes (--nodes), and the host side of the rig
        (tools/rig/rig-outer.sh) measures placement here.  Timings are
        real under KVM.

Workloads: the project's own kernels in experiments/workloads/ (nh-triad,
nh-spmv, nh-gups, static; nh-triad-dyn... dynamically linked; default
"nh-triad -m 64 -i 20"), or any program given as a path, static or
dynamically linked (its libraries and loader, as ldd names them, go into
the guest with it), e.g. NAS Parallel Benchmarks built from NASA's
sources (docs/rerun.md).  OpenMP runs get OMP_NUM_THREADS, OMP_PLACES and
OMP_PROC_BIND=close from the vCPUs of the run's node; with --span, every
run uses every vCPU, its threads on both nodes, and locality is given per
thread (each page on the node of the thread that first touched it).  The inner guest runs without transparent huge pages, so
that guest and host faults count the same 4 KiB pages.

Outputs (default experiments/results/rerun/): results.csv (one row per
run), samples.csv (one row per working-set sample), results.md (the
tables) and results.png (locality and host-fault share per run, locality
over each run's time); the console logs go to .cache/rerun/ (--logs).
The device's counters are read as numahint-stat reads them (numahint.stat),
and each console log holds the host side's NUMAHINT-STAT snapshots of the
VM: `tools/numahint-stat --replay LOG [--plot FILE]` shows its guest RAM
per host node and the device's rates over the whole boot.  Progress
shows while it runs.  Ctrl-C, a workload that
fails or a guest that panics stop it with a message and exit status 1;
what was measured is kept, marked PARTIAL.
"""

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import rig, stat, vm
from ..vm.accel import ACCELS
from ..vm.paths import REPO_ROOT as REPO
from .plot import gnuplot

WORKLOADS = REPO / "experiments" / "workloads"


#: One configuration: the rig's, autonuma included.
Config = rig.RigConfig


CONFIGS = (
    Config("none", "device present, driver not loaded", False,
           numahint="id=nh0"),
    Config("balloon", "virtio-balloon free page reporting", False,
           balloon="free-page-reporting=on"),
    Config("autonuma", "host automatic NUMA balancing, device idle", False,
           numahint="id=nh0", autonuma=True),
    Config("numahint", "numahint: free page reports and first touch", True,
           numahint="id=nh0,first-touch=on"),
)


@dataclass(frozen=True)
class Experiment:
    """What the inner guest runs (the rig's "variant")."""

    name: str
    workload: tuple[str, ...]
    runs: int
    sample: float

    exit_hold: float = 2.0
    span: bool = False

    def append(self, args) -> str:
        return (f"rig.workload={','.join(self.workload)} "
                f"rig.runs={self.runs} rig.sample={self.sample:g} "
                f"rig.exithold={self.exit_hold:g} rig.span={int(self.span)}")


_RESULT = re.compile(r"RIG-RESULT (.*)")
_KV = re.compile(r"([\w-]+)=(\S+)")

#: A run's locality stands on a sample of at least this share of its page
#: faults, or the run is marked "partial sample".
COVERAGE_MIN = 0.90


@dataclass
class Sample:
    """One working-set sample of a run (rig-run): kind is ready, periodic
    or exit (or sample, in logs from before the kinds); at: seconds into
    the run; pages: guest frames; faults: the workload's page faults up
    to then; unseen: pages move_pages(2) could not see; local: share of
    the seen ones on the run's node."""

    kind: str
    at: float | None
    pages: int
    faults: int | None
    unseen: int
    local: float | None
    #: With --span: the sample's pages split by the thread that allocated
    #: each (rig-run --per-thread).
    threads: list["Thread"] = field(default_factory=list)


@dataclass
class Thread:
    """The pages of a sample that one thread allocated (first touched):
    tid 0 for pages no traced allocation names; cpu: the vCPU it
    allocated most of them on, node: that vCPU's node (-1: unknown);
    local_pages: those on that node's host node."""

    tid: int
    cpu: int
    node: int
    pages: int
    unseen: int
    local_pages: int

    @property
    def local(self) -> float | None:
        seen = self.pages - self.unseen
        return self.local_pages / seen if seen > 0 and self.node >= 0 \
            else None


@dataclass
class Run:
    config: Config
    run: int
    node: int | None = None
    wall: float | None = None
    exit: int | None = None
    signal: int = 0
    pages: int | None = None
    unseen: int | None = None
    local: float | None = None
    sample: Sample | None = None
    samples: list[Sample] = field(default_factory=list)
    guest_minflt: int | None = None
    guest_majflt: int | None = None
    host_minflt: int | None = None
    host_cpu_s: float | None = None
    discarded_mib: float | None = None
    migrated: int | None = None
    workload: dict = field(default_factory=dict)

    @property
    def guest_faults(self) -> int | None:
        if self.guest_minflt is None:
            return None
        return self.guest_minflt + (self.guest_majflt or 0)

    @property
    def coverage(self) -> float | None:
        """The share of the run's page faults that its locality figure's
        sample holds."""
        if self.pages is None or not self.guest_faults:
            return None
        return self.pages / self.guest_faults

    @property
    def partial_sample(self) -> bool:
        """Locality stands on less than COVERAGE_MIN of the run's faults
        (or on no sample at all) for a run that did finish."""
        if self.exit is None:
            return False
        return self.coverage is None or self.coverage < COVERAGE_MIN

    def choose_sample(self) -> None:
        """Locality of the run: on its largest sample (the last of equal
        ones): the exit sample for a program that holds its memory to the
        end, the ready one for the project's workloads, which unmap their
        arrays before they exit.  A run on both nodes (--span): on its
        largest sample split by thread, each page local if on the node of
        the thread that allocated it."""
        for x in self.samples:
            if x.threads:
                local = sum(t.local_pages for t in x.threads if t.node >= 0)
                seen = sum(t.pages - t.unseen for t in x.threads
                           if t.node >= 0)
                x.local = local / seen if seen else None
        split = [x for x in self.samples if x.threads]
        candidates = split if self.node is None and split else self.samples
        if not candidates:
            return
        best = max(reversed(candidates), key=lambda s: s.pages)
        self.sample = best
        self.pages, self.unseen, self.local = (best.pages, best.unseen,
                                               best.local)

    @property
    def host_share(self) -> float | None:
        if not self.guest_minflt or self.host_minflt is None:
            return None
        return self.host_minflt / self.guest_minflt


@dataclass
class Boot:
    config: Config
    runs: list[Run] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def parse(boot: Boot, lines: list[str],
          host_nodes: tuple[int, int] = (0, 1)) -> None:
    """Fill in a Boot's runs from the host side's output (the outer
    console on the rig); host_nodes: the host nodes that play node 0 and
    node 1."""
    runs: dict[int, Run] = {}
    begin: dict[int, dict] = {}
    stats_begin: dict[int, dict] = {}
    current = None
    for line in lines:
        # The host side says which host nodes play 0 and 1 (--from-logs
        # of a host-mode run needs it).
        nodes = re.search(r"RIG-OUTER nodes=\d+ as-node0=(\d+) "
                          r"as-node1=(\d+)", line)
        if nodes:
            host_nodes = (int(nodes.group(1)), int(nodes.group(2)))
            continue
        match = _RESULT.search(line)
        if "RIG-STATS phase=" in line:
            # The counters are the JSON object at the end; the fields
            # before it can hold braces (omp_places={0},{1}).
            at = max(line.find(' {"'), line.find(" {}"))
            fields = dict(_KV.findall(line[:at]))
            try:
                stats = json.loads(line[at + 1:]) if at >= 0 else None
                if not isinstance(stats, dict):
                    raise ValueError("no counters")
            except ValueError:
                boot.failures.append(f"bad device counters: {line}")
                continue
            number = int(fields.get("run", 0))
            if fields.get("phase") == "begin":
                stats_begin[number] = stats
            elif number in runs and number in stats_begin:
                # Read as numahint-stat reads the device's counters.
                before, r = stats_begin[number], runs[number]
                r.discarded_mib = stat.delta(before, stats, "discarded-mib")
                r.migrated = stat.delta(before, stats, "pages-moved")
            continue
        if not match:
            # A workload's failure is told from its RUN-RESULT instead.
            if "RIG-FAIL " in line or ("RIG-ERROR " in line and
                                       "the workload exited" not in line):
                boot.failures.append(line.split("RIG-", 1)[1])
            continue
        text = match.group(1)
        fields = dict(_KV.findall(text))
        if fields.get("phase") == "begin":
            current = int(fields["run"])
            # node=all: a run on both nodes' vCPUs (--span).
            runs[current] = Run(boot.config, current,
                                int(fields["node"])
                                if fields["node"].isdigit() else None)
            begin[current] = fields
        elif fields.get("phase") == "sample" and current in runs:
            r = runs[current]
            # move_pages(2) cannot see a page under a NUMA hinting fault
            # (autonuma): it reads as absent, and counts as unseen.
            pages = int(fields.get("pages", 0))
            unseen = int(fields.get("absent", 0))
            seen = pages - unseen
            if fields.get("kind") == "thread":
                node = int(fields.get("node", -1))
                if r.samples:
                    r.samples[-1].threads.append(Thread(
                        int(fields.get("tid", 0)),
                        int(fields.get("cpu", -1)), node, pages, unseen,
                        int(fields.get(f"node{host_nodes[node]}", 0))
                        if node in (0, 1) else 0))
                continue
            r.samples.append(Sample(
                fields.get("kind", "sample"),
                float(fields["at"]) if "at" in fields else None, pages,
                int(fields["faults"]) if int(fields.get("faults", -1)) >= 0
                else None, unseen,
                int(fields.get(f"node{host_nodes[r.node]}", 0)) / seen
                if seen > 0 and r.node is not None else None))
        elif text.startswith("RUN-RESULT ") and current in runs:
            r = runs[current]
            r.wall = float(fields["wall"])
            r.exit = int(fields["exit"])
            r.signal = int(fields.get("signal", 0))
            r.guest_minflt = int(fields["minflt"])
            r.guest_majflt = int(fields.get("majflt", 0))
        elif text.startswith("NH-RESULT ") and current in runs:
            runs[current].workload = fields
        elif fields.get("phase") == "end" and current in runs:
            r, b = runs[current], begin[current]
            r.host_minflt = int(fields["host_minflt"]) - int(b["host_minflt"])
            r.host_cpu_s = (float(fields["host_cpu_s"])
                            - float(b["host_cpu_s"]))
    boot.runs = [runs[n] for n in sorted(runs)]
    for r in boot.runs:
        r.choose_sample()


def check_runs(boot: Boot, experiment: Experiment) -> None:
    """Add a failure for each workload that failed, and for missing runs."""
    for r in boot.runs:
        if r.signal:
            boot.failures.append(f"run {r.run}: the workload was killed by "
                                 f"{signal.Signals(r.signal).name}")
        elif r.exit:
            boot.failures.append(f"run {r.run}: the workload exited {r.exit}")
    if len(boot.runs) < experiment.runs and not boot.failures:
        boot.failures.append(f"{len(boot.runs)} of {experiment.runs} runs "
                             "measured (see the console log)")


def measure(config: Config, experiment: Experiment, outer_initrd: Path,
            args) -> Boot:
    name = rig.job_name(config, experiment)
    outer = vm.GuestConfig(
        kernel_dir=vm.kernel_dir_for(args.kernel), initrd=outer_initrd,
        timeout=args.timeout, smp=args.smp, memory=args.memory, numa_nodes=2,
        accel="tcg", test_timeout=int(args.timeout) - 30,
        qemu=getattr(args, "outer_qemu", None) or vm.default_qemu(),
        append=(f"rig.config={name} transparent_hugepage=never rig.stat=2 "
                + ("numa_balancing=enable" if config.autonuma
                   else "numa_balancing=disable")))
    log = args.logs / f"console-{config.name}.log"
    print(f"rerun: ({config.name}) {config.title}: booting the outer VM, "
          f"{experiment.runs} runs (log: {log})", flush=True)
    boot = Boot(config)
    t0 = time.monotonic()

    def take(result) -> None:
        parse(boot, result.console_lines)
        boot.failures += [str(p) for p in result.problems
                          if p.kind is not vm.ProblemKind.TESTS_FAILED]
    try:
        rig.boot(outer, config.name, args.verbose, log, take)
    finally:
        boot.seconds = time.monotonic() - t0
    check_runs(boot, experiment)
    return boot


@dataclass(frozen=True)
class Host:
    """Host mode: the staged files, the accelerator, the two nodes."""

    stage: Path
    accel: vm.AccelChoice
    nodes: tuple[int, int]


NUMA_BALANCING = Path("/proc/sys/kernel/numa_balancing")


def host_nodes_with_cpus() -> list[int]:
    """This machine's NUMA nodes that have CPUs."""
    nodes = []
    for node in Path("/sys/devices/system/node").glob("node[0-9]*"):
        if (node / "cpulist").read_text().strip():
            nodes.append(int(node.name[4:]))
    return sorted(nodes)


def set_numa_balancing(value: str) -> str:
    """Set the host's automatic NUMA balancing; return what it was."""
    before = NUMA_BALANCING.read_text().strip()
    NUMA_BALANCING.write_text(value)
    return before


def measure_host(config: Config, experiment: Experiment, host: Host,
                 args) -> Boot:
    """One configuration in host mode: tools/rig/rig-outer.sh runs here,
    starts the inner QEMU from the staged files and measures as it does
    in the outer VM."""
    name = rig.job_name(config, experiment)
    log = args.logs / f"console-{config.name}.log"
    print(f"rerun: ({config.name}) {config.title}: starting the guest on "
          f"this host ({host.accel.name}), {experiment.runs} runs "
          f"(log: {log})", flush=True)
    boot = Boot(config)
    lines: list[str] = []
    t0 = time.monotonic()
    progress = rig.Progress(config.name, args.verbose)
    balancing = None
    proc = None
    try:
        if NUMA_BALANCING.exists():
            balancing = set_numa_balancing("1" if config.autonuma else "0")
        elif config.autonuma:
            boot.failures.append("this host kernel has no automatic NUMA "
                                 "balancing")
            return boot
        with tempfile.TemporaryDirectory(prefix="numahint-rerun-host-") \
                as tmp, open(log, "w", encoding="utf-8") as console:
            env = dict(os.environ, RIG_DIR=str(host.stage), RIG_CONFIG=name,
                       RIG_TMP=tmp, RIG_NODES=" ".join(map(str, host.nodes)))
            proc = subprocess.Popen(
                ["sh", str(host.stage / "rig-outer.sh")], env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, errors="replace",
                start_new_session=True)
            timer = threading.Timer(args.timeout, os.killpg,
                                    (proc.pid, signal.SIGKILL))
            timer.start()
            try:
                for line in proc.stdout:
                    console.write(line)
                    progress.write(line)
                    lines.append(line.rstrip("\n"))
                rc = proc.wait()
            finally:
                timer.cancel()
            if rc == -signal.SIGKILL:
                boot.failures.append(f"no result after {args.timeout:.0f} s"
                                     " (timeout)")
            elif not any(line.startswith("RIG-END") for line in lines):
                boot.failures.append(f"rig-outer.sh exited {rc} without "
                                     "RIG-END (see the log)")
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if balancing is not None:
            set_numa_balancing(balancing)
        progress.close()
        boot.seconds = time.monotonic() - t0
        parse(boot, lines, host.nodes)
    check_runs(boot, experiment)
    return boot


def dynamic_libraries(program: Path) -> list[str] | None:
    """The shared libraries and loader of a dynamically linked program, as
    ldd names them ([] for a static one); None if ldd finds not all."""
    with open(program, "rb") as f:
        head = f.read(4)
    if head != b"\x7fELF":
        return []
    out = subprocess.run(["ldd", str(program)], text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if "not a dynamic executable" in out.stdout:
        return []
    if out.returncode or "not found" in out.stdout:
        return None
    return [w for line in out.stdout.splitlines()
            for w in line.replace("=>", " ").split()[:3]
            if w.startswith("/")]


def choose_mode(args) -> tuple[str, str]:
    """The mode to use, and why."""
    nodes = host_nodes_with_cpus()
    if args.mode == "rig":
        return "rig", "requested"
    if args.mode == "host":
        return "host", "requested"
    if len(nodes) < 2:
        return "rig", (f"this host has {len(nodes)} NUMA node(s) with CPUs, "
                       "host mode needs 2")
    probe = vm.choose_accel("auto")
    if probe.name != "kvm":
        return "rig", f"host has {len(nodes)} nodes, but {probe.reason}"
    return "host", f"{len(nodes)} NUMA nodes with CPUs and working KVM"


def pct(value: float | None) -> str:
    """A share as a percentage, "-" for none."""
    return "-" if value is None else f"{value * 100:.1f}%"


def fmt(value, spec: str, scale: float = 1.0) -> str:
    if value is None:
        return "-"
    return format(value * scale if scale != 1.0 else value, spec)


def node_name(r: Run) -> str:
    return "all" if r.node is None else str(r.node)


def sample_name(sample: Sample | None) -> str:
    if sample is None:
        return "-"
    return sample.kind + (f" {sample.at:.1f} s" if sample.at is not None
                          else "")


def coverage_text(r: Run) -> str:
    text = pct(r.coverage)
    return text + " (partial sample)" if r.partial_sample else text


def tables(boots: list[Boot], partial: bool) -> str:
    rows = ["| Config | Run | Node | Wall s | Ratio to run 1 | Local | "
            "Sample | Pages | Pages/faults | "
            "Unseen pages | Guest faults | Host faults | Host/guest faults | "
            "QEMU CPU s | Discarded MiB | Migrated pages |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: "
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    per_thread = ["| Config | Run | Sample | Thread | vCPU | Node | Pages | "
                  "Unseen pages | Local |",
                  "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | "
                  "---: |"]
    over_time = ["| Config | Run | Node | Sample | At s | Pages | "
                 "Faults so far | Local | Unseen pages |",
                 "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: "
                 "| ---: |"]
    for boot in boots:
        first = boot.runs[0].wall if boot.runs else None
        for r in boot.runs:
            ratio = r.wall / first if r.wall and first else None
            rows.append(
                f"| {r.config.name} | {r.run} | {node_name(r)} | "
                f"{fmt(r.wall, '.2f')} | {fmt(ratio, '.2f')} | "
                f"{pct(r.local)} | {sample_name(r.sample)} | "
                f"{fmt(r.pages, 'd')} | {coverage_text(r)} | "
                f"{fmt(r.unseen, 'd')} | "
                f"{fmt(r.guest_faults, 'd')} | "
                f"{fmt(r.host_minflt, 'd')} | "
                f"{pct(r.host_share)} | "
                f"{fmt(r.host_cpu_s, '.1f')} | "
                f"{fmt(r.discarded_mib, '.0f')} | {fmt(r.migrated, 'd')} |")
            for x in r.samples:
                over_time.append(
                    f"| {r.config.name} | {r.run} | {node_name(r)} | "
                    f"{x.kind} | {fmt(x.at, '.2f')} | {x.pages} | "
                    f"{fmt(x.faults, 'd')} | {pct(x.local)} | "
                    f"{x.unseen} |")
                for t in x.threads:
                    per_thread.append(
                        f"| {r.config.name} | {r.run} | {x.kind} | "
                        + (f"{t.tid} | {t.cpu} | {t.node} | " if t.tid else
                           "(untraced) | - | - | ")
                        + f"{t.pages} | {t.unseen} | "
                        f"{pct(t.local)} |")
    summary = ["| Config | Cold run local | Reruns local (min) | Cold run "
               "host/guest faults | Reruns host/guest faults (mean) | Status |",
               "| --- | ---: | ---: | ---: | ---: | --- |"]
    for boot in boots:
        cold, warm = boot.runs[:1], boot.runs[1:]
        warm_local = [r.local for r in warm if r.local is not None]
        warm_share = [r.host_share for r in warm if r.host_share is not None]
        summary.append(
            f"| {boot.config.name} | "
            f"{pct(cold[0].local if cold else None)} | "
            f"{pct(min(warm_local) if warm_local else None)} | "
            f"{pct(cold[0].host_share if cold else None)} | "
            + pct(sum(warm_share) / len(warm_share) if warm_share else None)
            + " | "
            + ("ok" if not boot.failures else
               "FAILED: " + "; ".join(boot.failures))
            + "".join(f"; run {r.run}: partial sample" for r in boot.runs
                      if r.partial_sample) + " |")
    head = "**PARTIAL**: the experiment was stopped early.\n\n" if partial \
        else ""
    thin = [f"{r.config.name} run {r.run}" for b in boots for r in b.runs
            if r.partial_sample]
    if thin:
        head += (f"**Partial sample**: the locality of {', '.join(thin)} "
                 f"stands on less than {COVERAGE_MIN:.0%} of the run's page "
                 "faults (Pages/faults below): read it as a sample, not as "
                 "the working set.\n\n")
    return (head + "\n".join(summary) + "\n\nEvery run (Local: on the "
            "run's largest working-set sample, Sample; Pages: the guest "
            "pages it holds; Pages/faults: their share of the run's page "
            "faults, Guest faults):\n\n"
            + "\n".join(rows) + "\n\nLocality over each run's time, "
            "every sample (periodic: 1, 2, 4... s into the run; ready: the "
            "workload's data set up; exit: what it held when it "
            "exited):\n\n" + "\n".join(over_time) + "\n"
            + ("\nPer thread, for runs on both nodes (--span): the pages of "
               "the ready and exit samples split by the thread that "
               "allocated (first touched) each, in the guest kernel's "
               "trace; Local: on that thread's vCPU's node:\n\n"
               + "\n".join(per_thread) + "\n" if len(per_thread) > 2
               else ""))


def write_csv(path: Path, boots: list[Boot], partial: bool) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["config", "run", "node", "wall_s", "ratio_to_run1",
                      "local", "pages", "sample_kind", "sample_at_s",
                      "samples", "coverage", "partial_sample", "unseen",
                      "guest_minflt", "guest_majflt",
                      "host_minflt",
                      "host_over_guest_faults", "qemu_cpu_s",
                      "discarded_mib", "migrated_pages", "workload_rate",
                      "workload_unit", "checksum", "partial"])
        for boot in boots:
            first = boot.runs[0].wall if boot.runs else None
            for r in boot.runs:
                out.writerow([
                    r.config.name, r.run, node_name(r), r.wall,
                    r.wall / first if r.wall and first else None, r.local,
                    r.pages, r.sample.kind if r.sample else None,
                    r.sample.at if r.sample else None, len(r.samples),
                    r.coverage, int(r.partial_sample), r.unseen,
                    r.guest_minflt, r.guest_majflt, r.host_minflt,
                    r.host_share,
                    r.host_cpu_s, r.discarded_mib, r.migrated,
                    r.workload.get("rate"), r.workload.get("unit"),
                    r.workload.get("checksum"), int(partial)])


def write_samples_csv(path: Path, boots: list[Boot]) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["config", "run", "node", "kind", "at_s", "pages",
                      "faults_so_far", "local", "unseen", "tid", "vcpu",
                      "thread_node"])
        for boot in boots:
            for r in boot.runs:
                for x in r.samples:
                    out.writerow([r.config.name, r.run, node_name(r), x.kind,
                                  x.at, x.pages, x.faults, x.local, x.unseen,
                                  "", "", ""])
                    for t in x.threads:
                        out.writerow([r.config.name, r.run, node_name(r),
                                      f"thread-of-{x.kind}", x.at, t.pages,
                                      None, t.local, t.unseen, t.tid, t.cpu,
                                      t.node])


def plot(boots: list[Boot], png: Path,
         title: str = "Warm-VM reruns on the two-node rig") -> None:
    if not any(r.local is not None for b in boots for r in b.runs):
        print("rerun: no run has a locality sample, no plot")
        return
    data = png.with_suffix(".dat")
    blocks = []
    for boot in boots:
        blocks.append(f"# {boot.config.name}\n" + "".join(
            f"{r.run} {fmt(r.local, '.4f', 100)} "
            f"{fmt(r.host_share, '.4f', 100)}\n".replace("-", "?")
            for r in boot.runs))
    # Locality over each run's time: one block per run with samples.
    series = [(b.config.name, r) for b in boots for r in b.runs
              if any(x.at is not None and x.local is not None
                     for x in r.samples)]
    for name, r in series:
        blocks.append(f"# {name} run {r.run}\n" + "".join(
            f"{x.at:.3f} {x.local * 100:.4f}\n" for x in r.samples
            if x.at is not None and x.local is not None))
    data.write_text("\n\n".join(blocks))
    names = [b.config.name for b in boots]
    local = ", ".join(f"'{data}' index {i} using 1:2 with linespoints "
                      f"title '{n}'" for i, n in enumerate(names))
    share = ", ".join(f"'{data}' index {i} using 1:3 with linespoints "
                      f"title '{n}'" for i, n in enumerate(names))
    timeline = ", ".join(
        f"'{data}' index {len(boots) + i} using 1:2 with linespoints "
        f"title '{name} {r.run} (node {node_name(r)})'"
        for i, (name, r) in enumerate(series))
    gnuplot("rerun", f"""
set terminal pngcairo size {1500 if timeline else 1000},450
set output '{png}'
set datafile missing '?'
set multiplot layout 1,{3 if timeline else 2} title '{title} (run 1 cold, node 1; then node 0, 1, ...)'
set xlabel 'run'
set xtics 1
set yrange [0:105]
set key bottom left
set ylabel "workload pages on its vCPUs' host node (%)"
plot {local}
set ylabel 'host faults / guest faults (%)'
# The host's NUMA hinting faults (autonuma) can go far above 100%: the
# table has their values; the plot keeps the scale of the others.
set yrange [0:150]
set key top right
plot {share}
""" + (f"""
set xlabel 'seconds into the run (working-set samples)'
set xtics auto
set logscale x 2
set yrange [0:105]
set key bottom right font ',8'
set ylabel "pages on the run's node (%)"
plot {timeline}
""" if timeline else "") + """
unset multiplot
""")
    data.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="experiments/rerun",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("-c", "--config", action="append",
                        choices=[c.name for c in CONFIGS],
                        help="configuration (repeatable; default all four)")
    parser.add_argument("--workload", default="nh-triad -m 64 -i 20",
                        help="command run in the guest: a kernel of "
                        "experiments/workloads or a path to a program, "
                        "static or dynamically linked, with its arguments "
                        "(default '%(default)s')")
    parser.add_argument("--runs", type=int, default=4,
                        help="runs in each warm VM (default 4)")
    parser.add_argument("--sample", type=float, default=1.0,
                        metavar="SEC",
                        help="read each run's working set at SEC, 2 SEC, "
                        "4 SEC... guest seconds into the run (default 1), "
                        "besides when the workload says its data is set up "
                        "(NH_READY, see docs/rerun.md) and when it exits")
    parser.add_argument("--exit-hold", type=float, default=2.0,
                        metavar="SEC",
                        help="keep an exited workload's memory SEC guest "
                        "seconds after its exit sample, so that the host "
                        "reads its placement before the guest frees it "
                        "(default 2; left out of the wall time)")
    parser.add_argument("--span", action="store_true",
                        help="run every run on all vCPUs, its OpenMP "
                        "threads on both nodes, and split the ready and "
                        "exit samples by the thread that allocated each "
                        "page (per-thread locality, from the guest "
                        "kernel's trace of page allocations)")
    parser.add_argument("--kernel", default="6.1",
                        help="kernel of both VMs (default 6.1)")
    parser.add_argument("--qemu", type=Path, default=vm.default_qemu())
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds per configuration (default 900)")
    parser.add_argument("--smp", default="4",
                        help="outer vCPUs, split over 2 nodes (default 4)")
    parser.add_argument("--memory", default="4G",
                        help="outer RAM, split over 2 nodes (default 4G)")
    parser.add_argument("--inner-memory", default="1G",
                        help="inner guest RAM (default 1G)")
    parser.add_argument("--inner-smp", type=int, default=2,
                        help="inner vCPUs, half on each node (default 2)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "experiments" / "results" / "rerun")
    parser.add_argument("--logs", type=Path,
                        default=vm.cache_dir() / "rerun",
                        help="where the console logs go (default "
                        ".cache/rerun)")
    parser.add_argument("--from-logs", type=Path, metavar="DIR",
                        help="run nothing: make the tables, CSV and plot "
                        "again (in --out) from the console-CONFIG.log files "
                        "in DIR")
    parser.add_argument("--mode", choices=("auto", "rig", "host"),
                        default="auto",
                        help="rig: the two-node nested TCG rig; host: this "
                        "machine is the NUMA host; auto (default): host "
                        "where this machine has 2 nodes with CPUs and KVM "
                        "works, else rig")
    parser.add_argument("--nodes", default="0,1", metavar="A,B",
                        help="host mode: the host nodes whose CPUs run the "
                        "vCPUs of node 0 and node 1 (default 0,1)")
    parser.add_argument("--accel", choices=ACCELS, default="auto",
                        help="host mode: the guest's accelerator (default "
                        "auto: KVM where the probe finds it works)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2 (a cold run and a rerun)")
    if args.inner_smp < 2 or args.inner_smp % 2:
        parser.error("--inner-smp must be even, 2 or more")

    configs = [c for c in CONFIGS if not args.config or c.name in args.config]
    if args.from_logs:
        boots = []
        for config in configs:
            log = args.from_logs / f"console-{config.name}.log"
            if log.exists():
                boot = Boot(config)
                parse(boot, log.read_text(errors="replace").splitlines())
                check_runs(boot, Experiment("rerun", (), args.runs, 0))
                boots.append(boot)
        text = tables(boots, False) + (
            f"\nMade with `experiments/rerun --from-logs` from the console "
            f"logs of a run of `experiments/rerun --runs {args.runs}"
            + "".join(f" -c {b.config.name}" for b in boots) + "` on the "
            "two-node rig (nested TCG: placement is real, timings are "
            "not).\n")
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(text)
        write_csv(args.out / "results.csv", boots, False)
        write_samples_csv(args.out / "samples.csv", boots)
        plot(boots, args.out / "results.png")
        print(text)
        return 0

    workload = args.workload.split()
    program = Path(workload[0])
    if "/" not in workload[0]:
        subprocess.run(["make", "-s", "-C", str(WORKLOADS)], check=True,
                       stdout=subprocess.DEVNULL)
        program = WORKLOADS / workload[0]
    if not program.is_file():
        parser.error(f"no workload program {program}")
    linking = dynamic_libraries(program)
    if linking is None:
        parser.error(f"{program}: dynamically linked, and ldd cannot find "
                     "all its libraries here (the guest gets this host's)")
    print(f"rerun: workload {program}: "
          + (f"dynamically linked; the guest gets its libraries and loader "
             f"({', '.join(linking)})" if linking else "static"),
          flush=True)
    # Paths in the guest: /tests/NAME.
    experiment = Experiment("rerun", (program.name, *workload[1:]),
                            args.runs, args.sample, args.exit_hold,
                            args.span)

    # What tools/numahint-rig's image builder reads from its arguments.
    args.hold, args.stress, args.mib, args.repeat = 0, "0", 0, 1
    args.inner_append = "transparent_hugepage=never"
    args.out.mkdir(parents=True, exist_ok=True)
    args.logs.mkdir(parents=True, exist_ok=True)
    mode, why = choose_mode(args)
    host = None
    if mode == "host" and os.geteuid() != 0:
        parser.error("host mode runs as root: it pins QEMU's vCPU threads, "
                     "reads guest frames and sets kernel.numa_balancing")
    if mode == "host":
        try:
            nodes = tuple(int(n) for n in args.nodes.split(","))
        except ValueError:
            nodes = ()
        have = host_nodes_with_cpus()
        if len(nodes) != 2 or not set(nodes) <= set(have):
            parser.error(f"--nodes {args.nodes}: want two of this host's "
                         f"nodes with CPUs ({have})")
        accel = vm.choose_accel(args.accel)
        host = Host(Path(), accel, nodes)
        print(f"rerun: mode: host ({why}): the guest runs here under "
              f"{accel.name} ({accel.reason}), its vCPUs on host nodes "
              f"{nodes[0]} and {nodes[1]}"
              + ("; timings are real." if accel.name == "kvm" else
                 "; under TCG its timings mean nothing.")
              + (" Nodes 0 and 1 are the same node: the plumbing runs, "
                 "locality is trivially full." if nodes[0] == nodes[1]
                 else ""), flush=True)
    else:
        print(f"rerun: mode: two-node rig ({why}; nested TCG: placement is "
              "real, timings are not).", flush=True)

    boots: list[Boot] = []
    partial = False
    started = time.monotonic()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with tempfile.TemporaryDirectory(prefix="numahint-rerun-") as tmp:
            images = rig.build_images(
                args, [(c, experiment) for c in configs], Path(tmp),
                inner_script=rig.RIG / "rig-rerun.sh",
                inner_files=(rig.RIG / "rig-run", program),
                host_accel=(tuple(host.accel.qemu_args) if host else None))
            if host:
                host = Host(images, host.accel, host.nodes)
            else:
                # The outer VMs boot one after the other, minutes apart:
                # from a copy, which a rebuild of QEMU cannot take away.
                args.outer_qemu = Path(tmp) / "outer-qemu"
                shutil.copy2(vm.default_qemu(), args.outer_qemu)
            for i, config in enumerate(configs, 1):
                if host:
                    boot = measure_host(config, experiment, host, args)
                else:
                    boot = measure(config, experiment, images, args)
                boots.append(boot)
                local = ", ".join(pct(r.local)
                                  for r in boot.runs)
                print(f"rerun: [{i}/{len(configs)}] ({config.name}) done in "
                      f"{boot.seconds:.0f} s: local per run {local}"
                      + (f"; FAILED: {boot.failures}" if boot.failures
                         else ""), flush=True)
                if boot.failures:
                    partial = True
                    break
    except KeyboardInterrupt:
        print("rerun: interrupted; keeping what was measured (PARTIAL)",
              file=sys.stderr)
        partial = True
    partial = partial or len(boots) < len(configs)

    text = tables(boots, partial)
    text += (f"\nCommand: `experiments/rerun --workload '{args.workload}' "
             f"--runs {args.runs} --sample {args.sample:g}"
             + (" --span" if args.span else "")
             + (f" --exit-hold {args.exit_hold:g}" if args.exit_hold != 2
                else "")
             + "".join(f" -c {c.name}" for c in configs)
             + (f" --mode host --nodes {args.nodes} --accel "
                f"{host.accel.name}` on this host ({host.accel.name}"
                + (": timings are real" if host.accel.name == "kvm" else
                   ": timings mean nothing") + ")" if host else
                "` on the two-node rig (nested TCG: placement is real, "
                "timings are not)")
             + f"; guest {args.kernel}, {args.inner_smp} vCPUs, "
             f"{args.inner_memory}, no THP.\n")
    (args.out / "results.md").write_text(text)
    write_csv(args.out / "results.csv", boots, partial)
    write_samples_csv(args.out / "samples.csv", boots)
    if boots:
        plot(boots, args.out / "results.png",
             f"Warm-VM reruns on this host ({host.accel.name})" if host
             else "Warm-VM reruns on the two-node rig")
    print()
    print(text)
    print(f"rerun: {sum(len(b.runs) for b in boots)} run(s) in "
          f"{time.monotonic() - started:.0f} s; results in {args.out}/")
    return 1 if partial or any(b.failures for b in boots) else 0


if __name__ == "__main__":
    sys.exit(main())
