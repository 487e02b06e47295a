"""Where many solves run: in this process one after another, or on a Dask cluster (local or at an address).

`open_engine` gives an engine with a `run(function, tasks, shared=...)` method. Each `Task` is one call
`function(shared, **task.arguments)`; a task may name an earlier task (`after`), whose value is then passed as
`previous=` and which it waits for (a budget sweep hands each plan on as the next budget's starting plan).
Every task ends as a `TaskOutcome` holding its value or its error, in task order: a task that raises is
reported by its label and does not lose the others' results. A task that depends on a failed one fails with
the same error.

With one worker and no scheduler nothing of Dask is imported. Otherwise `shared` (the prepared region and its
travel matrix) is sent to every worker once (`scatter`, broadcast) and tasks should return small values
(tables, dicts), not whole results with their per-demand-point frames.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from allocopt.errors import AllocoptError

if TYPE_CHECKING:
    from distributed import Client

ProgressCallback = Callable[[int, int, str], None]
"""Called after each task with (tasks finished, tasks in all, the finished task's label)."""

CONNECT_TIMEOUT_S = 30.0
"""How long to wait for a scheduler to answer, and for it to have at least one worker."""

DASK_FIX = (
    "install the cluster extra: `pip install 'allocopt[cluster]'` (or `pip install 'dask[distributed]'`)"
)


class ClusterError(AllocoptError):
    """Dask is missing, the scheduler cannot be reached or has no workers, or the engine options conflict."""


@dataclass(frozen=True)
class Task:
    """One call of the engine's function: `label` names it in progress and errors ("budget 3,000,000 yuan").

    `after` is the index of an earlier task in the same run whose value is passed as `previous=`.
    """

    label: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    after: int | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """What became of one task: its value, or its error as "<ExceptionType>: <message>"."""

    task: Task
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the task returned a value."""
        return self.error is None


class Engine(Protocol):
    """Runs tasks; `workers` is how many run at once (1 in process)."""

    @property
    def workers(self) -> int: ...

    @property
    def description(self) -> str: ...

    def run(
        self,
        function: Callable[..., Any],
        tasks: Sequence[Task],
        *,
        shared: Any = None,
        progress: ProgressCallback | None = None,
    ) -> list[TaskOutcome]: ...


def describe_error(exc: BaseException) -> str:
    """The one-line form a failed task is reported in: the exception's type and message."""
    return f"{type(exc).__name__}: {exc}"


class InProcessEngine:
    """Runs tasks one after another in this process, without Dask."""

    workers = 1
    description = "in process"

    def run(
        self,
        function: Callable[..., Any],
        tasks: Sequence[Task],
        *,
        shared: Any = None,
        progress: ProgressCallback | None = None,
    ) -> list[TaskOutcome]:
        """Call `function(shared, **arguments)` for each task in order; errors are recorded, not raised."""
        _check_tasks(tasks)
        outcomes: list[TaskOutcome] = []
        for task in tasks:
            earlier = outcomes[task.after] if task.after is not None else None
            if earlier is not None and not earlier.ok:
                outcomes.append(TaskOutcome(task, error=earlier.error))
            else:
                extra = {"previous": earlier.value} if earlier is not None else {}
                try:
                    outcomes.append(TaskOutcome(task, value=function(shared, **task.arguments, **extra)))
                except Exception as exc:
                    outcomes.append(TaskOutcome(task, error=describe_error(exc)))
            if progress is not None:
                progress(len(outcomes), len(tasks), task.label)
        return outcomes


class DaskEngine:
    """Runs tasks on the workers of a connected Dask client."""

    def __init__(self, client: Client, *, description: str) -> None:
        self._client = client
        self._description = description

    @property
    def workers(self) -> int:
        """Workers connected to the scheduler now."""
        return max(1, len(self._client.nthreads()))

    @property
    def description(self) -> str:
        """Where the tasks run, for summaries ("dask at tcp://127.0.0.1:8786, 2 workers")."""
        return f"{self._description}, {self.workers} workers"

    def run(
        self,
        function: Callable[..., Any],
        tasks: Sequence[Task],
        *,
        shared: Any = None,
        progress: ProgressCallback | None = None,
    ) -> list[TaskOutcome]:
        """Submit every task (with `shared` scattered to all workers once) and collect them as they finish."""
        from distributed import as_completed

        _check_tasks(tasks)
        client = self._client
        shared_future = client.scatter([shared], broadcast=True)[0]
        futures: list[Any] = []
        for task in tasks:
            extra = {"previous": futures[task.after]} if task.after is not None else {}
            futures.append(client.submit(_reported, function, shared_future, **task.arguments, **extra, pure=False))
        position = {future.key: index for index, future in enumerate(futures)}
        outcomes: list[TaskOutcome | None] = [None] * len(tasks)
        for done, future in enumerate(as_completed(futures), start=1):
            index = position[future.key]
            try:
                value = future.result()
            except Exception as exc:  # the worker died, or the value could not be sent back
                outcomes[index] = TaskOutcome(tasks[index], error=describe_error(exc))
            else:
                outcomes[index] = TaskOutcome(tasks[index], value=value.value, error=value.error)
            if progress is not None:
                progress(done, len(tasks), tasks[index].label)
        return [outcome for outcome in outcomes if outcome is not None]


@dataclass(frozen=True)
class _Reported:
    """What a task sends back from a worker: its value, or its error as one line (never the exception)."""

    value: Any = None
    error: str | None = None


def _reported(function: Callable[..., Any], shared: Any, **arguments: Any) -> _Reported:
    """Run one task on a worker; an exception becomes its one-line description there.

    An exception sent back whole carries its traceback, which Dask logs at length when it cannot pickle it (a
    RecursionError's runs to thousands of lines); a task waiting for a failed one fails with the same error.
    """
    previous = arguments.get("previous")
    if isinstance(previous, _Reported):
        if previous.error is not None:
            return previous
        arguments = {**arguments, "previous": previous.value}
    try:
        return _Reported(value=function(shared, **arguments))
    except Exception as exc:
        return _Reported(error=describe_error(exc))


def _check_tasks(tasks: Sequence[Task]) -> None:
    for index, task in enumerate(tasks):
        if task.after is not None and not 0 <= task.after < index:
            raise ValueError(
                f"task {index} ({task.label}) waits for task {task.after}, which is not an earlier task"
            )


@contextmanager
def open_engine(
    *, workers: int = 1, scheduler: str | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> Iterator[Engine]:
    """The engine for `--workers N` / `--scheduler ADDRESS`, shut down (or disconnected) on leaving the block.

    One worker and no scheduler: in process, without Dask. More workers: a `LocalCluster` of that many
    single-threaded worker processes on 127.0.0.1 (its status page on a free loopback port). A scheduler
    address: a client of that running cluster (see docs/sweeps.md), which must have at least one worker
    within `connect_timeout_s`.
    Raises ClusterError when both are given, Dask is missing, or the scheduler cannot be reached.
    """
    if workers < 1:
        raise ClusterError(f"--workers must be at least 1, got {workers}")
    if scheduler is not None and workers != 1:
        raise ClusterError("give either --workers (a local cluster) or --scheduler (a running one), not both")
    if scheduler is None and workers == 1:
        yield InProcessEngine()
        return
    distributed = _import_distributed()
    if scheduler is None:
        with (
            distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield DaskEngine(client, description=f"local dask cluster at {cluster.scheduler_address}")
        return
    with _connect(distributed, scheduler, timeout_s=connect_timeout_s) as client:
        yield DaskEngine(client, description=f"dask scheduler at {scheduler}")


def _client(distributed: Any, address: str, *, timeout_s: float) -> Client:
    """A client of the scheduler at `address`, or ClusterError within about `timeout_s`.

    Dask's own timeout does not cover a server that accepts the connection and then speaks another protocol (an
    HTTP server, or the dashboard on 8787 mistaken for the scheduler on 8786): the handshake then waits forever or
    reads an HTTP reply as a message length. The connection is therefore made in a daemon thread, given up on
    after the deadline, and any failure of it becomes one ClusterError.
    """
    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = distributed.Client(address, timeout=timeout_s)
        except BaseException as exc:  # reported below, in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="allocopt-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + _HANDSHAKE_GRACE_S)
    fix = ("check that it is the scheduler's address (tcp://HOST:PORT as `dask scheduler` prints it, port 8786 by "
           "default; 8787 is the dashboard), see docs/sweeps.md")
    if thread.is_alive():
        raise ClusterError(f"{address!r} did not answer as a Dask scheduler within {timeout_s:g} s; {fix}")
    error = outcome.get("error")
    if isinstance(error, OSError | TimeoutError | ValueError):
        raise ClusterError(f"cannot connect to the Dask scheduler at {address!r} ({error}); start one with "
                           f"`dask scheduler`, or {fix}") from error
    if error is not None:
        raise ClusterError(f"{address!r} does not speak Dask's protocol ({describe_error(error)}); {fix}") from None
    return cast("Client", outcome["client"])


_HANDSHAKE_GRACE_S = 5.0
"""Time allowed beyond the connect timeout before a silent handshake is given up on."""


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(f"running on several workers needs dask.distributed ({exc}); {DASK_FIX}") from exc
    return distributed


@contextmanager
def _connect(distributed: Any, address: str, *, timeout_s: float) -> Iterator[Client]:
    """A client of the scheduler at `address` with at least one worker, closed on leaving the block."""
    client = _client(distributed, address, timeout_s=timeout_s)
    try:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"the Dask scheduler at {address} has no workers after {timeout_s:g} s; start some with "
                f"`dask worker {address}`"
            ) from exc
        yield client
    finally:
        client.close()
