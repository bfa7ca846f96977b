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
  - a dynamically linked OpenMP program that does not say when its data
    is set up, and grows it to its end: its libraries go into the guest,
    it gets OMP_NUM_THREADS, OMP_PLACES and OMP_PROC_BIND from its node's
    vCPUs, and each run's locality stands on >= 90% of its page faults
    (the exit sample), while the periodic samples alone cover far less;
  - the same with --span, its threads on both nodes' vCPUs: the exit
    sample is split by the thread that allocated each page (the guest
    kernel's trace), one thread a vCPU and node;
  - the harness marks a run whose largest sample holds < 90% of its faults
    "partial sample" (its parser, on made-up host lines: no guest);
  - a workload that crashes (SIGSEGV), a guest kernel that panics, and a
    harness stopped by SIGINT each end with a clear message, exit status
    1, and what was measured kept and marked PARTIAL.
"""

import csv
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from numahint.experiments import rerun

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


#: Grows its working set in steps and holds it to its exit, the last step
#: (24 of 32 MiB) the largest, and says nothing about it (no NH_READY):
#: only a sample at its exit sees it all.  Prints what OpenMP gave it.
GROW_C = r"""
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes first: a read first would map the zero page, a second fault. */
static double touch(char *p, size_t bytes, int passes)
{
	double sum = 0;

#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < bytes; i += 64)
		p[i] = 1;
	for (int k = 1; k < passes; k++) {
#pragma omp parallel for schedule(static) reduction(+:sum)
		for (size_t i = 0; i < bytes; i += 64) {
			p[i] += 1;
			sum += p[i];
		}
	}
	return sum;
}

int main(void)
{
	const size_t step = 2 << 20;
	const char *places = getenv("OMP_PLACES");
	double sum = 0;

	for (int i = 0; i < 4; i++) {
		sum += touch(malloc(step), step, 4);
		usleep(300000);
	}
	sum += touch(malloc(12 * step), 12 * step, 1);
	printf("NH-RESULT kernel=grow threads=%d places=%d bind=%d "
	       "omp_places=%s rate=%.0f unit=sum checksum=0x%lx\n",
	       omp_get_max_threads(), omp_get_num_places(),
	       (int)omp_get_proc_bind(), places ? places : "-", sum,
	       (unsigned long)sum);
	return 0;
}
"""


def host_lines(samples: list[tuple[str, float, int, int]],
               minflt: int) -> list[str]:
    """What the host side prints for one run on node 1 with these samples
    (kind, at, pages, faults so far), all pages local."""
    lines = ["RIG-RESULT phase=begin run=1 node=1 cpus=1-1 "
             "host_minflt=100 host_majflt=0 host_cpu_s=1.00"]
    for kind, at, pages, faults in samples:
        lines.append(f"RIG-RESULT phase=sample name=run1 kind={kind} "
                     f"at={at} pages={pages} faults={faults} pages={pages} "
                     f"node0=0 node1={pages} absent=0 error=0")
    lines += [f"RIG-RESULT RUN-RESULT name=run1 exit=0 signal=0 wall=3.0 "
              f"minflt={minflt} majflt=0 utime=1.0 stime=0.5 "
              f"samples={len(samples)}",
              "RIG-RESULT phase=end run=1 exit=0 host_minflt=900 "
              "host_majflt=0 host_cpu_s=2.00"]
    return lines


class CoverageTest(unittest.TestCase):
    """The harness's verdict on how much of a run its locality stands on."""

    @classmethod
    def setUpClass(cls):
        cls.rerun = rerun

    def boot(self, samples, minflt):
        rerun = self.rerun
        config = next(c for c in rerun.CONFIGS if c.name == "none")
        boot = rerun.Boot(config)
        rerun.parse(boot, host_lines(samples, minflt))
        return boot

    def test_partial_sample(self):
        # Periodic samples saw 2,000 and 3,000 pages of 10,000 faults; the
        # exit sample is missing (a thread's exit killed the main one).
        boot = self.boot([("periodic", 1.0, 2000, 2100),
                          ("periodic", 2.0, 3000, 3100)], 10000)
        r = boot.runs[0]
        self.assertEqual((r.pages, r.sample.kind), (3000, "periodic"))
        self.assertAlmostEqual(r.coverage, 0.3)
        self.assertTrue(r.partial_sample)
        text = self.rerun.tables([boot], False)
        self.assertIn("**Partial sample**: the locality of none run 1", text)
        self.assertIn("30.0% (partial sample)", text)
        self.assertIn("run 1: partial sample", text)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "results.csv"
            self.rerun.write_csv(path, [boot], False)
            with open(path, newline="") as f:
                row = next(csv.DictReader(f))
        self.assertEqual((row["partial_sample"], row["sample_kind"],
                          row["samples"]), ("1", "periodic", "2"))

    def test_whole_working_set(self):
        # The exit sample holds 9,500 of 10,000 faults: 95%, not partial.
        boot = self.boot([("periodic", 1.0, 2000, 2100),
                          ("exit", 2.5, 9500, 10000)], 10000)
        r = boot.runs[0]
        self.assertEqual((r.pages, r.sample.kind), (9500, "exit"))
        self.assertFalse(r.partial_sample)
        self.assertEqual(r.local, 1.0)
        self.assertNotIn("artial sample", self.rerun.tables([boot], False))
        # 89.9%: partial.
        boot = self.boot([("exit", 2.5, 8990, 10000)], 10000)
        self.assertTrue(boot.runs[0].partial_sample)


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

    def program(self, name: str, source: str, *flags: str) -> Path:
        src = self.tmp / f"{name}.c"
        src.write_text(source)
        binary = self.tmp / name
        subprocess.run(["cc", "-O2", *flags, "-o", str(binary), str(src)],
                       check=True)
        return binary

    def static_program(self, name: str, source: str) -> Path:
        return self.program(name, source, "-static")

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

    def test_unannounced_dynamic_openmp(self):
        grow = self.program("grow", GROW_C, "-fopenmp")
        proc = self.run_rerun("-c", "none", "--runs", "2", "--exit-hold",
                              "1", "--workload", str(grow))
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:])
        self.assertRegex(proc.stdout, r"dynamically linked; the guest gets "
                         r"its libraries and loader \(.*libgomp\.so\.1.*"
                         r"ld-linux-x86-64\.so\.2")
        rows = self.rows()
        self.assertEqual(len(rows), 2)
        with open(self.tmp / "samples.csv", newline="") as f:
            samples = list(csv.DictReader(f))
        for r in rows:
            faults = int(r["guest_minflt"]) + int(r["guest_majflt"])
            mine = [s for s in samples if s["run"] == r["run"]]
            periodic = max((int(s["pages"]) for s in mine
                            if s["kind"] == "periodic"), default=0)
            print(f"# grow run {r['run']}: {r['samples']} samples, locality "
                  f"on the {r['sample_kind']} sample: {r['pages']} pages of "
                  f"{faults} faults ({float(r['coverage']):.1%}); the "
                  f"largest periodic one had {periodic}")
            # 32 MiB: 8192 pages, all held to the exit, where it is read.
            self.assertEqual(r["sample_kind"], "exit")
            self.assertGreaterEqual(int(r["pages"]), 8192)
            self.assertGreaterEqual(float(r["coverage"]), 0.9)
            self.assertEqual(r["partial_sample"], "0")
            self.assertEqual(float(r["local"]), 1.0)
            # The last 24 MiB come after the first periodic samples.
            self.assertLess(periodic, 0.9 * faults)
        # OpenMP got the run's node: one vCPU of 2, one place, bound close.
        log = (self.tmp / "logs" / "console-none.log").read_text()
        got = re.findall(r"RIG-RESULT NH-RESULT kernel=grow threads=(\d+) places=(\d+) "
                         r"bind=(\d+) omp_places=(\S+)", log)
        self.assertEqual(got, [("1", "1", "3", "{1}"), ("1", "1", "3", "{0}")])
        self.assertNotIn("artial sample",
                         (self.tmp / "results.md").read_text())

    def test_threads_span_nodes(self):
        grow = self.program("grow", GROW_C, "-fopenmp")
        proc = self.run_rerun("-c", "none", "--runs", "2", "--span",
                              "--exit-hold", "1", "--workload", str(grow))
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:])
        rows = self.rows()
        self.assertEqual([r["node"] for r in rows], ["all", "all"])
        with open(self.tmp / "samples.csv", newline="") as f:
            samples = list(csv.DictReader(f))
        for r in rows:
            mine = [s for s in samples if s["run"] == r["run"]]
            exit_pages = next(int(s["pages"]) for s in mine
                              if s["kind"] == "exit")
            threads = [s for s in mine if s["kind"] == "thread-of-exit"
                       and s["tid"] != "0"]
            print(f"# span run {r['run']}: exit sample {exit_pages} pages; "
                  + ", ".join(f"thread {t['tid']} on vCPU {t['vcpu']} "
                              f"(node {t['thread_node']}): {t['pages']} "
                              f"pages, local {float(t['local']):.3f}"
                              for t in threads))
            self.assertEqual(r["sample_kind"], "exit")
            self.assertGreaterEqual(float(r["coverage"]), 0.9)
            # Two threads, one on each node's vCPU, each first-touched
            # its static half of every step: 4096 pages or so each.
            self.assertEqual(sorted((t["vcpu"], t["thread_node"])
                                    for t in threads),
                             [("0", "0"), ("1", "1")])
            for t in threads:
                self.assertGreater(int(t["pages"]), 3500)
                self.assertEqual(float(t["local"]), 1.0)
            # Nearly every page of the sample has its thread.
            self.assertGreaterEqual(sum(int(t["pages"]) for t in threads),
                                    0.99 * exit_pages)
        log = (self.tmp / "logs" / "console-none.log").read_text()
        got = re.findall(r"RIG-RESULT NH-RESULT kernel=grow threads=(\d+) "
                         r"places=(\d+) bind=(\d+) omp_places=(\S+)", log)
        self.assertEqual(got, [("2", "2", "3", "{0},{1}")] * 2)
        self.assertIn("Per thread, for runs on both nodes",
                      (self.tmp / "results.md").read_text())

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
        # As from a terminal: a shell without job control starts a
        # background command with SIGINT ignored, and Python then leaves
        # it ignored (make check run with &).
        with subprocess.Popen(cmd, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              preexec_fn=lambda: signal.signal(
                                  signal.SIGINT, signal.SIG_DFL)) as proc:
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
