"""Host-side view of a guest's RAM: where QEMU maps it, how much is resident.

Resident memory is counted from /proc/PID/pagemap over exactly the host
range of a RAM block, so nothing else QEMU maps (its TCG code buffer, its
heap) is mixed in.  The RAM blocks and their host addresses come from
QEMU's `info ramblock` over QMP.
"""

import os
import re
import struct
import threading
from dataclasses import dataclass

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_PRESENT = 1 << 63
_SWAPPED = 1 << 62
# Bytes of pagemap read per system call: 2 MiB covers 1 GiB of guest RAM.
_CHUNK_PAGES = 1 << 18

_LINE = re.compile(r"^\s*(\S+)\s+(\d+)\s*([KMGT]?)i?B\s+0x([0-9a-f]+)\s+"
                   r"0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)",
                   re.IGNORECASE)
_SCALE = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class RAMBlock:
    """One line of `info ramblock`."""

    name: str
    page_size: int
    offset: int
    used: int
    total: int
    host: int


def parse_ramblocks(text: str) -> list[RAMBlock]:
    """Parse the output of HMP `info ramblock`."""
    blocks = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            blocks.append(RAMBlock(
                name=m.group(1),
                page_size=int(m.group(2)) * _SCALE[m.group(3).upper()],
                offset=int(m.group(4), 16), used=int(m.group(5), 16),
                total=int(m.group(6), 16), host=int(m.group(7), 16)))
    return blocks


def query_ramblocks(execute) -> list[RAMBlock]:
    """RAM blocks of a running QEMU; `execute` sends one QMP command."""
    reply = execute({"execute": "human-monitor-command",
                     "arguments": {"command-line": "info ramblock"}})
    if "return" not in reply:
        raise RuntimeError(f"info ramblock failed: {reply}")
    return parse_ramblocks(reply["return"])


def resident_bytes(pid: int, start: int, length: int) -> int:
    """Bytes of [start, start + length) of process `pid` in host RAM or swap."""
    first = start // PAGE_SIZE
    count = (length + PAGE_SIZE - 1) // PAGE_SIZE
    present = 0
    with open(f"/proc/{pid}/pagemap", "rb", buffering=0) as pagemap:
        done = 0
        while done < count:
            n = min(_CHUNK_PAGES, count - done)
            pagemap.seek((first + done) * 8)
            data = pagemap.read(n * 8)
            for entry in struct.unpack(f"<{len(data) // 8}Q", data):
                if entry & (_PRESENT | _SWAPPED):
                    present += 1
            done += n
    return present * PAGE_SIZE


class ResidentSampler:
    """Samples the resident size of a host range in a background thread,
    keeping the peak and the lowest sample since the peak, until stopped."""

    def __init__(self, pid: int, start: int, length: int,
                 interval: float = 0.2):
        self.peak = 0
        self.last = 0
        self.low_after_peak = 0
        self._args = (pid, start, length)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = resident_bytes(*self._args)
            except OSError:
                return
            if self.last >= self.peak:
                self.peak = self.low_after_peak = self.last
            else:
                self.low_after_peak = min(self.low_after_peak, self.last)
            self._stop.wait(self._interval)

    def __enter__(self) -> "ResidentSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

