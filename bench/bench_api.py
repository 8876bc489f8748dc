"""The agents' HTTP API against its baselines, on `handoff web` as production runs it (uvicorn).

(a) Long-poll: N agents wait at once on `GET /v1/proposals/{id}/decision?wait=60`; the web process's
resident memory is read idle and with all of them parked; then the decisions are published at a steady
rate and each waiter's wake-up is timed from its decision's publication to the end of its response.
The baseline is one waiter alone, woken the same way. (b) Intake: proposals per second through
`POST /v1/proposals` against the Python client's direct path (`Client.submit` over Redis), both with the
same number of submitters in flight. Private redis-server, the Slack stand-in, temp ledger; loopback.
Run: `python bench/bench_api.py [--waiters 1000] [--intake 2000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _common as common
from bench._common import Processes

SIGNING_SECRET = "bench-signing-secret"
MEMORY_TARGET_MB = 200
P99_TARGET_MS = 50
INTAKE_TARGET = 0.5


def proposal(i: int, prefix: str) -> dict[str, Any]:
    return {
        "id": f"{prefix}-{i}",
        "category": "tag_ticket",
        "action": {"name": "tag", "args": {"ticket_id": f"T-{i}", "tag": "billing"}},
        "summary": f"Tag ticket T-{i} as billing",
    }


class Http:
    """One keep-alive HTTP/1.1 connection with a Bearer token: just enough client for N thousand at once."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**20)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        assert self.reader is not None
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


# -- (a) the long-poll --------------------------------------------------------------------------


async def wait_all(bench: Bench, pids: list[str], rate: float) -> dict[str, float]:
    """Park one long-poll per proposal, read memory, publish the decisions at `rate`/s; wake-up seconds."""
    from bot.store.embedded_redis import connect
    from bot.store.review_state import Board

    board = Board(connect(bench.redis_url))
    woke: dict[str, float] = {}
    published: dict[str, float] = {}
    clients = [Http("127.0.0.1", bench.port, bench.token) for _ in pids]

    async def waiter(client: Http, pid: str) -> None:
        status, _body = await client.request("GET", f"/v1/proposals/{pid}/decision?wait=60")
        woke[pid] = time.perf_counter()
        assert status == 200, f"{pid}: HTTP {status}"

    tasks = [asyncio.create_task(waiter(c, p)) for c, p in zip(clients, pids, strict=True)]
    await _until(lambda: _blocked(board) >= len(pids), timeout=120, what=f"{len(pids)} parked long-polls")
    bench.memory["parked"] = rss_mb(bench.web_pid)
    for pid in pids:
        published[pid] = time.perf_counter()
        board.restore_decided(_decision(pid))  # sets decided and appends to the stream, as deciding does
        await asyncio.sleep(1 / rate)  # the publishing pace; the waiters run meanwhile
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    for client in clients:
        await client.close()
    return {pid: woke[pid] - published[pid] for pid in pids}


def _blocked(board: Any) -> int:
    return int(board.redis.info("clients")["blocked_clients"])


async def _until(predicate: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _decision(pid: str) -> Any:
    from bot.store.clock import utcnow
    from scoring.models import Action, Decision, Outcome

    action = Action(name="tag", args={"ticket_id": pid})
    return Decision(proposal_id=pid, outcome=Outcome.APPROVE, action=action, reviewer="U0BENCH", decided_at=utcnow())


# -- (b) intake -----------------------------------------------------------------------------------


async def intake_http(bench: Bench, n: int, concurrency: int, prefix: str = "http") -> float:
    """Proposals per second through POST /v1/proposals, `concurrency` keep-alive connections."""
    bodies = [json.dumps(proposal(i, prefix)).encode() for i in range(n)]
    clients = [Http("127.0.0.1", bench.port, bench.token) for _ in range(concurrency)]

    async def submitter(client: Http, mine: list[bytes]) -> None:
        for body in mine:
            status, answer = await client.request("POST", "/v1/proposals", body)
            assert status == 202, answer

    started = time.perf_counter()
    await asyncio.gather(*(submitter(c, bodies[i::concurrency]) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.close()
    return n / elapsed


def intake_direct(bench: Bench, n: int, concurrency: int) -> float:
    """Proposals per second through `Client.submit` on Redis, `concurrency` threads."""
    from bot.client import Client

    client = Client.from_url(bench.redis_url, policy=bench.policy)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda i: client.submit(proposal(i, "direct")), range(n)))
    return n / (time.perf_counter() - started)


# -- the run --------------------------------------------------------------------------------------


class Bench:
    """The web process, its Redis and its agent's token."""

    def __init__(self, processes: Processes, workdir: Path, standin_url: str, standin_token: str) -> None:
        from bot.api.credentials import new_agent
        from bot.review.policy_file import load_policy
        from bot.store.agents import AgentStore
        from bot.store.ledger import Ledger

        self.redis_url = common.start_redis(processes, workdir)
        self.policy = load_policy(common.REPO / "policy.yaml")
        ledger = workdir / "ledger.db"
        agent, self.token = new_agent("bench-agent", owner=None, webhook_url=None)
        AgentStore(Ledger(ledger)).add(agent)
        self.port = common.free_port()
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV") if k in os.environ}
        env = {
            **keep,
            "PYTHONPATH": str(common.REPO),
            "REDIS_URL": self.redis_url,
            "SLACK_API_URL": standin_url,
            "SLACK_BOT_TOKEN": standin_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "HANDOFF_DB": str(ledger),
            "HANDOFF_DATA_DIR": str(workdir / "data"),
            "HANDOFF_LOG_LEVEL": "WARNING",
            "HANDOFF_API_RATE": "1000000",  # exercised on every request, never the limit here
            "PORT": str(self.port),
        }
        log = workdir / "web.log"
        proc = processes.start([common.python(), "-m", "bot.cli", "web"], env=env, log=log)
        common.wait_healthy(f"http://127.0.0.1:{self.port}", proc, log)
        self.web_pid = proc.pid
        self.memory: dict[str, float] = {}


def submit_for_waiting(bench: Bench, pids: list[str]) -> None:
    """Put the proposals in Redis as the intake does (no worker runs: the decisions are published by hand)."""
    from bot.store.clock import utcnow
    from bot.store.embedded_redis import connect
    from bot.store.review_state import Board
    from bot.store.rows import Submission
    from scoring.models import Proposal

    board = Board(connect(bench.redis_url))
    for pid in pids:
        body = Proposal.model_validate({**proposal(0, "w"), "id": pid, "agent": "bench-agent"})
        board.put_proposal(pid, Submission(body, submitted_at=utcnow()))


def run(args: argparse.Namespace) -> int:
    from bot.sandbox.slack_api import SlackStandIn

    with (
        common.time_limit(args.time_limit),
        Processes() as processes,
        SlackStandIn(token="xoxb-bench-token") as standin,
        tempfile.TemporaryDirectory(prefix="handoff-bench-api-") as tmp,
    ):
        bench = Bench(processes, Path(tmp), standin.url, standin.token)
        print(common.machine_info(), f"load average {os.getloadavg()}", sep="\n", flush=True)
        alone_pids = [f"alone-{i}" for i in range(args.alone)]
        pids = [f"wait-{i}" for i in range(args.waiters)]
        submit_for_waiting(bench, alone_pids + pids)
        asyncio.run(intake_http(bench, 50, 4, prefix="warm-up"))  # imports, first connections
        bench.memory["idle"] = rss_mb(bench.web_pid)
        alone = [asyncio.run(wait_all(bench, [pid], args.rate))[pid] for pid in alone_pids]
        bench.memory["idle"] = min(bench.memory["idle"], rss_mb(bench.web_pid))
        wakes = list(asyncio.run(wait_all(bench, pids, args.rate)).values())
        peak = common.peaks(bench.web_pid)[0].mb
        http = asyncio.run(intake_http(bench, args.intake, args.concurrency))
        direct = intake_direct(bench, args.intake, args.concurrency)
        print(table(bench, alone, wakes, peak, http, direct, args))
        print(f"load average after: {os.getloadavg()}")
    return 0


def table(
    bench: Bench,
    alone: list[float],
    wakes: list[float],
    peak: float,
    http: float,
    direct: float,
    args: argparse.Namespace,
) -> str:
    p = common.percentile
    rows = [("figure", "handoff", "baseline", "ratio", "target")]
    parked = bench.memory["parked"]
    rows.append(
        (
            f"web RSS MB, {args.waiters} parked long-polls vs idle",
            f"{parked:.1f}",
            f"{bench.memory['idle']:.1f}",
            f"{parked / bench.memory['idle']:.2f}",
            f"< {MEMORY_TARGET_MB} {'met' if parked < MEMORY_TARGET_MB else 'MISSED'}",
        )
    )
    rows.append(("web peak MB (VmHWM) over the whole run", f"{peak:.1f}", "-", "-", "info"))
    for q in (50, 99):
        mine, theirs = p(wakes, q) * 1000, statistics.median(alone) * 1000
        target = f"<= {P99_TARGET_MS} ms {'met' if mine <= P99_TARGET_MS else 'MISSED'}" if q == 99 else "info"
        rows.append(
            (
                f"wake-up p{q} ms ({args.rate:g} decisions/s) vs one waiter alone (median)",
                f"{mine:.1f}",
                f"{theirs:.1f}",
                f"{mine / theirs:.2f}",
                target,
            )
        )
    ratio = http / direct
    rows.append(
        (
            f"intake proposals/s, HTTP vs Client.submit on Redis ({args.concurrency} in flight)",
            f"{http:.0f}",
            f"{direct:.0f}",
            f"{ratio:.2f}",
            f">= {INTAKE_TARGET} {'met' if ratio >= INTAKE_TARGET else 'MISSED'}",
        )
    )
    return "\n".join(common.render_table(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiters", type=int, default=1000, help="long-polls parked at once")
    parser.add_argument("--rate", type=float, default=500, help="decisions published per second")
    parser.add_argument("--alone", type=int, default=20, help="single-waiter baseline trials")
    parser.add_argument("--intake", type=int, default=2000, help="proposals per intake run")
    parser.add_argument("--concurrency", type=int, default=16, help="submitters in flight at once")
    parser.add_argument("--time-limit", type=float, default=300, help="abort (and clean up) after this many seconds")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
