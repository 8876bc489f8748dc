"""How `handoff worker` runs jobs: handoff's own in process, an agent's callback in a forked work horse."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rq.job import Job, JobStatus

from bot.app.worker import IN_PROCESS, InProcessWorker, build_worker
from bot.client import Client
from bot.jobs import assess_job_id, execute_job_id
from bot.runtime import Runtime
from bot.store.queues import QUEUES
from tests.test_loop import TAG


def record_pid(decision: Any) -> str:
    """A proposal callback: appends the id of the process that ran it to the file named in its state."""
    with Path(decision.state["pid_file"]).open("a") as handle:
        handle.write(json.dumps({"proposal_id": decision.proposal_id, "pid": os.getpid()}) + "\n")
    return "recorded"


def kill_own_process(decision: Any) -> None:
    """A proposal callback that takes its process down without a Python exception."""
    os._exit(3)


def _status(runtime: Runtime, job_id: str) -> JobStatus | None:
    job = Job.fetch(job_id, connection=runtime.redis, serializer=runtime.queue(QUEUES[0]).serializer)
    return job.get_status()


def test_callbacks_run_in_a_work_horse_and_a_crash_there_fails_only_its_job(runtime: Runtime, tmp_path: Path) -> None:
    """A callback that kills its process fails its execute job; the worker lives on and finishes the rest."""
    pid_file = tmp_path / "pids.jsonl"
    client = Client(runtime.redis, policy=runtime.policy)
    crashing = client.submit({**TAG, "id": "crashing", "callback": "tests.test_worker:kill_own_process"})
    recorded = client.submit(
        {**TAG, "id": "recorded", "callback": "tests.test_worker:record_pid", "state": {"pid_file": str(pid_file)}}
    )
    plain = client.submit({**TAG, "id": "plain"})
    build_worker(runtime).work(burst=True, logging_level="WARNING")
    # RQ retries the crashed job (its retry records the callback as interrupted: see test_processes)
    assert _status(runtime, execute_job_id(crashing)) == JobStatus.SCHEDULED
    assert runtime.ledger.execution(crashing) is None
    ran = [json.loads(line) for line in pid_file.read_text().splitlines()]
    assert [r["proposal_id"] for r in ran] == [recorded]
    assert ran[0]["pid"] != os.getpid(), "the callback ran in the worker's own process"
    assert runtime.ledger.execution(recorded) == "ok"
    assert runtime.ledger.execution(plain) == "skipped", "without a callback, phase two runs inline"
    for pid in (crashing, recorded, plain):
        assert _status(runtime, assess_job_id(pid)) == JobStatus.FINISHED


def test_only_handoffs_own_jobs_run_in_process() -> None:
    """The in-process set names job functions that exist in bot.jobs, and never `execute` (agent code)."""
    import bot.jobs

    names = {name.rsplit(".", 1)[1] for name in IN_PROCESS}
    assert all(callable(getattr(bot.jobs, name, None)) for name in names)
    assert {name.rsplit(".", 1)[0] for name in IN_PROCESS} == {"bot.jobs"}
    assert "execute" not in names
    assert "assess" in names


def test_a_burst_run_leaves_no_command_listener_behind(runtime: Runtime) -> None:
    """RQ's teardown could leave its pubsub thread waiting for a subscription (and the run a second late);
    handoff's workers stop it first, so it has ended when the run returns, whether jobs ran or not."""
    for kind in ("handoff", "in-process"):
        for queued in (False, True):
            if queued:
                Client(runtime.redis, policy=runtime.policy).submit({**TAG, "id": f"listener-{kind}"})
            worker = build_worker(runtime) if kind == "handoff" else InProcessWorker([runtime.queue(q) for q in QUEUES])
            worker.work(burst=True, logging_level="WARNING")
            assert worker.pubsub_thread is not None
            assert not worker.pubsub_thread.is_alive()
