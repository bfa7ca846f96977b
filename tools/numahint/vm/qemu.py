"""The QEMU command line of a test guest.

QEMU's qemu.machine builds a command line of its own around the
arguments it is given (its QMP socket pair, -display none, consoles);
guest.py says why a Guest does not run under it, so the whole command
line, NUMA topology and devices included, is made here."""

import functools
import logging
import re
import subprocess
from pathlib import Path

LOG = logging.getLogger(__name__)

NUMAHINT_DEVICE = "virtio-numahint-pci"
BALLOON_DEVICE = "virtio-balloon-pci"
#: The BIOS QEMU needs for any x86 guest; present in every usable data path.
BIOS = "bios-256k.bin"
#: Where Debian's seabios, qemu-system-data and ipxe-qemu install firmware.
SYSTEM_FIRMWARE_DIRS = ("/usr/share/seabios", "/usr/share/qemu",
                        "/usr/lib/ipxe/qemu")


@functools.lru_cache(maxsize=None)
def firmware_args(qemu: str) -> tuple[str, ...]:
    """-L options QEMU needs to find its firmware, usually none.

    A QEMU run from its build tree looks for firmware in the build's
    qemu-bundle/ rather than in the configured firmware path, and finds
    nothing there unless it built the firmware itself.  Then point it at
    the system firmware directories.
    """
    try:
        listing = subprocess.run([qemu, "-L", "help"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()  # QEMU itself will fail to start and say why.
    if any((Path(d) / BIOS).exists() for d in listing.split()):
        return ()
    found = [d for d in SYSTEM_FIRMWARE_DIRS if Path(d).is_dir()]
    LOG.info("%s finds no %s in its data path; adding %s", qemu, BIOS,
             " ".join(f"-L {d}" for d in found))
    return tuple(arg for d in found for arg in ("-L", d))


_SIZE = re.compile(r"^(\d+)([KMGT]?)i?B?$", re.IGNORECASE)
_SIZE_SHIFT = {"k": -10, "": 0, "m": 0, "g": 10, "t": 20}


def size_mib(size: str) -> int:
    """A QEMU -m size ("1G", "512M", "1024": MiB) in MiB."""
    match = _SIZE.match(size.strip())
    if match is None:
        raise ValueError(f"bad memory size {size!r}")
    value, shift = int(match.group(1)), _SIZE_SHIFT[match.group(2).lower()]
    return value << shift if shift >= 0 else value >> -shift


def numa_args(nodes: int, smp: int | str, memory: str) -> tuple[str, list[str]]:
    """The -smp value and -object/-numa options of a guest with `nodes`
    NUMA nodes: one socket per node, CPUs and RAM split evenly."""
    cpus = int(str(smp).split(",")[0])
    mib = size_mib(memory)
    if nodes < 1 or cpus % nodes or mib % nodes:
        raise ValueError(f"cannot split {cpus} vCPUs and {mib} MiB evenly "
                         f"over {nodes} NUMA nodes")
    per_node = cpus // nodes
    smp_value = str(smp) if "sockets=" in str(smp) else f"{smp},sockets={nodes}"
    args: list[str] = []
    for node in range(nodes):
        first = node * per_node
        cpu_range = f"{first}-{first + per_node - 1}" if per_node > 1 else f"{first}"
        args += ["-object", f"memory-backend-ram,id=numa-ram{node},size={mib // nodes}M",
                 "-numa", f"node,nodeid={node},cpus={cpu_range},memdev=numa-ram{node}"]
    return smp_value, args


def qemu_command(*, qemu: str, accel_args: list[str], kernel: Path,
                 initrd: Path, append: str, smp: int | str, memory: str,
                 numa_nodes: int, machine: str, qmp_socket: str,
                 numahint_device: str | None, balloon_device: str | None,
                 extra_args: list[str]) -> list[str]:
    """The full QEMU argv; the serial console is on QEMU's stdout.

    numahint_device, balloon_device: None for no such device, else the
    device's options ("" for none).
    numa_nodes: 0 for no NUMA topology, else the number of nodes.
    """
    numa: list[str] = []
    if numa_nodes:
        smp, numa = numa_args(numa_nodes, smp, memory)
    command = [
        qemu, *firmware_args(qemu),
        "-name", "guest,debug-threads=on",
        "-machine", machine, *accel_args,
        "-smp", str(smp), "-m", memory, *numa,
        "-nodefaults", "-display", "none", "-no-reboot",
        "-chardev", "stdio,id=console,signal=off",
        "-serial", "chardev:console",
        "-qmp", f"unix:{qmp_socket},server=on,wait=off",
        "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", append,
    ]
    for device, options in ((NUMAHINT_DEVICE, numahint_device),
                            (BALLOON_DEVICE, balloon_device)):
        if options is not None:
            command += ["-device", f"{device},{options}" if options else device]
    return command + list(extra_args)
