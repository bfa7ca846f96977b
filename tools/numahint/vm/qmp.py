"""A minimal synchronous QMP client (JSON lines over a unix socket)."""

import json
import socket
import time


class QMPError(Exception):
    """The QMP connection failed or QEMU did not answer in time."""


class QMPClient:
    """One QMP session: the greeting, qmp_capabilities, then commands.

    Every operation must finish by `deadline` (a time.monotonic() value).
    Asynchronous events received while waiting for replies are kept in
    `events`.
    """

    def __init__(self, socket_path: str, deadline: float):
        self.events: list[dict] = []
        self._deadline = deadline
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._buffer = b""
        try:
            self._set_timeout()
            self._sock.connect(socket_path)
            greeting = self._read_message()
            if "QMP" not in greeting:
                raise QMPError(f"unexpected QMP greeting: {greeting}")
            reply = self.execute({"execute": "qmp_capabilities"})
            if "error" in reply:
                raise QMPError(f"qmp_capabilities failed: {reply['error']}")
        except OSError as error:
            self.close()
            raise QMPError(f"cannot talk to QMP at {socket_path}: {error}") from error
        except QMPError:
            self.close()
            raise

    def close(self) -> None:
        self._sock.close()

    def execute(self, command: dict) -> dict:
        """Send one command; return its reply ({"return": ...} or {"error": ...})."""
        try:
            self._set_timeout()
            self._sock.sendall(json.dumps(command).encode() + b"\n")
            while True:
                message = self._read_message()
                if "event" in message:
                    self.events.append(message)
                elif "return" in message or "error" in message:
                    return message
        except OSError as error:
            raise QMPError(f"QMP {command.get('execute')}: {error}") from error

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
            for index in range(index, len(self.events)):
                event = self.events[index]
                got = event.get("data", {})
                if event.get("event") == name and all(
                        got.get(key) == value for key, value in want.items()):
                    return index
            index = len(self.events)
            if time.monotonic() >= until:
                return None
            try:
                message = self._read_message(until)
            except TimeoutError:
                return None
            except OSError as error:
                raise QMPError(f"waiting for QMP event {name}: "
                               f"{error}") from error
            if "event" in message:
                self.events.append(message)

    def _set_timeout(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise QMPError("out of time")
        self._sock.settimeout(remaining)

    def _read_message(self, until: float | None = None) -> dict:
        """The next message; by `until` (raising TimeoutError) if given,
        else by the session's deadline (raising QMPError)."""
        while b"\n" not in self._buffer:
            if until is None:
                self._set_timeout()
            else:
                self._sock.settimeout(max(until - time.monotonic(), 0.001))
            chunk = self._sock.recv(65536)
            if not chunk:
                raise QMPError("QEMU closed the QMP connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except json.JSONDecodeError as error:
            raise QMPError(f"bad QMP message {line[:200]!r}: {error}") from error
