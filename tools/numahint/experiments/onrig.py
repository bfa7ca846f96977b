# SPDX-License-Identifier: GPL-2.0-or-later
"""Experiments on the two-node rig that measure something other than
locality (placement-bench --rig, main-loop-latency): one inner scenario
of tools/rig/rig-inner.sh in one boot of the outer VM, and what
tools/rig/rig-outer.sh printed of it (its RIG-RESULT lines).

tools/numahint-rig runs the locality scenarios and judges them; this
module only builds the images (numahint.rig.build_images) and boots.
"""

import argparse
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import rig, vm

_KV = re.compile(r"([\w-]+)=(\S+)")


@dataclass(frozen=True)
class Scenario:
    """An inner scenario (rig.variant=) with its kernel parameters."""

    name: str
    title: str
    params: str = ""

    def append(self, args) -> str:
        """Inner kernel parameters (numahint.rig.build_images)."""
        return f"rig.variant={self.name} rig.mib={args.mib} {self.params}"


def add_arguments(parser: argparse.ArgumentParser, mib: int,
                  timeout: float) -> None:
    """The options every rig experiment has."""
    parser.add_argument("--mib", type=int, default=mib,
                        help=f"MiB the inner apps touch (default {mib})")
    parser.add_argument("--kernel", default="6.1",
                        help="kernel of both VMs (default 6.1)")
    parser.add_argument("--timeout", type=float, default=timeout,
                        help=f"seconds per boot (default {timeout:.0f})")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show every console line")


def prepare(args) -> None:
    """What numahint.rig.build_images and boot() read from args, as
    tools/numahint-rig's defaults for two nodes."""
    args.smp, args.memory, args.inner_memory, args.inner_smp = \
        "4", "4G", "1G", 2
    args.stress, args.repeat = "0", 1
    args.inner_append = getattr(args, "inner_append", "")
    args.hold = getattr(args, "hold", 5)


def results(lines: list[str]) -> list[dict]:
    """The RIG-RESULT lines, as dicts of their key=value pairs."""
    return [dict(_KV.findall(line.split("RIG-RESULT ", 1)[1]))
            for line in lines if "RIG-RESULT " in line]


def load_average() -> str:
    """This machine's load average over 1, 5 and 15 minutes: other work
    on its two cores slows the nested VMs, boots compare only as well as
    their loads do."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(config: rig.RigConfig, scenario: Scenario, args, qemu: Path,
        host_thp: str, log: Path,
        inner_files: tuple[Path, ...] = ()) -> list[str]:
    """Boot the outer VM (transparent huge pages host_thp) with the inner
    QEMU qemu running scenario under config; return the outer console's
    lines (also written to log).  Raises SystemExit if the scenario did
    not end (no RIG-END) or reported RIG-FAIL."""
    prepare(args)
    args.qemu = qemu
    with tempfile.TemporaryDirectory(prefix="numahint-onrig-") as tmp:
        images = rig.build_images(args, [(config, scenario)], Path(tmp),
                                  inner_files=inner_files,
                                  outer_programs=(*rig.OUTER_PROGRAMS,
                                                  "rig-qmp"))
        # From a copy, which a rebuild of QEMU cannot take away.
        outer_qemu = Path(tmp) / "outer-qemu"
        shutil.copy2(vm.default_qemu(), outer_qemu)
        outer = vm.GuestConfig(
            kernel_dir=vm.kernel_dir_for(args.kernel), initrd=images,
            timeout=args.timeout, smp=args.smp, memory=args.memory,
            numa_nodes=2, accel="tcg", test_timeout=int(args.timeout) - 30,
            qemu=outer_qemu,
            append=(f"rig.config={rig.job_name(config, scenario)} "
                    f"transparent_hugepage={host_thp} "
                    "numa_balancing=disable"))
        label = f"{host_thp}/{config.name}/{scenario.name}"
        print(f"{scenario.name}: ({label}) {scenario.title}; booting the "
              f"outer VM (log: {log})", flush=True)
        t0 = time.monotonic()
        result = rig.boot(outer, label, args.verbose, log)
        lines = result.console_lines if result else []
    print(f"{scenario.name}: ({label}) done in {time.monotonic() - t0:.0f} s; "
          f"this machine's load average: {load_average()}", flush=True)
    failed = [line for line in lines if "RIG-FAIL" in line]
    if failed or not any("RIG-END" in line for line in lines):
        raise SystemExit(f"{scenario.name}: the run failed ({log}): "
                         + ("; ".join(failed) or "no RIG-END"))
    return lines

