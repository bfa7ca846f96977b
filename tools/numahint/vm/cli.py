"""The numahint-vm command line (tools/numahint-vm)."""

import argparse
import json
import logging
import signal
import sys
import tempfile
from pathlib import Path

from .accel import ACCELS, probe_kvm
from .guest import DEFAULT_TIMEOUT_S, GuestConfig, RunResult, run_guest
from .initramfs import InitramfsError, InitramfsInfo, build_initramfs
from .kmod import KernelTreeError
from .paths import default_qemu, kernel_dir_for

LOG = logging.getLogger("numahint.vm")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

EPILOG = """\
exit status: 0 when the guest reported results with no failure and nothing
went wrong, 1 otherwise, 2 for bad arguments or inputs.

examples:
  numahint-vm initramfs --kernel 6.1.0-50-amd64 --out out/initrd.gz \\
      --module guest-driver/virtio_numahint.ko --tests selftests/numahint
  numahint-vm run --kernel 6.1.0-50-amd64 --initrd out/initrd.gz \\
      --numahint --require-module --qmp-after query-status
  numahint-vm test --kernel 6.12.95+deb12-amd64 --tests selftests/numahint \\
      --numa 2 --smp 2 --mem 2G -- -device virtio-rng-pci
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra_qemu_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, extra_qemu_args = argv[:split], argv[split + 1:]
    parser = _parser()
    args = parser.parse_args(argv)
    if extra_qemu_args and args.command not in ("run", "test"):
        parser.error(f"QEMU arguments after -- are for run and test, "
                     f"not {args.command}")
    _setup_logging(args.verbose)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if args.command == "kvm-probe":
            return _kvm_probe()
        if args.command == "initramfs":
            _build(args, args.out)
            return EXIT_OK
        if args.command == "run":
            return _run(args, Path(args.initrd), extra_qemu_args)
        with tempfile.TemporaryDirectory(prefix="numahint-vm-") as tmp:
            initrd = Path(args.out or Path(tmp) / "initrd.gz")
            _build(args, initrd)
            return _run(args, initrd, extra_qemu_args)
    except (InitramfsError, KernelTreeError, OSError, ValueError) as error:
        LOG.error("%s", error)
        return EXIT_USAGE
    except KeyboardInterrupt:
        LOG.error("interrupted; QEMU stopped")
        return 128 + signal.SIGINT


def _exit_on_sigterm(signum, frame) -> None:
    """Unwind (stopping QEMU on the way) and exit as if killed."""
    LOG.error("terminated; stopping QEMU")
    raise SystemExit(128 + signum)


def _setup_logging(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("numahint-vm: %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.DEBUG if verbosity else logging.INFO)


def _kernel_dir(args: argparse.Namespace) -> Path:
    return Path(args.kernel_dir) if args.kernel_dir else kernel_dir_for(args.kernel)


def _build(args: argparse.Namespace, out: Path) -> InitramfsInfo:
    info = build_initramfs(
        _kernel_dir(args), Path(out),
        module=Path(args.module) if args.module else None,
        tests_dirs=tuple(Path(d) for d in args.tests),
        init_script=Path(args.init_script) if args.init_script else None,
        extra_kernel_modules=tuple(args.kmod))
    LOG.info("built %s (%d KiB) for kernel %s: kernel modules [%s], "
             "numahint module %s, %s", info.path, info.size // 1024,
             info.kernel_release, " ".join(info.kernel_modules),
             "included" if info.numahint_module else "not included",
             "custom run script" if info.run_script
             else f"{len(info.tests)} test(s) [{' '.join(info.tests)}]")
    return info


def _run(args: argparse.Namespace, initrd: Path, extra_qemu_args: list[str]) -> int:
    config = GuestConfig(
        kernel_dir=_kernel_dir(args), initrd=initrd, qemu=Path(args.qemu),
        timeout=args.timeout, smp=args.smp, memory=args.mem,
        numa_nodes=args.numa, machine=args.machine, append=args.append, accel=args.accel,
        numahint_device=args.numahint, balloon_device=args.balloon,
        require_module=args.require_module, hold=args.hold,
        test_timeout=args.test_timeout, pvh=args.pvh,
        extra_args=tuple(extra_qemu_args))
    result = run_guest(config, qmp_after=tuple(args.qmp_after),
                       log=Path(args.log) if args.log else None)
    _report(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def _report(result: RunResult) -> None:
    for exchange in result.qmp:
        print(f"QMP {json.dumps(exchange.command)}:")
        print(json.dumps(exchange.reply, indent=2, sort_keys=True), flush=True)
    for problem in result.problems:
        LOG.error("%s", problem)
    boot = f"init after {result.boot_seconds:.1f} s, " if result.boot_seconds else ""
    LOG.info("%s: %s (%s, %stotal %.1f s)", "PASS" if result.ok else "FAIL",
             result.tap or "no test results", result.accel.name.upper(), boot,
             result.seconds)


def _kvm_probe() -> int:
    probe = probe_kvm()
    print(probe.message)
    return EXIT_OK if probe.ok else EXIT_FAILED


def _qmp_command(text: str) -> dict:
    """A --qmp-after argument: a JSON object, or just a command name."""
    if not text.lstrip().startswith("{"):
        return {"execute": text.strip()}
    try:
        command = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"bad JSON {text!r}: {error}") from error
    if not isinstance(command, dict) or "execute" not in command:
        raise argparse.ArgumentTypeError(f"{text!r} has no \"execute\" key")
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numahint-vm", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build test initramfs images and boot numahint test "
        "guests under QEMU.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="also show the QEMU command line")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="COMMAND")

    kernel = argparse.ArgumentParser(add_help=False)
    which = kernel.add_mutually_exclusive_group(required=True)
    which.add_argument("--kernel", metavar="VER",
                       help="kernel release in the cache, e.g. 6.1.0-50-amd64 "
                       "(= --kernel-dir $NUMAHINT_CACHE/kernels/VER)")
    which.add_argument("--kernel-dir", metavar="DIR",
                       help="extracted kernel package (boot/, lib/modules/)")

    build = argparse.ArgumentParser(add_help=False)
    build.add_argument("--module", metavar="KO",
                       help="numahint driver to install as virtio_numahint.ko")
    build.add_argument("--tests", metavar="DIR", action="append", default=[],
                       help="test directory (kselftest Makefile, or executables)"
                       "; repeatable")
    build.add_argument("--init-script", metavar="FILE",
                       help="script the guest runs instead of the tests")
    build.add_argument("--kmod", metavar="NAME", action="append", default=[],
                       help="another kernel module to load; repeatable")

    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--qemu", metavar="PATH", default=str(default_qemu()),
                     help="QEMU binary (default: %(default)s)")
    run.add_argument("--timeout", metavar="SEC", type=float,
                     default=DEFAULT_TIMEOUT_S,
                     help="wall-clock limit of the run (default: %(default)g)")
    run.add_argument("--test-timeout", metavar="SEC", type=int,
                     help="per-test limit in the guest (default: 300)")
    run.add_argument("--smp", metavar="N[,OPTS]", default="1",
                     help="vCPUs, in QEMU -smp syntax (default: %(default)s); "
                     "for NUMA guests one socket per node, e.g. 2,sockets=2")
    run.add_argument("--mem", metavar="SIZE", default="1G",
                     help="guest RAM (default: %(default)s)")
    run.add_argument("--numa", metavar="NODES", type=int, default=0,
                     help="NUMA nodes, one socket each, sharing --smp vCPUs "
                     "and --mem RAM evenly (default: none)")
    run.add_argument("--machine", metavar="TYPE", default="q35",
                     help="QEMU machine (default: %(default)s)")
    run.add_argument("--append", metavar="ARGS", default="",
                     help="extra kernel parameters, e.g. numahint.run=/x.sh "
                     "or virtio_numahint.param=value")
    run.add_argument("--accel", choices=ACCELS, default="auto",
                     help="auto: KVM if tools/vm/kvm-probe.c passes, else TCG")
    run.add_argument("--log", metavar="FILE", help="also write the console here")
    run.add_argument("--qmp-after", metavar="JSON", type=_qmp_command,
                     action="append", default=[],
                     help="QMP command to run once the guest has reported, "
                     "e.g. query-status or '{\"execute\": \"qom-get\", ...}'; "
                     "repeatable")
    run.add_argument("--numahint", metavar="OPTS", nargs="?", const="",
                     help="add -device virtio-numahint-pci[,OPTS]")
    run.add_argument("--balloon", metavar="OPTS", nargs="?", const="",
                     help="add -device virtio-balloon-pci[,OPTS]")
    run.add_argument("--no-pvh", dest="pvh", action="store_false",
                     help="boot boot/vmlinuz through its decompressor instead "
                     "of the extracted vmlinux through PVH (slower)")
    run.add_argument("--require-module", action="store_true",
                     help="fail unless the guest loads the numahint module")
    run.add_argument("--hold", action="store_true",
                     help="keep the guest up after its report until the "
                     "runner quits it over QMP (implied by --qmp-after)")

    commands.add_parser(
        "initramfs", parents=[kernel, build], help="build a test initramfs",
        description="Build a gzip'd cpio initramfs with busybox, the virtio "
        "modules, the numahint module and the tests.").add_argument(
            "--out", metavar="FILE", required=True, help="output file")
    commands.add_parser(
        "run", parents=[kernel, run], epilog="Arguments after -- go to QEMU.",
        help="boot a guest with an initramfs and report its test results",
        description="Boot the kernel with the initramfs under QEMU, stream "
        "the console, and report the guest's test results."
    ).add_argument("--initrd", metavar="FILE", required=True,
                   help="initramfs built by the initramfs command")
    commands.add_parser(
        "test", parents=[kernel, build, run], epilog="Arguments after -- go to QEMU.",
        help="build an initramfs and boot it (initramfs + run)",
        description="Build a temporary initramfs and run it.").add_argument(
            "--out", metavar="FILE", help="keep the initramfs here")
    commands.add_parser("kvm-probe", help="check whether KVM can run guests here",
                        description="Compile and run tools/vm/kvm-probe.c.")
    return parser
