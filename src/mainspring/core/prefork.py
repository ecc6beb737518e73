"""``mainspring serve --workers N``: import the application once, then fork the workers.

uvicorn's own supervisor (``uvicorn.run(..., workers=N)``) *spawns* each worker: a new
interpreter that imports FastAPI, SQLAlchemy and every module again. On a 2-CPU machine four
workers importing at once took four times the CPU of one start, and a crashed worker's
replacement paid the whole import again. This supervisor is the pre-fork model of gunicorn's
``--preload``:

1. The parent (``mainspring serve``) builds the application once (``config.load()`` calls
   ``create_app()``): every import, and FastAPI's analysis of every route (its dependencies'
   signatures, a Pydantic adapter per parameter: most of a first ``create_app``), happen
   here, once. Building the app opens nothing: no connection, no thread, no event loop (the
   engine, the Redis clients and the HTTP client connect on first use, and the lifespan's
   start-up hooks run in each worker). Then it binds the listening socket and freezes what it
   holds (``gc.freeze()``: the garbage collector of a worker never writes to those objects'
   pages, so they stay shared between the workers instead of being copied into each).
2. It forks ``workers`` children. Each one runs a uvicorn ``Server`` with the inherited app on
   the inherited socket, as uvicorn's own workers do: its lifespan opens its own connections,
   pools and threads. The kernel hands each connection to whichever worker is waiting.
3. The parent stays small and waits: a worker that exits or is killed is replaced by a new
   fork (milliseconds, no import); a worker that fails its start-up (exit status 3, uvicorn's
   ``STARTUP_FAILURE``: a database that refuses the connection, a bad setting) stops the whole
   server with that status, instead of restarting in a loop.
4. SIGTERM or SIGINT is passed to every worker, each of which drains as uvicorn does (stop
   accepting, finish in-flight requests within ``timeout_graceful_shutdown``, run the app's
   shutdown hooks); the parent exits once they all have (or kills what is left after
   ``stop_timeout`` seconds).

What it does not do: uvicorn's SIGHUP (restart every worker), SIGTTIN/SIGTTOU (add or remove
one) and its pings of a hung worker. A hung worker is for the orchestrator's liveness probe to
find; restart the server to load new code. POSIX only (``os.fork``), as is production.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import threading
import time
from types import FrameType

import structlog
import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = structlog.get_logger("mainspring.serve")

POLL_SECONDS = 0.5
"""How often the parent looks for exited workers (a signal wakes it at once)."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Supervisor:
    """Forks ``config.workers`` uvicorn workers on ``sockets`` and keeps that many running."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], stop_timeout: float
    ) -> None:
        self.config = config
        self.sockets = sockets
        self.stop_timeout = stop_timeout
        self.workers: set[int] = set()
        self.exit_code = 0
        self._stopping = threading.Event()
        self._signal: str | None = None

    def run(self) -> int:
        """Serve until a stop signal (0) or a worker's failed start-up (its status)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            logger.info("supervisor_started", pid=os.getpid(), workers=self.config.workers)
            gc.freeze()  # what is imported now stays shared with the workers (see above)
            for _ in range(self.config.workers):
                self._fork()
            while not self._stopping.is_set():
                self._reap(replace=True)
                self._stopping.wait(POLL_SECONDS)
            if self._signal:
                logger.info("supervisor_stopping", signal=self._signal)
            self._stop_workers()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("supervisor_stopped", pid=os.getpid(), exit_code=self.exit_code)
        return self.exit_code

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signal = self._signal or signal.Signals(signum).name
        self._stopping.set()

    def _fork(self) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            os._exit(self._serve())
        self.workers.add(pid)
        logger.info("worker_forked", pid=pid)

    def _serve(self) -> int:
        """A worker's whole life: uvicorn's server, with the inherited app and socket."""
        for sig in STOP_SIGNALS:  # uvicorn installs its own; re-raised after a drain: default
            signal.signal(sig, signal.SIG_DFL)
        # The frozen objects stay frozen here too (``gc.unfreeze()`` would have the collector
        # walk them again, writing to every shared page); the worker's own objects are collected.
        code = 0
        try:
            uvicorn.Server(self.config).run(sockets=self.sockets)
        except SystemExit as exc:  # uvicorn exits with STARTUP_FAILURE when the app cannot start
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            logger.exception("worker_failed", pid=os.getpid())
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
        return code

    def _reap(self, *, replace: bool) -> None:
        """Collect exited workers; with ``replace``, fork a new one for each."""
        while self.workers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            self.workers.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            if not replace or self._stopping.is_set():
                continue
            if code == STARTUP_FAILURE:
                logger.error("worker_start_failed", pid=pid, exit_code=code)
                self.exit_code = STARTUP_FAILURE
                self._stopping.set()
                return
            logger.warning("worker_exited", pid=pid, exit_code=code, action="replaced")
            self._fork()

    def _stop_workers(self) -> None:
        """SIGTERM each worker (a graceful drain), then SIGKILL whatever outlives the timeout."""
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while self.workers and time.monotonic() < deadline:
            self._reap(replace=False)
            time.sleep(0.05)
        for pid in self.workers:
            logger.warning("worker_killed", pid=pid, reason="still running after the grace period")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while self.workers:
            pid, _ = os.waitpid(-1, 0)
            self.workers.discard(pid)


def serve(config: uvicorn.Config, *, stop_timeout: float) -> int:
    """Bind ``config``'s socket, fork ``config.workers`` workers, supervise them; the exit status.

    The application is built here, before the fork (see the module docstring).
    """
    config.load()
    sock = config.bind_socket()
    try:
        return Supervisor(config, [sock], stop_timeout).run()
    finally:
        sock.close()
