"""numahint.vm: build test initramfs images and run numahint test guests.

The library behind tools/numahint-vm, for other tools (demos, experiment
harnesses, a two-node nested rig) to reuse:

    from numahint import vm

Building an initramfs
---------------------
    info = vm.build_initramfs(vm.kernel_dir_for("6.1.0-50-amd64"),
                              Path("out/initrd.gz"),
                              module=Path("virtio_numahint.ko"),
                              tests_dirs=(Path("selftests/numahint"),),
                              init_script=None,          # or a script to run
                              extra_kernel_modules=())   # e.g. ("virtio_net",)

returns an InitramfsInfo (kernel_release, kernel_modules in load order,
numahint_module, tests, size, warnings).  Bad inputs raise InitramfsError
or KernelTreeError.  The archive is reproducible: same inputs, same bytes.

Running a guest to completion
-----------------------------
    config = vm.GuestConfig(kernel_dir=..., initrd=info.path, timeout=120,
                            smp=2, memory="2G", numa_nodes=2, accel="auto",
                            numahint_device="",         # -device virtio-numahint-pci
                            require_module=True,
                            extra_args=("-numa", "node,nodeid=0"))
    result = vm.run_guest(config, qmp_after=({"execute": "query-status"},),
                          console=sys.stdout,           # None: quiet
                          log=Path("out/console.log"))

GuestConfig is frozen; derive variants with dataclasses.replace().  By
default the kernel boots as its extracted vmlinux through the PVH entry
(pvh=True; about 3.5 s to /init under TCG instead of 7).
run_guest() never hangs: everything is bounded by config.timeout, after
which QEMU is killed.  It returns a RunResult:

    result.ok              verdict: results reported, no failure, no problem
    result.tap             TapCounts(passed, failed, skipped) or None
    result.problems        [Problem(kind: ProblemKind, message)], e.g.
                           TIMEOUT, QEMU, PANIC, KERNEL_ERROR, MODULE,
                           GUEST_SETUP, INCOMPLETE, TESTS_FAILED, QMP
    result.console         the console text (result.console_lines)
    result.test_failures   "not ok" and per-test FAIL lines
    result.kernel_errors   Oops/BUG/WARNING/... kernel messages
    result.module_status   "loaded", "failed", "absent" or None
    result.qmp             [QMPExchange(command, reply)] for qmp_after
    result.qmp_events      QMP events seen
    result.accel           AccelChoice(name "kvm"/"tcg", reason)
    result.boot_seconds    QEMU start to /init start; result.seconds: total
    result.command, result.returncode, result.qemu_stderr

Driving a guest yourself
------------------------
For interaction while the guest is up, use Guest, a context manager whose
exit always leaves QEMU stopped:

    with vm.Guest(dataclasses.replace(config, hold=True)) as guest:
        tap = guest.wait_for_report()      # after the guest's tests
        if guest.holding:
            reply = guest.execute({"execute": "qom-list", "arguments": ...})
    result = guest.result

Several Guests may run at once (each has its own QMP socket); a Guest's
QEMU is killed if the thread that started it dies.

The guest side
--------------
tools/vm/init.sh is the guest's /init.  It loads the virtio modules and
/lib/modules/numahint/virtio_numahint.ko, lists the virtio devices, runs
/tests (or numahint.run=PATH, or the --init-script), each under a time
limit (numahint.test_timeout=SEC), prints "NUMAHINT-GUEST-DONE pass=N
fail=M skip=K" and powers off, or holds with numahint.hold=1.
Kernel parameters <module>.<param>=<value> are passed to its insmod.

Accelerator
-----------
accel="auto" compiles and runs tools/vm/kvm-probe.c (see probe_kvm()):
KVM only if a vCPU runs guest code at hardware speed, else TCG.
"""

from .accel import AccelChoice, ProbeResult, choose_accel, probe_kvm
from .console import TapCounts
from .guest import (Guest, GuestConfig, Problem, ProblemKind, QMPExchange,
                    RunResult, run_guest)
from .initramfs import InitramfsError, InitramfsInfo, build_initramfs
from .kmod import KernelTree, KernelTreeError
from .paths import cache_dir, default_qemu, kernel_dir_for
from .qmp import QMPError

__all__ = [
    "AccelChoice", "Guest", "GuestConfig", "InitramfsError", "InitramfsInfo",
    "KernelTree", "KernelTreeError", "Problem", "ProblemKind", "ProbeResult",
    "QMPError", "QMPExchange", "RunResult", "TapCounts", "build_initramfs",
    "cache_dir", "choose_accel", "default_qemu", "kernel_dir_for",
    "probe_kvm", "run_guest",
]
