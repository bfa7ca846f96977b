"""Boot the uncompressed kernel through its PVH entry point.

Under TCG the decompressor of a bzImage is slow: for the Debian 6.1 kernel
(xz) it takes about 4 of the 7.5 seconds to /init.  A kernel built with
CONFIG_PVH=y can instead be booted as the ELF vmlinux inside the bzImage:
QEMU's -kernel loads it and enters it at its PVH note, and nothing is
decompressed in the guest.  The vmlinux is extracted once per kernel into
the cache.
"""

import gzip
import logging
import lzma
import os
import shutil
import struct
import subprocess
from pathlib import Path

from .kmod import KernelTree
from .paths import cache_dir

LOG = logging.getLogger(__name__)

# bzImage boot protocol header fields (Documentation/arch/x86/boot.rst).
_SETUP_SECTS = 0x1F1
_HEADER_MAGIC = 0x202
_PAYLOAD_OFFSET = 0x248


class PVHUnavailable(Exception):
    """This kernel cannot be booted through PVH; use its bzImage."""


def pvh_kernel(tree: KernelTree) -> Path:
    """The kernel's ELF vmlinux, extracted into the cache if needed."""
    config = tree.path / "boot" / f"config-{tree.release}"
    if not config.is_file() or "CONFIG_PVH=y\n" not in config.read_text():
        raise PVHUnavailable(f"{config} does not have CONFIG_PVH=y")
    vmlinux = cache_dir() / "vmlinux" / tree.release / "vmlinux"
    if vmlinux.exists() and vmlinux.stat().st_mtime >= tree.vmlinuz.stat().st_mtime:
        return vmlinux
    LOG.info("extracting vmlinux from %s for PVH boot", tree.vmlinuz)
    image = _extract_vmlinux(tree.vmlinuz.read_bytes(), tree.vmlinuz)
    vmlinux.parent.mkdir(parents=True, exist_ok=True)
    partial = vmlinux.with_name(f"vmlinux.{os.getpid()}.tmp")
    partial.write_bytes(image)
    partial.replace(vmlinux)
    return vmlinux


def _extract_vmlinux(bzimage: bytes, origin: Path) -> bytes:
    """Decompress the payload of a bzImage (boot protocol >= 2.08)."""
    if bzimage[_HEADER_MAGIC:_HEADER_MAGIC + 4] != b"HdrS":
        raise PVHUnavailable(f"{origin} is not a bzImage")
    setup_sects = bzimage[_SETUP_SECTS] or 4
    offset, length = struct.unpack_from("<II", bzimage, _PAYLOAD_OFFSET)
    start = (setup_sects + 1) * 512 + offset
    # The build appends the uncompressed size, little endian, to the payload.
    payload, size_field = bzimage[start:start + length - 4], \
        bzimage[start + length - 4:start + length]
    expected_size, = struct.unpack("<I", size_field)

    if payload.startswith(b"\xfd7zXZ\x00"):
        image = lzma.LZMADecompressor().decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        image = gzip.decompress(payload)
    elif payload.startswith(b"\x28\xb5\x2f\xfd"):
        if shutil.which("zstd") is None:
            raise PVHUnavailable(f"{origin}: need the zstd program to extract it")
        image = subprocess.run(["zstd", "-dcq"], input=payload, check=True,
                               stdout=subprocess.PIPE).stdout
    else:
        raise PVHUnavailable(f"{origin}: unsupported compression "
                             f"(payload starts {payload[:4].hex()})")
    if image[:4] != b"\x7fELF" or len(image) != expected_size:
        raise PVHUnavailable(f"{origin}: extracted payload is not the expected "
                             f"{expected_size}-byte ELF vmlinux")
    return image
