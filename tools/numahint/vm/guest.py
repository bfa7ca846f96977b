"""Boot a test guest under QEMU, watch its console, stop it: the runner core.

Everything a Guest does is bounded by one wall-clock deadline, the
configured timeout counted from the start of QEMU.  When it passes, QEMU is
stopped (SIGTERM, then SIGKILL) and the run reports a timeout.

QMP goes through QEMU's own library (qmp.py, on qemu.qmp).  The process
is started here rather than by QEMU's qemu.machine.QEMUMachine, which the
host tests use for QEMUs without a guest: a Guest reads the serial
console from QEMU's stdout as it comes (TAP results, a panic, a hang are
seen while the guest runs, and echoed live to a progress display), keeps
QEMU's stderr apart, holds every wait to the run's one deadline, and has
QEMU killed if the thread that started it dies (PR_SET_PDEATHSIG).
QEMUMachine sends QEMU's output to a log read after shutdown, offers the
console as a socket without a deadline, and its QMP connect and shutdown
waits are unbounded or separately timed.
"""

import ctypes
import dataclasses
import enum
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from .accel import AccelChoice, choose_accel
from .console import ConsoleState, TapCounts, parse_console_line
from .kmod import KernelTree
from .paths import default_qemu
from .pvh import PVHUnavailable, pvh_kernel
from .qemu import qemu_command
from .qmp import QMPClient, QMPError

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
#: After a panic, QEMU exits by itself (panic=-1 and -no-reboot); this is
#: how long that may take before it is killed.
PANIC_GRACE_S = 10.0
#: How long QEMU gets to exit after SIGTERM before SIGKILL.
TERMINATE_GRACE_S = 5.0
#: Kernel parameters of every guest: serial console, and any panic (an Oops
#: included) reboots at once, which -no-reboot turns into QEMU exiting.
BASE_KERNEL_ARGS = "console=ttyS0 panic=-1 oops=panic printk.time=1"

_PR_SET_PDEATHSIG = 1
# Resolved now: the child of fork() should not have to load libraries.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _kill_with_parent() -> None:
    """In the QEMU child: get SIGKILL if the runner dies, so no QEMU is
    left behind.  (The signal follows the thread that started the Guest.)"""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def describe_exit(returncode: int | None) -> str:
    """'exit status N', or 'killed by SIGNAME' for a Popen returncode."""
    if returncode is not None and returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


class ProblemKind(enum.Enum):
    """Why a run failed."""

    TIMEOUT = "timeout"
    QEMU = "qemu"
    PANIC = "panic"
    KERNEL_ERROR = "kernel-error"
    MODULE = "module"
    GUEST_SETUP = "guest-setup"
    INCOMPLETE = "incomplete"
    TESTS_FAILED = "tests-failed"
    QMP = "qmp"


@dataclass(frozen=True)
class Problem:
    """One reason why a run failed, with a message for people."""

    kind: ProblemKind
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class GuestConfig:
    """How to boot a guest.

    kernel_dir: an extracted kernel tree (see kmod.KernelTree).
    initrd: an initramfs from build_initramfs() for that kernel.
    timeout: wall-clock limit of the whole run, in seconds.
    smp: vCPUs, or QEMU -smp syntax such as "2,sockets=2" (use one socket
        per NUMA node, or the guest kernel warns about the topology).
    memory: guest RAM in QEMU -m syntax.
    numa_nodes: give the guest this many NUMA nodes, each with one socket
        and an even share of vCPUs and RAM (0: no NUMA topology).
    append: extra kernel parameters, after the runner's own.
    accel: "auto" (KVM if kvm-probe passes, else TCG), "kvm" or "tcg".
    numahint_device, balloon_device: None for no such device, else its
        -device options ("" for defaults).
    require_module: fail unless the guest loads the numahint module.
    hold: after its report, the guest waits to be stopped over QMP
        instead of powering off.
    test_timeout: per-test limit inside the guest (None: the guest default).
    pvh: boot the uncompressed vmlinux through its PVH entry where the
        kernel supports it (twice as fast to /init under TCG); False boots
        boot/vmlinuz through its own decompressor.
    extra_args: appended to the QEMU command line.
    """

    kernel_dir: Path
    initrd: Path
    qemu: Path = field(default_factory=default_qemu)
    timeout: float = DEFAULT_TIMEOUT_S
    smp: int | str = 1
    memory: str = "1G"
    numa_nodes: int = 0
    machine: str = "q35"
    append: str = ""
    accel: str = "auto"
    numahint_device: str | None = None
    balloon_device: str | None = None
    require_module: bool = False
    hold: bool = False
    test_timeout: int | None = None
    pvh: bool = True
    extra_args: tuple[str, ...] = ()

    def kernel_args(self) -> str:
        args = [BASE_KERNEL_ARGS]
        if self.hold:
            args.append("numahint.hold=1")
        if self.test_timeout is not None:
            args.append(f"numahint.test_timeout={self.test_timeout}")
        if self.append:
            args.append(self.append)
        return " ".join(args)


@dataclass(frozen=True)
class QMPExchange:
    """A QMP command and QEMU's reply ({"return": ...} or {"error": ...})."""

    command: dict
    reply: dict


@dataclass
class RunResult:
    """What happened in one guest run.  `ok` is the verdict."""

    command: list[str]
    accel: AccelChoice
    console: str
    tap: TapCounts | None
    module_status: str | None
    test_failures: list[str]
    kernel_errors: list[str]
    problems: list[Problem]
    returncode: int | None
    qemu_stderr: str
    boot_seconds: float | None
    seconds: float
    qmp: list[QMPExchange] = field(default_factory=list)
    qmp_events: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The guest reported its results, all passed, nothing went wrong."""
        return self.tap is not None and not self.problems

    @property
    def console_lines(self) -> list[str]:
        return self.console.splitlines()


class Guest:
    """A running test guest.  Use as a context manager:

        with Guest(config) as guest:
            guest.wait_for_report()
            if guest.holding:
                guest.execute({"execute": "query-status"})
        result = guest.result

    The console is echoed line by line to `console` and QEMU's messages to
    stderr (console=None: neither), and the console is written to `log`.
    Leaving the block stops QEMU, gracefully if the guest finished, and
    always before it returns.
    """

    def __init__(self, config: GuestConfig, *, console: TextIO | None = sys.stdout,
                 log: Path | None = None):
        self.config = config
        self.result: RunResult | None = None
        self._echo = console
        self._log_path = log
        self._state = ConsoleState()
        self._changed = threading.Condition()
        self._console_closed = False
        self._stderr: list[str] = []
        self._threads: list[threading.Thread] = []
        self._proc: subprocess.Popen | None = None
        self._qmp: QMPClient | None = None
        self._timed_out = False
        self._boot_seconds: float | None = None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self._qmp_socket = ""
        self._accel: AccelChoice | None = None
        self._command: list[str] = []
        self._started = self._deadline = 0.0

    def __enter__(self) -> "Guest":
        self.start()
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.stop(graceful=exc_type is None)

    @property
    def pid(self) -> int | None:
        """QEMU's process id once started, for host-side measurements."""
        return self._proc.pid if self._proc is not None else None

    @property
    def holding(self) -> bool:
        """The guest has reported and waits to be stopped (numahint.hold=1)."""
        return self._state.holding and not self._console_closed

    def start(self) -> None:
        """Choose the accelerator and start QEMU.

        Raises OSError for a missing QEMU or initrd, KernelTreeError for a
        bad kernel directory.
        """
        qemu, initrd = Path(self.config.qemu), Path(self.config.initrd)
        if not os.access(qemu, os.X_OK) or not qemu.is_file():
            raise FileNotFoundError(f"no QEMU binary at {qemu}")
        if not initrd.is_file():
            raise FileNotFoundError(f"no initramfs at {initrd}")
        kernel = self._kernel_image(KernelTree(self.config.kernel_dir))
        self._accel = choose_accel(self.config.accel)
        LOG.info("using %s: %s", self._accel.name.upper(), self._accel.reason)
        self._tmpdir = tempfile.TemporaryDirectory(prefix="numahint-vm-")
        self._qmp_socket = str(Path(self._tmpdir.name) / "qmp.sock")
        self._command = qemu_command(
            qemu=str(self.config.qemu), accel_args=self._accel.qemu_args,
            kernel=kernel, initrd=initrd,
            append=self.config.kernel_args(), smp=self.config.smp,
            memory=self.config.memory, numa_nodes=self.config.numa_nodes,
            machine=self.config.machine,
            qmp_socket=self._qmp_socket,
            numahint_device=self.config.numahint_device,
            balloon_device=self.config.balloon_device,
            extra_args=list(self.config.extra_args))
        LOG.debug("QEMU command: %s", " ".join(self._command))
        log_file = open(self._log_path, "w") if self._log_path else None
        self._started = time.monotonic()
        self._deadline = self._started + self.config.timeout
        try:
            self._proc = subprocess.Popen(
                self._command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, preexec_fn=_kill_with_parent)
        except OSError:
            if log_file is not None:
                log_file.close()
            self._tmpdir.cleanup()
            raise
        self._threads = [
            threading.Thread(target=self._read_console, args=(log_file,),
                             name="numahint-vm-console", daemon=True),
            threading.Thread(target=self._read_stderr,
                             name="numahint-vm-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _kernel_image(self, tree: KernelTree) -> Path:
        if self.config.pvh:
            try:
                vmlinux = pvh_kernel(tree)
                LOG.info("booting %s through its PVH entry", vmlinux)
                return vmlinux
            except PVHUnavailable as reason:
                LOG.info("booting %s: no PVH boot (%s)", tree.vmlinuz, reason)
        return tree.vmlinuz

    def wait_for_report(self) -> TapCounts | None:
        """Wait until the guest reported its results and powered off or
        holds, or panicked, or QEMU stopped, or time ran out.

        Returns the guest's test totals, None if it never reported them.
        """
        state = self._state
        if not self._wait(lambda: (state.tap is not None
                                   and (state.holding or self._console_closed))
                          or state.panic is not None or self._console_closed):
            self._timed_out = True
        return state.tap

    def wait_for_line(self, pattern: str) -> str | None:
        """Wait for a console line matching the regular expression
        `pattern` (searched, from the start of the run); return it, or
        None if the guest stopped, panicked or ran out of time first."""
        regex = re.compile(pattern)
        state = self._state

        def found() -> str | None:
            return next((line for line in state.lines if regex.search(line)),
                        None)

        self._wait(lambda: found() is not None or state.panic is not None
                   or self._console_closed)
        return found()

    def execute(self, command: dict) -> dict:
        """Run a QMP command; return QEMU's reply.  Raises QMPError if QEMU
        cannot be reached or does not answer in time."""
        if self._qmp is None:
            self._qmp = QMPClient(self._qmp_socket, self._deadline)
        return self._qmp.execute(command)

    def wait_for_event(self, name: str, timeout: float, since: int = 0,
                       data: dict | None = None) -> int | None:
        """Wait up to `timeout` seconds (within the run's deadline) for a
        QMP event called `name` whose data hold the items of `data`,
        among the events from index `since` of qmp_events on.  Returns
        its index there, None if none came.  Raises QMPError if QEMU
        cannot be reached."""
        if self._qmp is None:
            self._qmp = QMPClient(self._qmp_socket, self._deadline)
        return self._qmp.wait_event(name, time.monotonic() + timeout,
                                    since, data)

    @property
    def qmp_events(self) -> list[dict]:
        """The QMP events received so far, oldest first."""
        return self._qmp.events if self._qmp is not None else []

    def stop(self, graceful: bool = True) -> None:
        """Stop QEMU and collect the result (in self.result).

        graceful: let a finished guest power off, quit a holding one over
        QMP, give a panicked one time to exit by itself.  Otherwise, and
        whenever that does not work in time, QEMU is terminated.
        """
        if self._proc is None or self.result is not None:
            return
        try:
            if graceful:
                self._stop_gracefully()
        finally:
            self._terminate()
            for thread in self._threads:
                thread.join(timeout=TERMINATE_GRACE_S)
            self._proc.stdout.close()
            self._proc.stderr.close()
            if self._qmp is not None:
                self._qmp.close()
            self._tmpdir.cleanup()
            self.result = self._make_result()

    def _stop_gracefully(self) -> None:
        state = self._state
        if self._console_closed:
            return
        if state.panic is not None:
            grace_end = min(self._deadline, time.monotonic() + PANIC_GRACE_S)
            self._wait(lambda: self._console_closed, grace_end)
            return
        if self.holding:
            try:
                self.execute({"execute": "quit"})
            except QMPError as error:
                LOG.warning("cannot quit QEMU over QMP: %s", error)
        elif state.tap is None:
            return  # Stopped before the guest finished: nothing to wait for.
        if not self._wait(lambda: self._console_closed):
            self._timed_out = True

    def _wait(self, predicate: Callable[[], bool],
              deadline: float | None = None) -> bool:
        """Wait for predicate() (checked on console changes) until
        `deadline` (default: the run's); False if the deadline passed."""
        deadline = self._deadline if deadline is None else deadline
        with self._changed:
            return self._changed.wait_for(
                predicate, timeout=max(0.0, deadline - time.monotonic()))

    def _terminate(self) -> None:
        """Make sure QEMU is gone: SIGTERM, then SIGKILL."""
        proc = self._proc
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            LOG.warning("QEMU ignored SIGTERM for %g s; killing it",
                        TERMINATE_GRACE_S)
            proc.kill()
            proc.wait()

    def _read_console(self, log_file) -> None:
        """Thread: echo, log and parse the console until QEMU closes it."""
        try:
            for raw in iter(self._proc.stdout.readline, b""):
                line = raw.decode(errors="replace").rstrip("\r\n")
                self._echo_line(line)
                if log_file is not None:
                    log_file.write(line + "\n")
                    log_file.flush()
                with self._changed:
                    parse_console_line(self._state, line)
                    if self._state.init_started and self._boot_seconds is None:
                        self._boot_seconds = time.monotonic() - self._started
                    self._changed.notify_all()
        finally:
            if log_file is not None:
                log_file.close()
            with self._changed:
                self._console_closed = True
                self._changed.notify_all()

    def _echo_line(self, line: str) -> None:
        if self._echo is None:
            return
        try:
            self._echo.write(line + "\n")
            self._echo.flush()
        except (BrokenPipeError, ValueError):
            self._echo = None  # The reader went away; keep running the guest.

    def _read_stderr(self) -> None:
        """Thread: collect QEMU's own messages; unless quiet (no console
        echo), show them on stderr as they come."""
        for raw in iter(self._proc.stderr.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            self._stderr.append(line)
            if self._echo is not None:
                print(line, file=sys.stderr, flush=True)

    def _make_result(self) -> RunResult:
        state = self._state
        returncode = self._proc.poll()
        return RunResult(
            command=self._command, accel=self._accel,
            console="".join(f"{line}\n" for line in state.lines),
            tap=state.tap, module_status=state.module_status,
            test_failures=list(state.test_failures),
            kernel_errors=list(state.kernel_errors),
            problems=self._problems(returncode),
            returncode=returncode, qemu_stderr="\n".join(self._stderr),
            boot_seconds=self._boot_seconds,
            seconds=time.monotonic() - self._started,
            qmp_events=list(self._qmp.events) if self._qmp else [])

    def _problems(self, returncode: int | None) -> list[Problem]:
        """Everything that went wrong, most fundamental first."""
        state = self._state
        stderr = "\n".join(self._stderr).strip()
        problems: list[Problem] = []

        def report(kind: ProblemKind, message: str) -> None:
            problems.append(Problem(kind, message))

        if self._timed_out:
            report(ProblemKind.TIMEOUT,
                   f"TIMEOUT after {self.config.timeout:g} s "
                   f"(last console line: {state.last_line})")
        qemu_start_failed = not state.lines and bool(returncode)
        if qemu_start_failed:
            report(ProblemKind.QEMU, f"QEMU failed to start "
                   f"({describe_exit(returncode)}):\n{stderr or '(no message)'}")
        if state.panic is not None:
            report(ProblemKind.PANIC, f"guest kernel panic: {state.panic}")
        for error in state.kernel_errors:
            report(ProblemKind.KERNEL_ERROR, f"guest kernel error: {error}")
        for error in state.init_errors:
            report(ProblemKind.GUEST_SETUP, f"guest setup error: {error}")
        if state.module_status == "failed":
            report(ProblemKind.MODULE,
                   f"guest module missing/failed: {state.module_error}")
        elif self.config.require_module and state.module_status == "absent":
            report(ProblemKind.MODULE, "guest module missing/failed: the "
                   "initramfs has no numahint module (build it with --module)")
        elif (self.config.require_module and state.module_status is None
              and state.init_started):
            report(ProblemKind.MODULE, "guest module missing/failed: the "
                   "guest never reported loading the numahint module")
        if state.tap is None and state.panic is None and not self._timed_out \
                and not qemu_start_failed:
            report(ProblemKind.INCOMPLETE,
                   f"guest stopped before reporting results (QEMU "
                   f"{describe_exit(returncode)}; last console line: {state.last_line})"
                   + (f"\nQEMU said:\n{stderr}" if stderr else ""))
        elif state.tap is not None and returncode and returncode > 0:
            report(ProblemKind.QEMU, f"QEMU exited with status {returncode}"
                   " after the guest reported"
                   + (f":\n{stderr}" if stderr else ""))
        if state.tap is not None and state.tap.failed:
            report(ProblemKind.TESTS_FAILED,
                   f"guest tests failed: {state.tap}"
                   + "".join(f"\n  {line}" for line in state.test_failures))
        return problems


def run_guest(config: GuestConfig, *, qmp_after: tuple[dict, ...] = (),
              console: TextIO | None = sys.stdout,
              log: Path | None = None) -> RunResult:
    """Boot a guest, wait for its test report, run `qmp_after`, stop it.

    With qmp_after the guest holds after its report (numahint.hold=1), the
    commands run in order over QMP, then QEMU quits; their replies are in
    result.qmp, and an error reply or a QMP failure is a problem.
    """
    if qmp_after and not config.hold:
        config = dataclasses.replace(config, hold=True)
    qmp: list[QMPExchange] = []
    qmp_problems: list[Problem] = []
    guest = Guest(config, console=console, log=log)
    with guest:
        tap = guest.wait_for_report()
        if qmp_after and tap is not None and not guest.holding:
            qmp_problems.append(Problem(
                ProblemKind.QMP, "QMP commands not run: the guest did not wait "
                "for them (no NUMAHINT-GUEST-HOLD line)"))
        for command in qmp_after if guest.holding else ():
            try:
                reply = guest.execute(command)
            except QMPError as error:
                qmp_problems.append(Problem(ProblemKind.QMP, f"QMP: {error}"))
                break
            qmp.append(QMPExchange(command, reply))
            if "error" in reply:
                qmp_problems.append(Problem(
                    ProblemKind.QMP, f"QMP command {command.get('execute')} "
                    f"failed: {reply['error']}"))
    result = guest.result
    result.qmp = qmp
    result.problems += qmp_problems
    return result
