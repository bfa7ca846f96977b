"""Read the guest console: kernel errors, /init markers and test results.

The guest kernel runs with printk.time=1, so kernel messages carry a
"[    1.234567] " timestamp; only such lines are checked for kernel errors,
so that test output that happens to say "WARNING:" is not mistaken for
one.  The markers of the guest side are printed by tools/vm/init.sh.
"""

import re
from dataclasses import dataclass, field

#: A kernel message: timestamp, optional caller id, then the text.
_KERNEL_MESSAGE = re.compile(
    r"\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])?\s(?P<text>.*)")
_KERNEL_PANIC = re.compile(r"^Kernel panic - not syncing")
_KERNEL_ERRORS = [re.compile(pattern) for pattern in (
    r"^Oops\b",
    r"^(?:[\w-]+: )?BUG: ",
    r"^kernel BUG at ",
    r"^WARNING: ",
    r"^general protection fault",
    r"^Unable to handle kernel",
    r"^(?:UBSAN|KASAN|KFENCE|KCSAN|KMSAN): ",
    r"^INFO: task .* blocked for more than",
    r"^(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected stalls",
)]

_DONE = re.compile(r"NUMAHINT-GUEST-DONE pass=(\d+) fail=(\d+) skip=(\d+)")
HOLD_MARKER = "NUMAHINT-GUEST-HOLD"
INIT_STARTED = "numahint-init: started"
INIT_ERROR = "numahint-init: ERROR: "
MODULE_LOADED = "numahint: module loaded"
MODULE_FAILED = "numahint: FAILED to load module: "
MODULE_ABSENT = "numahint: no module in this initramfs"
_TEST_FAILURE = re.compile(r"^(?:not ok\b|# numahint-test: FAIL )")


@dataclass(frozen=True)
class TapCounts:
    """The guest's test totals, from its NUMAHINT-GUEST-DONE line."""

    passed: int
    failed: int
    skipped: int

    def __str__(self) -> str:
        return f"pass={self.passed} fail={self.failed} skip={self.skipped}"


@dataclass
class ConsoleState:
    """What the console has shown so far."""

    lines: list[str] = field(default_factory=list)
    init_started: bool = False
    init_errors: list[str] = field(default_factory=list)
    #: "loaded", "failed" or "absent"; None until /init has tried.
    module_status: str | None = None
    module_error: str = ""
    panic: str | None = None
    kernel_errors: list[str] = field(default_factory=list)
    test_failures: list[str] = field(default_factory=list)
    tap: TapCounts | None = None
    holding: bool = False

    @property
    def last_line(self) -> str:
        """The last non-blank console line, or a note that there was none."""
        for line in reversed(self.lines):
            if line.strip():
                return line.strip()
        return "(no console output)"


def parse_console_line(state: ConsoleState, line: str) -> None:
    """Update `state` with one console line (without its line ending)."""
    state.lines.append(line)
    kernel = _KERNEL_MESSAGE.search(line)
    if kernel is not None:
        text = kernel.group("text")
        if _KERNEL_PANIC.match(text):
            if state.panic is None:
                state.panic = text
        elif any(pattern.match(text) for pattern in _KERNEL_ERRORS):
            state.kernel_errors.append(text)
        return

    done = _DONE.search(line)
    if done is not None:
        state.tap = TapCounts(*(int(group) for group in done.groups()))
    elif line.startswith(HOLD_MARKER):
        state.holding = True
    elif line.startswith(INIT_STARTED):
        state.init_started = True
    elif line.startswith(INIT_ERROR):
        state.init_errors.append(line[len(INIT_ERROR):])
    elif line.startswith(MODULE_LOADED):
        state.module_status = "loaded"
    elif line.startswith(MODULE_FAILED):
        state.module_status = "failed"
        state.module_error = line[len(MODULE_FAILED):]
    elif line.startswith(MODULE_ABSENT):
        state.module_status = "absent"
    elif _TEST_FAILURE.match(line):
        state.test_failures.append(line)
