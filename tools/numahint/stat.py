# SPDX-License-Identifier: GPL-2.0
"""numahint-stat: a live view of a VM's memory locality and its
virtio-numahint device, refreshing like numastat or `virsh domstats`.

    numahint-stat [options] QMP-SOCKET
    numahint-stat [options] --replay LOG

Every INTERVAL seconds it shows

- the VM's guest RAM resident on each host node, read from
  /proc/PID/numa_maps over exactly the host ranges of the guest's memory
  backends (QMP query-memdev and `info ramblock`), so that nothing else
  QEMU maps is counted; the host node each vCPU thread last ran on, and
  the share of the guest's RAM that sits on those nodes;
- the counters of the virtio-numahint device (its QOM "stats") as rates
  over the interval: MiB discarded, free page reports, first-touch
  events, pages and MiB moved, events dropped, entries rejected, huge
  pages split, and the pages awaiting placement.

The device is found by type among the machine's devices (qom-list), or
given with --device.  QEMU's pid is that of the QMP socket's peer unless
--pid says it (which a TCP socket, HOST:PORT, needs).  No other client
may hold the QMP socket: a second -qmp unix:PATH,server=on,wait=off
serves this tool while the first serves libvirt or a test.

With --replay it reads no QEMU but a log of raw snapshots of one, the
lines `NUMAHINT-STAT ...` that the rig's outer VM prints on its console
(tools/rig/rig-outer.sh, which has no Python), anywhere in a line:

  NUMAHINT-STAT begin pid=PID device=ID        once, first
  NUMAHINT-STAT node N CPULIST                 each host node
  NUMAHINT-STAT ramblock LINE                  `info ramblock` of guest RAM
  NUMAHINT-STAT sample uptime=S time=EPOCH     a snapshot, then its lines:
  NUMAHINT-STAT maps LINE                      /proc/PID/maps, guest RAM
  NUMAHINT-STAT numa_maps LINE                 /proc/PID/numa_maps, same
  NUMAHINT-STAT vcpu INDEX TID CPU             the CPU a vCPU last ran on
  NUMAHINT-STAT stats {JSON}                   the device's "stats"

and shows them through the same parsers and rate code as a live VM; a
snapshot cut short (no numa_maps, or no stats where others have them) is
left out.

Options:
  --replay LOG   replay LOG's snapshots instead of reading a live QEMU
                 (LOG.gz: gzip'd)
  --interval S   seconds between reports (1; with --replay: at least S
                 between the snapshots replayed, default every one)
  --count N      stop after N reports; --once is --count 1 (each report's
                 rates cover the interval before it)
  --json         one JSON object per report and line (JSON Lines)
  --csv          CSV, one header line then one line per report
  --plot FILE    at the end, a PNG of the series over the run (gnuplot)
  --device PATH  the device's QOM path or id (default: the only one)
  --pid PID      QEMU's pid (default: the QMP socket's peer)

It uses QEMU's own QMP library, qemu.qmp: installed (pip install
qemu.qmp), or from a QEMU source tree's python/ directory on PYTHONPATH;
as tools/numahint-stat it finds the one from the QEMU source that
numahint's tools/setup fetches (tools/qemu).  This module needs nothing
else of numahint: copy it anywhere and run it as a script (--replay
needs no QMP library).

Exit status: 0, also after Ctrl-C; 1 if QEMU cannot be read (it went
away: what was gathered is still written and plotted) or the log holds
no snapshot; 2 for bad usage.
"""

import argparse
import csv
import datetime
import glob
import gzip
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEVICE_TYPE = "virtio-numahint-device"
MIB = 1 << 20


def _import_qmp():
    """QEMU's QMP library's synchronous client (qemu.qmp.legacy)."""
    try:
        from qemu.qmp.legacy import QEMUMonitorProtocol
    except ImportError as error:
        raise SystemExit(
            f"numahint-stat: QEMU's QMP library is missing ({error}): "
            "pip install qemu.qmp, or PYTHONPATH=QEMU-SOURCE/python")
    return QEMUMonitorProtocol


# --- What the device's counters become on screen -------------------------

@dataclass(frozen=True)
class Rate:
    """One line of the device table: the sum of some counters, shown per
    second (scaled by 1/scale) next to its total."""

    key: str          # JSON and CSV name
    label: str        # on screen
    counters: tuple   # "stats" names added up
    scale: int = 1


RATES = (
    Rate("discarded-mib", "discarded (MiB)", ("report-bytes-discarded",),
         MIB),
    Rate("reports", "free page reports", ("report-requests",)),
    Rate("events", "first-touch events", ("touch-events",)),
    Rate("pages-moved", "pages moved", ("touch-pages-migrated",)),
    Rate("moved-mib", "moved (MiB)", ("touch-bytes-migrated",), MIB),
    Rate("dropped", "events dropped", ("touch-dropped",)),
    Rate("rejected", "entries rejected",
         ("report-rejected", "touch-rejected", "probe-rejected")),
    Rate("huge-split", "huge pages split", ("touch-huge-split",)),
)

#: Counters shown as they are, not as rates.
GAUGES = (("pages-pending", "pages awaiting placement", "touch-pages-pending"),
          ("protocol-errors", "protocol errors", "protocol-errors"))


def counter_sum(stats, rate):
    """The total of `rate`'s counters in `stats`, None if the device has
    none of them (an older device)."""
    values = [stats[name] for name in rate.counters if name in stats]
    return sum(values) if values else None


RATE = {rate.key: rate for rate in RATES}


def delta(before, after, key):
    """How much Rate `key`'s counters grew between two "stats" (in MiB
    for the MiB rates, an int for the others), None if unknown."""
    rate = RATE[key]
    first, last = counter_sum(before, rate), counter_sum(after, rate)
    if first is None or last is None:
        return None
    return (last - first) / rate.scale if rate.scale > 1 else last - first


def rates(before, after, seconds):
    """{key: per-second value} of every Rate between two "stats"."""
    out = {}
    for rate in RATES:
        grown = delta(before, after, rate.key)
        out[rate.key] = None if grown is None or seconds <= 0 \
            else grown / seconds
    return out


# --- Guest RAM on host nodes ---------------------------------------------

_RAMBLOCK = re.compile(r"^\s*(\S+)\s+\d+\s*[KMGT]?i?B\s+0x[0-9a-f]+\s+"
                       r"0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)",
                       re.IGNORECASE)


def parse_ramblocks(text):
    """{name: (host address, used bytes)} from HMP `info ramblock`."""
    blocks = {}
    for line in text.splitlines():
        m = _RAMBLOCK.match(line)
        if m:
            blocks[m.group(1)] = (int(m.group(4), 16), int(m.group(2), 16))
    return blocks


def parse_maps(text):
    """{start: end} of every mapping in /proc/PID/maps."""
    vmas = {}
    for line in text.splitlines():
        start, _, end = line.split(" ", 1)[0].partition("-")
        vmas[int(start, 16)] = int(end, 16)
    return vmas


def node_bytes(numa_maps, vmas, ranges):
    """{host node: bytes} of the mappings in `numa_maps` (the text of
    /proc/PID/numa_maps) that overlap one of `ranges`, (start, length)
    pairs; `vmas` ({start: end}, from /proc/PID/maps) bounds each mapping.
    A mapping counts whole: QEMU maps each RAM block on its own."""
    nodes = {}
    for line in numa_maps.splitlines():
        fields = line.split()
        if not fields:
            continue
        start = int(fields[0], 16)
        end = vmas.get(start, start + 1)
        if not any(start < r_start + length and r_start < end
                   for r_start, length in ranges):
            continue
        page = 4096
        counts = {}
        for item in fields[1:]:
            key, _, value = item.partition("=")
            if key == "kernelpagesize_kB":
                page = int(value) * 1024
            elif re.fullmatch(r"N\d+", key):
                counts[int(key[1:])] = int(value)
        for node, pages in counts.items():
            nodes[node] = nodes.get(node, 0) + pages * page
    return nodes


def host_nodes():
    """The host's online memory nodes, and {cpu: node}."""
    nodes, cpu_node = [], {}
    for path in sorted(glob.glob("/sys/devices/system/node/node[0-9]*")):
        node = int(path.rsplit("node", 1)[1])
        nodes.append(node)
        for cpu in glob.glob(f"{path}/cpu[0-9]*"):
            cpu_node[int(cpu.rsplit("cpu", 1)[1])] = node
    return sorted(nodes) or [0], cpu_node


def parse_cpulist(text):
    """The CPUs of a sysfs cpulist, e.g. "0-3,8"."""
    cpus = []
    for part in text.strip().split(","):
        if part:
            first, _, last = part.partition("-")
            cpus += range(int(first), int(last or first) + 1)
    return cpus


def thread_cpu(pid, tid):
    """The host CPU thread `tid` of `pid` last ran on, None if gone."""
    try:
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    except OSError:
        return None
    # Field 39, counted after the command name, which may hold spaces.
    return int(stat.rsplit(")", 1)[1].split()[36])


# --- QEMU over QMP --------------------------------------------------------

class QMPFailed(Exception):
    """QEMU cannot be read any more, or refused what we asked."""


class VM:
    """One QEMU, its virtio-numahint device and guest RAM, over QMP."""

    def __init__(self, address, pid=None, device=None):
        protocol = _import_qmp()
        tcp = re.fullmatch(r"(.*):(\d+)", address)
        if tcp and pid is None:
            raise QMPFailed(f"{address} is a TCP address: give QEMU's pid "
                            "with --pid")
        try:
            if tcp:
                sock = socket.create_connection(
                    (tcp.group(1), int(tcp.group(2))), timeout=30)
                sock.settimeout(None)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(address)
        except OSError as error:
            raise QMPFailed(f"cannot connect to {address}: {error}") from None
        if pid is None:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                    struct.calcsize("3i"))
            pid = struct.unpack("3i", creds)[0]
        self.pid = pid
        self._qmp = protocol(sock)
        try:
            self._qmp.connect()
        except Exception as error:  # qemu.qmp raises its own ConnectError
            raise QMPFailed(f"no QMP greeting on {address}: {error} "
                            "(is another client connected?)") from None
        self._qmp.settimeout(30)
        try:
            self.device = self._find_device(device)
        except QMPFailed:
            self.close()
            raise
        self.nodes, self._cpu_node = host_nodes()
        self._ram_ranges = None

    @property
    def label(self):
        return f"QEMU pid {self.pid}, {self.device}"

    def close(self):
        try:
            self._qmp.close()
        except Exception:  # pylint: disable=broad-except
            pass  # QEMU went away first: nothing left to close.

    def cmd(self, name, **arguments):
        try:
            reply = self._qmp.cmd_obj({"execute": name,
                                       "arguments": arguments})
        except Exception as error:
            raise QMPFailed(f"QMP {name}: {error}") from None
        if "error" in reply:
            raise QMPFailed(f"QMP {name}: {reply['error'].get('desc')}")
        return reply["return"]

    def _find_device(self, given):
        """The QOM path of the virtio-numahint device: the given path or
        id, else the only one among the machine's -device devices."""
        if given:
            path = given if given.startswith("/") else \
                f"/machine/peripheral/{given}"
            candidates = [path, path + "/virtio-backend"]
        else:
            candidates = []
            for parent in ("/machine/peripheral", "/machine/peripheral-anon"):
                for child in self.cmd("qom-list", path=parent):
                    if child["type"].startswith("child<virtio-numahint"):
                        path = f"{parent}/{child['name']}"
                        candidates += [path, path + "/virtio-backend"]
        found = []
        for path in candidates:
            try:
                if self.cmd("qom-get", path=path,
                            property="type") == DEVICE_TYPE:
                    found.append(path)
            except QMPFailed:
                continue
        if len(found) != 1:
            where = f"at {given}" if given else "in this VM"
            raise QMPFailed(
                f"{len(found) or 'no'} virtio-numahint devices {where}"
                + (f" ({', '.join(found)}): choose one with --device"
                   if found else ""))
        return found[0]

    def ram_ranges(self):
        """Host (start, length) of each guest memory backend's RAM block."""
        if self._ram_ranges is None:
            backends = {m["id"] for m in self.cmd("query-memdev")
                        if "id" in m}
            blocks = parse_ramblocks(self.cmd(
                "human-monitor-command", **{"command-line": "info ramblock"}))
            self._ram_ranges = [blocks[name] for name in sorted(backends)
                                if name in blocks]
        return self._ram_ranges

    def samples(self, interval, stopping):
        """Samples every `interval` seconds until `stopping` is true."""
        previous = self.sample()
        yield previous
        while not stopping:
            deadline = previous.monotonic + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            if stopping:
                return
            previous = self.sample()
            yield previous

    def sample(self):
        """One sample of everything shown."""
        stats = self.cmd("qom-get", path=self.device, property="stats")
        vcpus = []
        for cpu in self.cmd("query-cpus-fast"):
            host_cpu = thread_cpu(self.pid, cpu["thread-id"])
            vcpus.append({"cpu": cpu["cpu-index"],
                          "thread": cpu["thread-id"], "host-cpu": host_cpu,
                          "node": self._cpu_node.get(host_cpu)})
        try:
            numa_maps = Path(f"/proc/{self.pid}/numa_maps").read_text()
            maps = Path(f"/proc/{self.pid}/maps").read_text()
        except OSError as error:
            raise QMPFailed(f"cannot read QEMU's memory map: {error}") \
                from None
        nodes = node_bytes(numa_maps, parse_maps(maps), self.ram_ranges())
        return Sample(time.time(), time.monotonic(), stats, nodes, vcpus)


# --- A VM recorded on a console ------------------------------------------

REPLAY_MARK = "NUMAHINT-STAT "


class ReplayFailed(Exception):
    """The log holds no snapshots to replay."""


class Recorded:
    """One QEMU as raw snapshots in a log recorded it (the rig's outer VM,
    tools/rig/rig-outer.sh): the VM's stand-in for --replay."""

    def __init__(self, log):
        self.log = Path(log)
        self.pid, self.device, self.nodes = None, None, []
        self._cpu_node, self._ramblocks = {}, []
        self.skipped = 0
        try:
            with (gzip.open if self.log.suffix == ".gz" else open)(
                    self.log, "rt", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError as error:
            raise ReplayFailed(f"cannot read {log}: {error}") from None
        self._snapshots = self._parse(lines)
        if not self._snapshots:
            raise ReplayFailed(f"{log}: no {REPLAY_MARK.strip()} snapshots")

    @property
    def label(self):
        return f"QEMU pid {self.pid}, {self.device}, from {self.log.name}"

    def close(self):
        pass

    def _parse(self, lines):
        """The snapshots' lines, grouped; the VM's description kept."""
        snapshots, current = [], None
        for line in lines:
            at = line.find(REPLAY_MARK)
            if at < 0:
                continue
            kind, _, rest = line[at + len(REPLAY_MARK):].rstrip("\r") \
                .partition(" ")
            if kind == "begin":
                if self.pid is not None:
                    print(f"numahint-stat: {self.log}: a second VM, not "
                          "replayed", file=sys.stderr)
                    break
                fields = dict(f.partition("=")[::2] for f in rest.split())
                self.pid = int(fields.get("pid", 0)) or None
                self.device = fields.get("device", "-")
            elif kind == "node":
                node, _, cpus = rest.partition(" ")
                self.nodes.append(int(node))
                for cpu in parse_cpulist(cpus):
                    self._cpu_node[cpu] = int(node)
            elif kind == "ramblock":
                self._ramblocks.append(rest)
            elif kind == "sample":
                current = {"fields": dict(f.partition("=")[::2]
                                          for f in rest.split()),
                           "maps": [], "numa_maps": [], "vcpus": [],
                           "stats": None}
                snapshots.append(current)
            elif current is not None and kind in ("maps", "numa_maps"):
                current[kind].append(rest)
            elif current is not None and kind == "vcpu":
                current["vcpus"].append(rest.split())
            elif current is not None and kind == "stats":
                try:
                    current["stats"] = json.loads(rest)
                except ValueError:
                    pass  # cut short on the console: the snapshot is too
        self.nodes = sorted(self.nodes) or [0]
        device = any(s["stats"] is not None for s in snapshots)
        whole = [s for s in snapshots if s["numa_maps"] and
                 (s["stats"] is not None or not device)]
        self.skipped = len(snapshots) - len(whole)
        return whole

    def samples(self, interval, stopping):
        """The recorded snapshots as Samples, at least `interval` seconds
        apart if given (every one if None)."""
        ranges = list(parse_ramblocks("\n".join(self._ramblocks)).values())
        previous = None
        for snapshot in self._snapshots:
            if stopping:
                return
            fields = snapshot["fields"]
            try:
                monotonic = float(fields["uptime"])
                wall = float(fields.get("time", monotonic))
                vcpus = []
                for index, tid, cpu in (v[:3] for v in snapshot["vcpus"]
                                        if len(v) >= 3):
                    vcpus.append({"cpu": int(index), "thread": int(tid),
                                  "host-cpu": int(cpu),
                                  "node": self._cpu_node.get(int(cpu))})
            except (KeyError, ValueError):
                self.skipped += 1
                continue
            if previous is not None and interval is not None and \
                    monotonic - previous.monotonic < interval:
                continue
            nodes = node_bytes("\n".join(snapshot["numa_maps"]),
                               parse_maps("\n".join(snapshot["maps"])),
                               ranges)
            previous = Sample(wall, monotonic, snapshot["stats"] or {},
                              nodes, vcpus)
            yield previous


@dataclass
class Sample:
    wall: float
    monotonic: float
    stats: dict
    nodes: dict         # host node: resident bytes of guest RAM
    vcpus: list

    @property
    def resident(self):
        return sum(self.nodes.values())

    def on_vcpu_nodes(self):
        """The share of resident guest RAM on the nodes the vCPU threads
        last ran on, None if unknown."""
        where = {v["node"] for v in self.vcpus if v["node"] is not None}
        if not where or not self.resident:
            return None
        return sum(b for n, b in self.nodes.items() if n in where) \
            / self.resident


@dataclass
class Report:
    """A sample and the rates since the one before it."""

    sample: Sample
    elapsed: float
    interval: float
    rates: dict = field(default_factory=dict)

    def as_json(self, vm):
        s = self.sample
        return {
            "time": round(s.wall, 3), "elapsed": round(self.elapsed, 3),
            "interval": round(self.interval, 3), "pid": vm.pid,
            "device": vm.device,
            "ram": {"resident": s.resident,
                    "nodes": {str(n): s.nodes.get(n, 0) for n in vm.nodes}},
            "on-vcpu-nodes": s.on_vcpu_nodes(), "vcpus": s.vcpus,
            "rates": self.rates,
            "gauges": {key: s.stats.get(name) for key, _, name in GAUGES},
            "stats": s.stats,
        }

    def csv_row(self, vm):
        s = self.sample
        local = s.on_vcpu_nodes()
        row = [f"{s.wall:.3f}", f"{self.elapsed:.3f}",
               f"{s.resident / MIB:.3f}"]
        row += [f"{s.nodes.get(n, 0) / MIB:.3f}" for n in vm.nodes]
        row.append("" if local is None else f"{local:.4f}")
        row += ["" if self.rates[r.key] is None else f"{self.rates[r.key]:.3f}"
                for r in RATES]
        row += [s.stats.get(name, "") for _, _, name in GAUGES]
        return row


def csv_header(vm):
    return (["time", "elapsed_s", "resident_mib"]
            + [f"node{n}_mib" for n in vm.nodes] + ["on_vcpu_nodes"]
            + [r.key.replace("-", "_") + "_per_s" for r in RATES]
            + [key.replace("-", "_") for key, _, _ in GAUGES])


def render(vm, report):
    """The screen of one report, numastat-like."""
    s, width = report.sample, 12
    stamp = datetime.datetime.fromtimestamp(s.wall).strftime("%H:%M:%S")
    lines = [f"numahint-stat: {vm.label}, {stamp}, "
             f"rates over {report.interval:.1f} s",
             "",
             "Guest RAM on host nodes".ljust(28)
             + "".join(f"Node {n}".rjust(width) for n in vm.nodes)
             + "Total".rjust(width)]
    lines.append("  resident (MiB)".ljust(28)
                 + "".join(f"{s.nodes.get(n, 0) / MIB:.1f}".rjust(width)
                           for n in vm.nodes)
                 + f"{s.resident / MIB:.1f}".rjust(width))
    if s.resident:
        lines.append("  share".ljust(28) + "".join(
            f"{100 * s.nodes.get(n, 0) / s.resident:.1f}%".rjust(width)
            for n in vm.nodes))
    lines.append("  vCPUs last ran there".ljust(28) + "".join(
        (",".join(str(v["cpu"]) for v in s.vcpus if v["node"] == n)
         or "-").rjust(width) for n in vm.nodes))
    local = s.on_vcpu_nodes()
    if local is not None:
        lines.append(f"  on the vCPUs' nodes: {100 * local:.1f}%")
    lines += ["", "Device".ljust(28) + "per second".rjust(width)
              + "total".rjust(width)]
    for rate in RATES:
        value, total = report.rates.get(rate.key), counter_sum(s.stats, rate)
        per_s = "-" if value is None else f"{value:.1f}"
        if total is None:
            shown = "-"
        elif rate.scale > 1:
            shown = f"{total / rate.scale:.1f}"
        else:
            shown = str(total)
        lines.append(f"  {rate.label}".ljust(28) + per_s.rjust(width)
                     + shown.rjust(width))
    for _, label, name in GAUGES:
        lines.append(f"  {label}".ljust(28) + "".rjust(width)
                     + str(s.stats.get(name, "-")).rjust(width))
    return "\n".join(lines)


# --- The plot --------------------------------------------------------------

def plot(vm, reports, png):
    """A PNG of the run: resident MiB per node, MiB/s, events per second."""
    if len(reports) < 2:
        print("numahint-stat: fewer than two reports, no plot",
              file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory(prefix="numahint-stat-") as tmp:
        data = Path(tmp) / "series.csv"
        with open(data, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(csv_header(vm))
            for report in reports:
                writer.writerow(report.csv_row(vm))
        columns = {name: i + 1 for i, name in enumerate(csv_header(vm))}
        resident = ", ".join(
            f"'{data}' using 2:{columns[f'node{n}_mib']} with lines lw 2 "
            f"title 'node {n}'" for n in vm.nodes)

        def series(keys):
            return ", ".join(
                f"'{data}' using 2:{columns[k.replace('-', '_') + '_per_s']} "
                f"with lines lw 2 title '{label}'" for k, label in keys)
        mib = series((("discarded-mib", "discarded"),
                      ("moved-mib", "moved")))
        counts = series((("events", "first-touch events"),
                         ("pages-moved", "pages moved"),
                         ("reports", "free page reports"),
                         ("dropped", "events dropped"),
                         ("rejected", "entries rejected"),
                         ("huge-split", "huge pages split")))
        script = f"""
set terminal pngcairo size 1000,900
set output '{png}'
set datafile separator ','
set key autotitle columnhead outside right
set xlabel 'seconds'
set grid
set lmargin at screen 0.08
set rmargin at screen 0.74
set multiplot layout 3,1 title 'numahint-stat: {vm.label}'
set ylabel 'guest RAM (MiB)'
set yrange [0:*]
plot {resident}
set ylabel 'MiB/s'
plot {mib}
set ylabel 'per second'
plot {counts}
unset multiplot
"""
        proc = subprocess.run(["gnuplot"], input=script, text=True,
                              capture_output=True, check=False)
        if proc.returncode:
            print(f"numahint-stat: gnuplot failed: {proc.stderr}",
                  file=sys.stderr)
            return False
    return True


# --- Main ------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="numahint-stat",
        description="A live view of a VM's memory locality and its "
                    "virtio-numahint device.")
    parser.add_argument("qmp", nargs="?",
                        help="QEMU's QMP socket: a unix socket's "
                        "path, or HOST:PORT (with --pid)")
    parser.add_argument("--replay", type=Path, metavar="LOG",
                        help="replay the NUMAHINT-STAT snapshots in LOG (a "
                        "rig console log) instead of reading a live QEMU")
    parser.add_argument("--interval", type=float,
                        help="seconds between reports (default 1; with "
                        "--replay: at least this between the snapshots "
                        "shown, default every one)")
    parser.add_argument("--count", type=int,
                        help="stop after COUNT reports (default: Ctrl-C)")
    parser.add_argument("--once", action="store_const", const=1,
                        dest="count", help="one report (--count 1)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true",
                     help="JSON Lines: one object per report")
    out.add_argument("--csv", action="store_true",
                     help="CSV: a header, then one line per report")
    parser.add_argument("--plot", type=Path, metavar="FILE",
                        help="write a PNG of the run to FILE at the end")
    parser.add_argument("--device", metavar="PATH",
                        help="the device's QOM path or id")
    parser.add_argument("--pid", type=int,
                        help="QEMU's pid (default: the QMP socket's peer)")
    args = parser.parse_args(argv)
    if (args.qmp is None) == (args.replay is None):
        parser.error("give either a QMP socket or --replay LOG")
    if args.replay and args.pid is not None:
        parser.error("--pid is for a live QEMU, not --replay")
    if args.replay and args.device:
        parser.error("--device is for a live QEMU, not --replay")
    if args.interval is None and not args.replay:
        args.interval = 1.0
    if args.interval is not None and args.interval <= 0:
        parser.error("--interval must be positive")
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    if args.plot and not shutil.which("gnuplot"):
        parser.error("--plot needs gnuplot (apt-get install gnuplot-nox)")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.replay:
            vm = Recorded(args.replay)
        else:
            vm = VM(args.qmp, pid=args.pid, device=args.device)
    except (QMPFailed, ReplayFailed) as error:
        print(f"numahint-stat: {error}", file=sys.stderr)
        return 1
    if args.replay and vm.skipped:
        print(f"numahint-stat: {args.replay}: {vm.skipped} snapshot"
              f"{'s' if vm.skipped > 1 else ''} cut short, left out",
              file=sys.stderr)
    stopping = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    refresh = sys.stdout.isatty() and not (args.json or args.csv
                                           or args.replay)
    writer = csv.writer(sys.stdout) if args.csv else None
    reports, status = [], 0
    try:
        samples = vm.samples(args.interval, stopping)
        first = previous = next(samples, None)
        if first is None:
            raise QMPFailed("no sample")
        if writer:
            writer.writerow(csv_header(vm))
        for sample in samples:
            seconds = sample.monotonic - previous.monotonic
            report = Report(sample, sample.monotonic - first.monotonic,
                            seconds, rates(previous.stats, sample.stats,
                                           seconds))
            reports.append(report)
            previous = sample
            if args.json:
                print(json.dumps(report.as_json(vm)), flush=True)
            elif writer:
                writer.writerow(report.csv_row(vm))
                sys.stdout.flush()
            else:
                screen = render(vm, report)
                if refresh:
                    sys.stdout.write("\033[H\033[2J")
                elif reports[1:]:
                    screen = "\n" + screen
                print(screen, flush=True)
            if args.count is not None and len(reports) >= args.count:
                break
    except QMPFailed as error:
        print(f"numahint-stat: {error}", file=sys.stderr)
        status = 1
    finally:
        vm.close()
    if args.plot and not plot(vm, reports, args.plot):
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
