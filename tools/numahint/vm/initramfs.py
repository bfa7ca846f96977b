"""Build the test initramfs: busybox, virtio modules, numahint module, tests.

Layout of the archive:

    /init                                   tools/vm/init.sh
    /bin/busybox, applet symlinks           from the host's static busybox
    /dev/console                            so PID 1 starts with a console
    /lib/modules/<release>/<name>.ko        kernel modules, decompressed
    /lib/modules/<release>/load-order       their names in dependency order
    /lib/modules/numahint/virtio_numahint.ko  the driver under test (optional)
    /tests/<program>                        test programs and support files
    /tests/.numahint-tests                  the programs to run, in order
    /etc/numahint/run                       custom script (--init-script)
    shared libraries of dynamically linked test programs, at host paths
"""

import logging
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .cpio import CpioArchive
from .kmod import KernelTree, Module, modinfo, read_module
from .paths import TOOLS_VM_DIR

LOG = logging.getLogger(__name__)

#: Modules every guest loads: the virtio-pci transport, and virtio_balloon
#: for the experiments that compare against free page reporting.
BASE_MODULES = ("virtio_pci", "virtio_balloon")

NUMAHINT_MODULE_PATH = "lib/modules/numahint/virtio_numahint.ko"
TEST_LIST_PATH = "tests/.numahint-tests"
RUN_SCRIPT_PATH = "etc/numahint/run"
INIT_SCRIPT = TOOLS_VM_DIR / "init.sh"
DEFAULT_BUSYBOX = Path("/bin/busybox")

#: kselftest Makefile variables, in the order kselftest runs them.
RUN_VARIABLES = ("TEST_GEN_PROGS", "TEST_CUSTOM_PROGS", "TEST_PROGS")
SUPPORT_VARIABLES = ("TEST_GEN_PROGS_EXTENDED", "TEST_PROGS_EXTENDED",
                     "TEST_GEN_FILES", "TEST_FILES")
MAKEFILE_NAMES = ("GNUmakefile", "makefile", "Makefile")

# A makefile read after the test directory's own, to print its variables.
_PRINT_VARIABLES_MK = "".join(
    ["numahint-print-variables:\n\t@:"]
    + [f"$(info {name}=$(strip $({name})))"
       for name in RUN_VARIABLES + SUPPORT_VARIABLES]
    + ["\n"])


class InitramfsError(Exception):
    """The initramfs cannot be built from the given inputs."""


@dataclass
class InitramfsInfo:
    """What build_initramfs() put into the archive."""

    path: Path
    kernel_release: str
    kernel_modules: list[str]
    numahint_module: bool
    tests: list[str]
    run_script: bool
    size: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _TestFile:
    """A file from a tests directory: its name under /tests/ and source."""

    name: str
    source: Path
    runnable: bool


def build_initramfs(kernel_dir: Path, out: Path, *,
                    module: Path | None = None,
                    tests_dirs: tuple[Path, ...] = (),
                    init_script: Path | None = None,
                    extra_kernel_modules: tuple[str, ...] = (),
                    busybox: Path = DEFAULT_BUSYBOX) -> InitramfsInfo:
    """Build a gzip'd newc initramfs for the kernel in `kernel_dir`.

    module: the numahint driver (.ko) to install as virtio_numahint.ko; it
        must have been built for this kernel release.
    tests_dirs: test directories; one with a Makefile is built with
        `make -C DIR` and contributes its kselftest TEST_*PROGS (to run) and
        TEST_*FILES/_EXTENDED programs (support files); one without
        contributes its executable files (to run) and its other files,
        hidden ones excepted.
    init_script: a script the guest runs instead of the tests.
    extra_kernel_modules: more kernel modules to load, with dependencies.

    The output depends only on the inputs (fixed timestamps, sorted entries).
    Raises InitramfsError (or KernelTreeError) on bad inputs.
    """
    tree = KernelTree(kernel_dir)
    archive = CpioArchive()
    warnings: list[str] = []

    for directory in ("dev", "proc", "sys", "tmp", "run", "root", "etc"):
        archive.mkdir(directory)
    archive.add_char_device("dev/console", 5, 1)
    archive.add_file("init", INIT_SCRIPT.read_bytes(), 0o755)
    _add_busybox(archive, busybox)

    wanted = list(BASE_MODULES) + list(extra_kernel_modules)
    numahint = _read_numahint_module(module, tree.release) if module else None
    if numahint is not None:
        wanted += numahint.depends
        archive.add_file(NUMAHINT_MODULE_PATH, numahint.image)
    kernel_modules = tree.resolve(wanted)
    _add_kernel_modules(archive, tree.release, kernel_modules)

    tests: list[str] = []
    for tests_dir in tests_dirs:
        for test_file in _collect_tests(Path(tests_dir)):
            _add_test_file(archive, test_file, warnings)
            if test_file.runnable:
                tests.append(test_file.name)
    archive.mkdir("tests")
    if tests:
        archive.add_file(TEST_LIST_PATH, "".join(f"{t}\n" for t in tests).encode())
    if init_script is not None:
        archive.add_file(RUN_SCRIPT_PATH, Path(init_script).read_bytes(), 0o755)
        warnings += _check_interpreter(archive, Path(init_script))

    for warning in warnings:
        LOG.warning("%s", warning)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    archive.write_gzip(str(out))
    return InitramfsInfo(
        path=out, kernel_release=tree.release,
        kernel_modules=[m.name for m in kernel_modules],
        numahint_module=numahint is not None, tests=tests,
        run_script=init_script is not None, size=out.stat().st_size,
        warnings=warnings)


def _add_busybox(archive: CpioArchive, busybox: Path) -> None:
    """Install busybox as /bin/busybox with a symlink for each applet."""
    data = Path(busybox).read_bytes()
    if _elf_interpreter(data) is not None:
        raise InitramfsError(f"{busybox} is dynamically linked; need a static "
                             "busybox (Debian: busybox-static)")
    archive.add_file("bin/busybox", data, 0o755)
    applets = subprocess.run([str(busybox), "--list-full"], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.split()
    for applet in applets:
        if applet not in ("bin/busybox", "linuxrc"):
            archive.add_symlink(applet, "/bin/busybox")


def _read_numahint_module(path: Path, release: str) -> Module:
    """Read the numahint driver and check it was built for `release`."""
    path = Path(path)
    if not path.is_file():
        raise InitramfsError(f"{path}: no such module file")
    image = read_module(path)
    info = modinfo(image, str(path))
    vermagic = info.get("vermagic", [""])[0]
    built_for = vermagic.split()[0] if vermagic else "an unknown kernel"
    if built_for != release:
        raise InitramfsError(f"{path} was built for {built_for}, not for "
                             f"kernel {release}: it would not load")
    return Module("virtio_numahint", image, info)


def _add_kernel_modules(archive: CpioArchive, release: str,
                        modules: list[Module]) -> None:
    moddir = f"lib/modules/{release}"
    archive.mkdir(moddir)
    for module in modules:
        archive.add_file(f"{moddir}/{module.name}.ko", module.image)
    archive.add_file(f"{moddir}/load-order",
                     "".join(f"{m.name}\n" for m in modules).encode())


def _collect_tests(tests_dir: Path) -> list[_TestFile]:
    """The files a tests directory contributes to /tests, in run order."""
    if not tests_dir.is_dir():
        raise InitramfsError(f"{tests_dir}: no such tests directory")
    makefile = next((tests_dir / name for name in MAKEFILE_NAMES
                     if (tests_dir / name).is_file()), None)
    if makefile is None:
        return [_TestFile(path.name, path, os.access(path, os.X_OK))
                for path in sorted(tests_dir.iterdir())
                if path.is_file() and not path.name.startswith(".")]

    LOG.info("building tests: make -C %s", tests_dir)
    build = subprocess.run(["make", "-C", str(tests_dir)], text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if build.returncode != 0:
        raise InitramfsError(f"make -C {tests_dir} failed:\n{build.stdout}")
    variables = _makefile_variables(tests_dir, makefile)
    run = [name for var in RUN_VARIABLES for name in variables[var].split()]
    support = [name for var in SUPPORT_VARIABLES
               for name in variables[var].split()]
    if not run:
        raise InitramfsError(f"{makefile} defines no {', '.join(RUN_VARIABLES)}")
    files = [_test_file(tests_dir, name, True) for name in run]
    files += [_test_file(tests_dir, name, False) for name in support]
    return files


def _makefile_variables(tests_dir: Path, makefile: Path) -> dict[str, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".mk") as printer:
        printer.write(_PRINT_VARIABLES_MK)
        printer.flush()
        query = subprocess.run(
            ["make", "-s", "--no-print-directory", "-C", str(tests_dir),
             "-f", makefile.name, "-f", printer.name,
             "numahint-print-variables"],
            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if query.returncode != 0:
        raise InitramfsError(f"cannot read the test variables of {makefile}:\n"
                             f"{query.stdout}")
    variables = dict.fromkeys(RUN_VARIABLES + SUPPORT_VARIABLES, "")
    for line in query.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep and name in variables:
            variables[name] = value
    return variables


def _test_file(tests_dir: Path, name: str, runnable: bool) -> _TestFile:
    """A file named by a kselftest variable: relative to the directory or
    absolute (lib.mk prefixes generated files with $(OUTPUT)/)."""
    source = tests_dir / name
    if not source.exists():
        raise InitramfsError(f"{source}: listed in the Makefile but missing "
                             "after the build")
    if runnable and not os.access(source, os.X_OK):
        raise InitramfsError(f"{source}: test program is not executable")
    return _TestFile(source.name, source, runnable)


def _add_test_file(archive: CpioArchive, test_file: _TestFile,
                   warnings: list[str]) -> None:
    """Copy a test file (or directory) to /tests with what it needs to run."""
    target = f"tests/{test_file.name}"
    if target in archive:
        raise InitramfsError(f"two test files named {test_file.name!r} "
                             f"(the second from {test_file.source})")
    sources = ([test_file.source] if test_file.source.is_file()
               else sorted(p for p in test_file.source.rglob("*") if p.is_file()))
    for source in sources:
        name = f"{target}/{source.relative_to(test_file.source)}" \
            if source != test_file.source else target
        data = source.read_bytes()
        archive.add_file(name, data, source.stat().st_mode & 0o777)
        if _elf_interpreter(data) is not None:
            _add_shared_libraries(archive, source)
        elif test_file.runnable:
            warnings += _check_interpreter(archive, source)


def _check_interpreter(archive: CpioArchive, script: Path) -> list[str]:
    """A warning if a #! script's interpreter is not in the archive."""
    first_line = script.read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    if not first_line.startswith("#!"):
        return []
    words = first_line[2:].split()
    interpreter = words[0] if words else ""
    if interpreter == "/usr/bin/env" and len(words) > 1:
        available = any(f"{d}/{words[1]}" in archive
                        for d in ("bin", "sbin", "usr/bin", "usr/sbin"))
    else:
        available = interpreter in archive
    if available:
        return []
    return [f"{script}: interpreter {first_line[2:].strip()!r} is not in the "
            "initramfs (busybox provides sh, not bash); it will not run"]


def _elf_interpreter(data: bytes) -> str | None:
    """The PT_INTERP path of an ELF64 executable, None if static/not ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        base = phoff + index * phentsize
        p_type, = struct.unpack_from("<I", data, base)
        if p_type == 3:  # PT_INTERP
            offset, = struct.unpack_from("<Q", data, base + 0x08)
            size, = struct.unpack_from("<Q", data, base + 0x20)
            return data[offset:offset + size].rstrip(b"\0").decode()
    return None


def _add_shared_libraries(archive: CpioArchive, program: Path) -> None:
    """Add the dynamic loader and libraries `program` needs (per ldd)."""
    if shutil.which("ldd") is None:
        raise InitramfsError(f"{program} is dynamically linked and ldd is "
                             "missing; link tests statically")
    ldd = subprocess.run(["ldd", str(program)], text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if ldd.returncode != 0 or "not found" in ldd.stdout:
        raise InitramfsError(f"ldd {program} failed:\n{ldd.stdout}")
    for line in ldd.stdout.splitlines():
        # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        # "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso lines have no path.
        words = line.replace("=>", " ").split()
        library = next((w for w in words if w.startswith("/")), None)
        if library is not None and library.lstrip("/") not in archive:
            archive.add_file(library, Path(library).read_bytes(), 0o755)
