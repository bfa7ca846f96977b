"""A reproducible writer for gzip'd newc ("070701") cpio archives.

The Linux initramfs format: every entry is owned by root, has mtime 0
and a sequential inode number, and entries are written in path order
(parents before children), so the same inputs give the same bytes.
"""

import gzip
import stat
from dataclasses import dataclass
from pathlib import PurePosixPath

NEWC_MAGIC = "070701"
TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One archive member; `data` is file content or a symlink target."""

    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


class CpioArchive:
    """An in-memory directory tree that serialises to a newc cpio."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def __contains__(self, path: str) -> bool:
        return self._key(path) in self._entries

    @staticmethod
    def _key(path: str) -> str:
        key = str(PurePosixPath("/", path).relative_to("/"))
        if key == "." or ".." in PurePosixPath(key).parts:
            raise ValueError(f"bad archive path {path!r}")
        return key

    def _add(self, path: str, entry: Entry) -> None:
        key = self._key(path)
        existing = self._entries.get(key)
        if existing is not None and existing != entry:
            raise ValueError(f"{path!r} is already in the archive")
        for parent in reversed(PurePosixPath(key).parents[:-1]):
            self.mkdir(str(parent))
        self._entries[key] = entry

    def mkdir(self, path: str, perm: int = 0o755) -> None:
        key = self._key(path)
        if key in self._entries:
            if not stat.S_ISDIR(self._entries[key].mode):
                raise ValueError(f"{path!r} is already in the archive")
            return
        self._add(path, Entry(stat.S_IFDIR | perm))

    def add_file(self, path: str, data: bytes, perm: int = 0o644) -> None:
        self._add(path, Entry(stat.S_IFREG | perm, data))

    def add_symlink(self, path: str, target: str) -> None:
        self._add(path, Entry(stat.S_IFLNK | 0o777, target.encode()))

    def add_char_device(self, path: str, major: int, minor: int,
                        perm: int = 0o600) -> None:
        self._add(path, Entry(stat.S_IFCHR | perm, rdev=(major, minor)))

    def to_bytes(self) -> bytes:
        """The uncompressed newc archive, trailer included."""
        chunks: list[bytes] = []
        members = sorted(self._entries.items())
        members.append((TRAILER, Entry(0)))
        for inode, (name, entry) in enumerate(members, start=1):
            encoded_name = name.encode() + b"\0"
            is_trailer = name == TRAILER
            fields = (
                0 if is_trailer else inode,
                entry.mode,
                0, 0,                       # uid, gid
                2 if stat.S_ISDIR(entry.mode) else 1,
                0,                          # mtime
                len(entry.data),
                0, 0,                       # devmajor, devminor
                entry.rdev[0], entry.rdev[1],
                len(encoded_name),
                0,                          # check
            )
            header = NEWC_MAGIC + "".join(f"{field:08x}" for field in fields)
            chunks.append(_pad4(header.encode() + encoded_name))
            chunks.append(_pad4(entry.data))
        return b"".join(chunks)

    def write_gzip(self, path: str, level: int = 6) -> None:
        """Write the archive gzip'd, with a zero gzip timestamp."""
        with open(path, "wb") as raw, gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0,
                compresslevel=level) as out:
            out.write(self.to_bytes())


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
