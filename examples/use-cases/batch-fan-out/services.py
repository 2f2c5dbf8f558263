"""The stand-in for batch-fan-out: a job API in the manner of Kubernetes Jobs.

    POST /jobs          submit a job for one work item (Idempotency-Key header
                        required): 201 {"jobId", "itemId", "status": "pending"};
                        the same key again answers the same job, creating none
    GET  /jobs/{jobId}  {"jobId", "itemId", "status": "running" | "succeeded" |
                        "failed", "result" | "error"}

A job reports ``running`` to its first poll (``polls`` in the item, default 1,
says how many) and then its outcome: ``failed`` when the item's ``input`` names
a file starting with ``corrupt``, else ``succeeded``. ``submissions`` records the
jobs created (one per item, whatever happens to the workers), ``requests`` every
request; ``most_running`` is the largest number of jobs that were running at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from examples.use_cases import Calls, StandIn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

JOBS_PORT = 8750

requests = Calls()  # every request: "submit" and "poll"
submissions = Calls()  # the jobs created: one per item


@dataclass
class Job:
    job_id: str
    item: dict[str, Any]
    polls_left: int
    status: str = "pending"

    def view(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"jobId": self.job_id, "itemId": self.item["id"],
                                  "status": self.status}
        if self.status == "succeeded":
            answer["result"] = {"rows": len(str(self.item.get("input", "")))}
        elif self.status == "failed":
            answer["error"] = f"cannot parse {self.item.get('input')}"
        return answer


class Cluster:
    """The jobs, by id and by idempotency key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.by_key: dict[str, Job] = {}
        self.most_running = 0

    def submit(self, key: str, item: dict[str, Any]) -> tuple[Job, bool]:
        with self.lock:
            if key in self.by_key:
                return self.by_key[key], False
            job = Job(f"job-{len(self.jobs) + 1:04d}", item, int(item.get("polls", 1)))
            self.jobs[job.job_id] = self.by_key[key] = job
            job.status = "running"
            self.most_running = max(self.most_running, self._running())
            return job, True

    def poll(self, job_id: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.status != "running":
                return job
            if job.polls_left > 0:
                job.polls_left -= 1
            else:
                corrupt = str(job.item.get("input", "")).rsplit("/", 1)[-1].startswith("corrupt")
                job.status = "failed" if corrupt else "succeeded"
            return job

    def _running(self) -> int:
        return sum(1 for job in self.jobs.values() if job.status == "running")


cluster = Cluster()


def reset() -> None:
    global cluster
    requests.clear()
    submissions.clear()
    cluster = Cluster()


def most_running() -> int:
    return cluster.most_running


async def submit(request: Request) -> JSONResponse:
    body = await request.json()
    key = request.headers.get("idempotency-key")
    requests.record("submit", body, dict(request.headers))
    if not key:
        return JSONResponse({"error": "an Idempotency-Key header is required"}, 400)
    job, created = cluster.submit(key, body["item"])
    if created:
        submissions.record(job.item["id"], body, dict(request.headers))
    return JSONResponse(job.view(), 201 if created else 200)


async def poll(request: Request) -> JSONResponse:
    requests.record("poll", {"jobId": request.path_params["job_id"]})
    job = cluster.poll(request.path_params["job_id"])
    if job is None:
        return JSONResponse({"error": "no such job"}, 404)
    return JSONResponse(job.view())


jobs = Starlette(routes=[
    Route("/jobs", submit, methods=["POST"]),
    Route("/jobs/{job_id}", poll),
])

STANDINS = [StandIn("jobs", JOBS_PORT, jobs)]
