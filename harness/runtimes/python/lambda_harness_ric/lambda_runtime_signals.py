"""Waiting for /next, by runtime profile: where the main thread waits decides whether a user's
SIGTERM handler can run then (awslambdaric installs none; LAMBDA-SPEC s7, bench/findings.md
"Moved from the code (#18)").

- 3.12+: handlers run during the wait, as in awslambdaric's future.result(); the main thread polls
  the socket and a signal wakeup pipe, so a signal that lands just before the poll is not lost.
- 3.10/3.11 (or AWS_EXECUTION_ENV unset): as inside the C client's next(), a Python handler only
  runs once an event arrived; signals with a Python handler are blocked in the main thread meanwhile.
"""

import os
import select
import signal

from .lambda_runtime_marshaller import IS_MODERN_RUNTIME

try:  # the C accessor returns plain ints for SIG_DFL/SIG_IGN: ~5x cheaper than signal.getsignal
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover - other implementations
    _getsignal = signal.getsignal

_SYNCHRONOUS_SIGNALS = frozenset(
    getattr(signal, name)
    for name in ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS")
    if hasattr(signal, name)
)
_ASYNC_SIGNALS = (
    tuple(int(s) for s in signal.valid_signals() if s not in _SYNCHRONOUS_SIGNALS)
    if hasattr(signal, "valid_signals")
    else ()
)
_CAN_MASK = hasattr(signal, "pthread_sigmask")


def make_wait_next(client):
    """wait_next(): the next Invocation, waited for as the runtime profile's awslambdaric waits."""
    return _polling_wait(client) if IS_MODERN_RUNTIME else _masked_wait(client)


def _polling_wait(client):
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)  # required of a wakeup fd

    # poll, not select: select cannot take an fd past 1023, and the pipe is made after the
    # function's module has run (which may have opened any number of files).
    poller = select.poll()
    poller.register(wake_r, select.POLLIN)
    caught = []  # what drain() read during a wait, handed on when the wakeup fd goes back

    def drain():
        """The signals' numbers written since the last look (their handlers run next)."""
        try:
            return os.read(wake_r, 512)
        except BlockingIOError:
            return b""

    def readable(sock):
        fd = sock.fileno()
        poller.register(fd, select.POLLIN)
        try:
            while True:
                for ready, _ in poller.poll():
                    if ready == fd:
                        return  # an answer, or a closed connection that the read reports
                    caught.append(drain())
        finally:
            poller.unregister(fd)

    def wait_next():
        # Ours for the wait only: a wakeup fd the function set (asyncio's add_signal_handler
        # does) stays its own while its code runs, and gets the numbers of the signals that
        # came during the wait, as it would have had them on Lambda.
        previous = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            return client.next_invocation(wait=readable)
        finally:
            try:
                signal.set_wakeup_fd(previous)
            except (ValueError, OSError):
                signal.set_wakeup_fd(-1)  # The function closed its own fd meanwhile.
                previous = -1
            if previous != -1:
                caught.append(drain())
                numbers = b"".join(caught)
                if numbers:
                    try:
                        os.write(previous, numbers)
                    except OSError:
                        pass  # Full or closed: CPython's own write would drop them too.
            del caught[:]

    return wait_next


def _masked_wait(client):
    def wait_next():
        if not _CAN_MASK:
            return client.next_invocation()
        handled = [s for s in _ASYNC_SIGNALS if callable(_getsignal(s))]
        if not handled:
            return client.next_invocation()
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
        try:
            return client.next_invocation()
        finally:
            # Pending handlers run here, after the event arrived (as after the C next() returns).
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    return wait_next
