"""A synchronous QMP session with a hard deadline, on QEMU's qemu.qmp.

QEMU's own library speaks the protocol (greeting, capabilities, message
framing, replies matched by id, events).  Its synchronous shim,
qemu.qmp.legacy.QEMUMonitorProtocol, is not used: its connect() has no
time limit (a QEMU that never greets would hang the caller), and its
event calls raise asyncio.TimeoutError rather than stop at a deadline.
The runner's rule is that nothing waits past a guest's deadline, so this
drives the asynchronous qemu.qmp.QMPClient on a private event loop, every
step under asyncio.wait_for() with the time left.

qemu.qmp comes from the QEMU source tools/setup fetches (linked as
tools/qemu), or from an installed qemu.qmp.
"""

import asyncio
import time

try:
    import qemu.qmp as _qmp
except ImportError as _error:  # tools/setup has not run
    _qmp = None
    _IMPORT_ERROR = _error

#: How often wait_event() looks whether QEMU closed the connection.
_POLL_S = 0.2


class QMPError(Exception):
    """The QMP connection failed or QEMU did not answer in time."""


class QMPClient:
    """One QMP session: the greeting, qmp_capabilities, then commands.

    Every operation must finish by `deadline` (a time.monotonic() value).
    Asynchronous events received while waiting for replies are kept in
    `events`.  A session belongs to the thread that opened it.
    """

    def __init__(self, socket_path: str, deadline: float):
        if _qmp is None:
            raise QMPError(f"QEMU's QMP library is missing ({_IMPORT_ERROR}):"
                           " run tools/setup, or pip install qemu.qmp")
        self.events: list[dict] = []
        self._deadline = deadline
        self._loop = asyncio.new_event_loop()
        self._client = _qmp.QMPClient("numahint")
        try:
            self._run("connect", self._client.connect, socket_path)
        except QMPError as error:
            self.close()
            raise QMPError(f"cannot talk to QMP at {socket_path}: "
                           f"{error}") from error

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._loop.run_until_complete(asyncio.wait_for(
                self._client.disconnect(), 5))
        except (_qmp.QMPError, OSError, EOFError, asyncio.TimeoutError):
            pass  # QEMU went away first: nothing left to close cleanly.
        self._loop.close()

    def execute(self, command: dict) -> dict:
        """Send one command; return its reply ({"return": ...} or {"error": ...})."""
        try:
            value = self._run(f"QMP {command.get('execute')}",
                              self._client.execute_msg, _qmp.Message(command))
        except _qmp.ExecuteError as error:
            return {"error": dict(error.received)["error"]}
        return {"return": value}

    def wait_event(self, name: str, until: float, since: int = 0,
                   data: dict | None = None) -> int | None:
        """Wait until `until` (a time.monotonic() value, capped by the
        session's deadline) for an event called `name` whose data hold
        the items of `data`, among the events received from index `since`
        of `events` on.  Returns its index in `events`, None if none came.
        """
        want = data or {}
        until = min(until, self._deadline)
        index = since
        while True:
            self._collect_events()
            for index in range(index, len(self.events)):
                event = self.events[index]
                got = event.get("data", {})
                if event.get("event") == name and all(
                        got.get(key) == value for key, value in want.items()):
                    return index
            index = len(self.events)
            left = until - time.monotonic()
            if left <= 0:
                return None
            if self._client.runstate is not _qmp.Runstate.RUNNING:
                raise QMPError(f"waiting for QMP event {name}: QEMU closed "
                               "the QMP connection")
            try:
                event = self._loop.run_until_complete(asyncio.wait_for(
                    self._client.events.get(), min(left, _POLL_S)))
            except asyncio.TimeoutError:
                continue
            self.events.append(dict(event))

    def _collect_events(self) -> None:
        self.events += [dict(event) for event in self._client.events.clear()]

    def _run(self, what: str, method, *args):
        """Run the coroutine `method(*args)` of the client on this
        session's loop by the deadline.  (The client checks its state
        when the coroutine is made: a closed connection raises there.)"""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise QMPError(f"{what}: out of time")
        try:
            return self._loop.run_until_complete(
                asyncio.wait_for(method(*args), remaining))
        except asyncio.TimeoutError as error:
            raise QMPError(f"{what}: out of time") from error
        except _qmp.ExecuteError:
            raise
        except (_qmp.QMPError, OSError, EOFError) as error:
            raise QMPError(f"{what}: {error or type(error).__name__}") \
                from error
        finally:
            self._collect_events()
