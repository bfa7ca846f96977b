#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""experiments/rerun end to end, and how it fails.

The harness runs here in host mode (--mode host): this machine plays the
NUMA host, the patched QEMU runs the guest directly (TCG: the KVM of our
build machines cannot run guests), and tools/rig/rig-outer.sh measures
placement with move_pages(2).  This machine has one node, so --nodes 0,0
puts both guest "nodes" on node 0: locality is trivially full, but every
piece of the pipeline runs, in seconds instead of the rig's minutes.

  - two configurations, two runs each: every run is measured (locality,
    guest and host faults, QEMU CPU time, the device's counters), the
    tables, CSV and plot are written, exit status 0;
  - a workload that crashes (SIGSEGV), a guest kernel that panics, and a
    harness stopped by SIGINT each end with a clear message, exit status
    1, and what was measured kept and marked PARTIAL.
"""

import csv
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RERUN = REPO / "experiments" / "rerun"

#: Runs a few seconds in a TCG guest: long enough to be sampled.
WORKLOAD = "nh-triad -m 32 -i 100"

CRASH_C = r"""
#include <signal.h>
int main(void) { raise(SIGSEGV); return 0; }
"""

#: Panics the guest kernel: sysrq 'c' (crash), as root in the guest.
PANIC_C = r"""
#include <fcntl.h>
#include <unistd.h>
int main(void)
{
	int fd = open("/proc/sysrq-trigger", O_WRONLY);

	sleep(1);
	return fd < 0 || write(fd, "c", 1) != 1;
}
"""


def rerun_command(out: Path, *extra: str) -> list[str]:
    return [str(RERUN), "--mode", "host", "--nodes", "0,0",
            "--accel", "tcg", "--timeout", "240", "--out", str(out),
            "--logs", str(out / "logs"), *extra]


@unittest.skipUnless(os.geteuid() == 0, "needs root (host mode pins threads "
                     "and sets numa_balancing)")
class RerunHarnessTest(unittest.TestCase):

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="numahint-test-rerun-"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_rerun(self, *extra: str) -> subprocess.CompletedProcess:
        start = time.monotonic()
        proc = subprocess.run(rerun_command(self.tmp, *extra), text=True,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=900)
        print(f"# rerun {' '.join(extra)}: exit {proc.returncode} in "
              f"{time.monotonic() - start:.0f} s")
        return proc

    def static_program(self, name: str, source: str) -> Path:
        src = self.tmp / f"{name}.c"
        src.write_text(source)
        binary = self.tmp / name
        subprocess.run(["cc", "-O2", "-static", "-o", str(binary), str(src)],
                       check=True)
        return binary

    def rows(self) -> list[dict]:
        with open(self.tmp / "results.csv", newline="") as f:
            return list(csv.DictReader(f))

    def test_every_run_measured(self):
        proc = self.run_rerun("-c", "none", "-c", "numahint", "--runs", "2",
                              "--workload", WORKLOAD)
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:])
        self.assertIn("rerun: mode: host", proc.stdout)
        rows = self.rows()
        self.assertEqual([(r["config"], r["run"]) for r in rows],
                         [("none", "1"), ("none", "2"),
                          ("numahint", "1"), ("numahint", "2")])
        for r in rows:
            print(f"# {r['config']} run {r['run']}: node {r['node']}, "
                  f"{r['pages']} pages, local {float(r['local']):.3f}, "
                  f"guest faults {r['guest_minflt']}, host faults "
                  f"{r['host_minflt']}, "
                  f"QEMU CPU {float(r['qemu_cpu_s']):.2f} s, "
                  f"{r['workload_rate']} {r['workload_unit']}")
            self.assertEqual(r["partial"], "0")
            # The working set: 16 MiB of arrays is 4096 pages or more.
            self.assertGreaterEqual(int(r["pages"]), 4096)
            # Both "nodes" are node 0 here: every page is local.
            self.assertEqual(float(r["local"]), 1.0)
            self.assertGreaterEqual(int(r["guest_minflt"]), 4096)
            self.assertGreater(int(r["host_minflt"]), 0)
            self.assertGreater(float(r["qemu_cpu_s"]), 0)
            self.assertTrue(r["checksum"])
            # The device's counters (qom-get nh0 stats) around each run.
            self.assertTrue(r["migrated_pages"] and r["discarded_mib"])
        text = (self.tmp / "results.md").read_text()
        self.assertNotIn("PARTIAL", text)
        self.assertIn("--mode host", text)
        if shutil.which("gnuplot"):
            self.assertGreater((self.tmp / "results.png").stat().st_size, 0)

    def test_workload_crash(self):
        crash = self.static_program("crash", CRASH_C)
        proc = self.run_rerun("-c", "none", "--runs", "2",
                              "--workload", str(crash))
        self.assertEqual(proc.returncode, 1, proc.stdout[-3000:])
        self.assertIn("run 1: the workload was killed by SIGSEGV", proc.stdout)
        self.assertTrue((self.tmp / "results.md").read_text()
                        .startswith("**PARTIAL**"))
        self.assertTrue(all(r["partial"] == "1" for r in self.rows()))

    def test_guest_panic(self):
        panic = self.static_program("panic", PANIC_C)
        proc = self.run_rerun("-c", "numahint", "--runs", "2",
                              "--workload", str(panic))
        self.assertEqual(proc.returncode, 1, proc.stdout[-3000:])
        self.assertIn("inner kernel panic", proc.stdout)
        self.assertTrue((self.tmp / "results.md").read_text()
                        .startswith("**PARTIAL**"))

    def test_interrupted(self):
        cmd = rerun_command(self.tmp, "-c", "none", "-c", "numahint",
                            "--runs", "2", "--workload", WORKLOAD)
        with subprocess.Popen(cmd, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as proc:
            out = []
            for line in proc.stdout:
                out.append(line)
                # Stop it once the first configuration is done.
                if "[1/2] (none) done" in line:
                    proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=120)
        text = "".join(out)
        print(f"# rerun stopped by SIGINT: exit {rc}")
        self.assertEqual(rc, 1, text[-3000:])
        self.assertIn("interrupted; keeping what was measured", text)
        self.assertTrue((self.tmp / "results.md").read_text()
                        .startswith("**PARTIAL**"))
        rows = self.rows()
        self.assertEqual([r["config"] for r in rows], ["none", "none"])
        self.assertTrue(all(r["partial"] == "1" for r in rows))
        # No QEMU is left behind (its sockets are in RIG_TMP).
        left = subprocess.run(["pgrep", "-f", "numahint-rerun-host-"],
                              stdout=subprocess.PIPE, text=True).stdout
        self.assertEqual(left, "", f"processes left: {left}")


if __name__ == "__main__":
    unittest.main()
