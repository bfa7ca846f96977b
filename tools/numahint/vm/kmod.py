"""Kernel trees and kernel modules: lookup, dependencies, decompression.

A kernel tree is a directory as extracted from a Debian linux-image package:

    boot/vmlinuz-<release>
    boot/config-<release>
    lib/modules/<release>/kernel/**/<name>.ko[.xz|.zst|.gz]
    lib/modules/<release>/modules.builtin

The extracted trees carry no modules.dep (Debian's postinst generates it
with depmod), so dependencies are read from each module's own .modinfo
section ("depends=a,b"), which is what depmod itself records.
"""

import gzip
import lzma
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")


class KernelTreeError(Exception):
    """A kernel tree or module is missing, malformed or inconsistent."""


def module_name(path: Path) -> str:
    """The canonical module name of a module file (dashes become underscores)."""
    name = path.name
    for suffix in MODULE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("-", "_")


def read_module(path: Path) -> bytes:
    """The uncompressed ELF image of a .ko, .ko.xz, .ko.zst or .ko.gz file."""
    name = path.name
    if name.endswith(".ko"):
        return path.read_bytes()
    if name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    if name.endswith(".ko.gz"):
        return gzip.decompress(path.read_bytes())
    if name.endswith(".ko.zst"):
        if shutil.which("zstd") is None:
            raise KernelTreeError(f"{path}: need the zstd program to decompress")
        return subprocess.run(["zstd", "-dcq", str(path)], check=True,
                              stdout=subprocess.PIPE).stdout
    raise KernelTreeError(f"{path}: not a kernel module file")


def modinfo(image: bytes, origin: str = "module") -> dict[str, list[str]]:
    """The key=value pairs of an ELF64 module's .modinfo section.

    Keys may repeat (alias=, parm=), so each maps to a list of values.
    """
    if image[:4] != b"\x7fELF" or image[4] != 2 or image[5] != 1:
        raise KernelTreeError(f"{origin}: not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", image, 0x3A)

    def section(index: int) -> tuple[int, int, int]:
        """(name offset, file offset, size) of section header `index`."""
        base = shoff + index * shentsize
        name, = struct.unpack_from("<I", image, base)
        offset, size = struct.unpack_from("<QQ", image, base + 0x18)
        return name, offset, size

    _, strtab, _ = section(shstrndx)
    for index in range(shnum):
        name_off, offset, size = section(index)
        end = image.index(b"\0", strtab + name_off)
        if image[strtab + name_off:end] == b".modinfo":
            info: dict[str, list[str]] = {}
            for entry in image[offset:offset + size].split(b"\0"):
                key, sep, value = entry.decode(errors="replace").partition("=")
                if sep:
                    info.setdefault(key, []).append(value)
            return info
    raise KernelTreeError(f"{origin}: no .modinfo section (not a kernel module?)")


def module_depends(info: dict[str, list[str]]) -> list[str]:
    """The module names listed in a modinfo's depends= field."""
    return [dep.replace("-", "_")
            for value in info.get("depends", [])
            for dep in value.split(",") if dep]


@dataclass(frozen=True)
class Module:
    """A loadable module: its name, uncompressed ELF image and modinfo."""

    name: str
    image: bytes
    info: dict[str, list[str]]

    @property
    def depends(self) -> list[str]:
        return module_depends(self.info)


class KernelTree:
    """An extracted kernel package: the kernel image and its modules."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_dir():
            siblings = sorted(p.name for p in self.path.parent.glob("*")
                              if p.is_dir()) if self.path.parent.is_dir() else []
            raise KernelTreeError(f"no kernel directory {self.path}"
                                  + (f" (there: {', '.join(siblings)})"
                                     if siblings else ""))
        modules_root = self.path / "lib" / "modules"
        releases = sorted(p.name for p in modules_root.glob("*") if p.is_dir())
        if len(releases) != 1:
            raise KernelTreeError(
                f"{self.path}: expected one lib/modules/<release> directory, "
                f"found {releases or 'none'}")
        self.release = releases[0]
        self.modules_dir = modules_root / self.release
        self.vmlinuz = self.path / "boot" / f"vmlinuz-{self.release}"
        if not self.vmlinuz.is_file():
            raise KernelTreeError(f"{self.vmlinuz}: no such kernel image")
        self._index: dict[str, Path] | None = None
        self._builtin: set[str] | None = None

    def __repr__(self) -> str:
        return f"KernelTree({str(self.path)!r})"

    @property
    def builtin(self) -> set[str]:
        """Names of the modules compiled into the kernel image."""
        if self._builtin is None:
            listing = self.modules_dir / "modules.builtin"
            lines = listing.read_text().split() if listing.exists() else []
            self._builtin = {module_name(Path(line)) for line in lines}
        return self._builtin

    def module_path(self, name: str) -> Path | None:
        """The file of loadable module `name`, or None if there is none."""
        if self._index is None:
            self._index = {}
            for path in sorted((self.modules_dir / "kernel").rglob("*.ko*")):
                if path.name.endswith(MODULE_SUFFIXES):
                    self._index[module_name(path)] = path
        return self._index.get(name.replace("-", "_"))

    def load(self, name: str) -> Module:
        """Read loadable module `name` (decompressed)."""
        path = self.module_path(name)
        if path is None:
            raise KernelTreeError(
                f"kernel {self.release} has no loadable module {name!r}")
        image = read_module(path)
        return Module(module_name(path), image, modinfo(image, str(path)))

    def resolve(self, wanted: list[str]) -> list[Module]:
        """The loadable modules needed for `wanted`, in load order.

        Each wanted name is either built into the kernel (nothing to load)
        or a loadable module, which comes after all of its dependencies.
        """
        order: list[Module] = []
        placed: set[str] = set()
        visiting: set[str] = set()

        def visit(name: str, needed_by: str) -> None:
            name = name.replace("-", "_")
            if name in placed or name in self.builtin:
                return
            if name in visiting:
                raise KernelTreeError(f"module dependency cycle through {name}")
            if self.module_path(name) is None:
                raise KernelTreeError(
                    f"kernel {self.release} has {name!r} (needed by "
                    f"{needed_by}) neither built in nor as a module")
            visiting.add(name)
            module = self.load(name)
            for dep in module.depends:
                visit(dep, name)
            visiting.discard(name)
            placed.add(name)
            order.append(module)

        for name in wanted:
            visit(name, "the initramfs")
        return order
