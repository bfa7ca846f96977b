"""The QEMU command line of a test guest."""

import functools
import logging
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


def qemu_command(*, qemu: str, accel_args: list[str], kernel: Path,
                 initrd: Path, append: str, smp: int | str, memory: str,
                 machine: str, qmp_socket: str,
                 numahint_device: str | None, balloon_device: str | None,
                 extra_args: list[str]) -> list[str]:
    """The full QEMU argv; the serial console is on QEMU's stdout.

    numahint_device, balloon_device: None for no such device, else the
    device's options ("" for none).
    """
    command = [
        qemu, *firmware_args(qemu),
        "-name", "guest,debug-threads=on",
        "-machine", machine, *accel_args,
        "-smp", str(smp), "-m", memory,
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
