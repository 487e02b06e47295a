"""The execution engine: task order, values handed on, failures reported per task, in process and on Dask."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

from allocopt.engine import ClusterError, Engine, InProcessEngine, Task, describe_error, open_engine
from allocopt.errors import InfeasibleError

# Worker processes cannot import this test module by name, so its task functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def scaled(shared: dict[str, float], *, x: float, previous: float | None = None) -> float:
    """shared["factor"] * x, plus the previous task's value when there is one; x = 3 fails on purpose."""
    if x == 3:
        raise InfeasibleError(f"no plan for x = {x:g}")
    return shared["factor"] * x + (previous or 0.0)


TASKS = [
    Task("x=1", {"x": 1.0}),
    Task("x=2 after x=1", {"x": 2.0}, after=0),
    Task("x=3", {"x": 3.0}),
    Task("x=4 after x=3", {"x": 4.0}, after=2),
    Task("x=5", {"x": 5.0}),
]
EXPECTED = [
    (10.0, None),
    (30.0, None),
    (None, "InfeasibleError: no plan for x = 3"),
    (None, "InfeasibleError: no plan for x = 3"),
    (50.0, None),
]


def _summary(outcomes: list[Any]) -> list[tuple[float | None, str | None]]:
    return [(outcome.value, outcome.error) for outcome in outcomes]


def test_in_process_runs_in_order_hands_values_on_and_reports_failures() -> None:
    calls: list[tuple[int, int, str]] = []
    outcomes = InProcessEngine().run(
        scaled,
        TASKS,
        shared={"factor": 10.0},
        progress=lambda done, total, label: calls.append((done, total, label)),
    )
    assert _summary(outcomes) == EXPECTED
    assert [outcome.task for outcome in outcomes] == TASKS
    assert [outcome.ok for outcome in outcomes] == [True, True, False, False, True]
    assert calls == [(i + 1, 5, task.label) for i, task in enumerate(TASKS)]


def test_a_task_may_only_wait_for_an_earlier_one() -> None:
    with pytest.raises(ValueError, match="not an earlier task"):
        InProcessEngine().run(scaled, [Task("a", {"x": 1.0}, after=0)], shared={"factor": 1.0})


def test_describe_error_names_the_type() -> None:
    assert describe_error(KeyError("ct")) == "KeyError: 'ct'"


def test_one_worker_runs_in_process_without_dask() -> None:
    with open_engine(workers=1) as engine:
        assert isinstance(engine, InProcessEngine)
        assert engine.workers == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, "at least 1"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
    ],
)
def test_conflicting_or_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ClusterError, match=message), open_engine(**options):
        pass


def test_unreachable_scheduler_is_a_cluster_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        pytest.raises(ClusterError, match=f"127.0.0.1:{port}"),
        open_engine(scheduler=f"tcp://127.0.0.1:{port}", connect_timeout_s=2.0),
    ):
        pass


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[Engine]:
    with open_engine(workers=2) as engine:
        yield engine


def test_local_cluster_gives_the_in_process_outcomes(local_cluster: Engine) -> None:
    calls: list[tuple[int, int, str]] = []
    outcomes = local_cluster.run(
        scaled,
        TASKS,
        shared={"factor": 10.0},
        progress=lambda done, total, label: calls.append((done, total, label)),
    )
    assert local_cluster.workers == 2
    assert "127.0.0.1" in local_cluster.description
    assert _summary(outcomes) == EXPECTED
    assert [outcome.task for outcome in outcomes] == TASKS
    assert sorted(done for done, _, _ in calls) == [1, 2, 3, 4, 5]
    assert sorted(label for _, _, label in calls) == sorted(task.label for task in TASKS)


def test_local_cluster_reports_an_unexpected_exception_and_keeps_the_rest(local_cluster: Engine) -> None:
    outcomes = local_cluster.run(
        scaled, [Task("bad", {"x": "text"}), Task("good", {"x": 2.0})], shared={"factor": 1.5}
    )
    assert outcomes[0].error is not None and outcomes[0].error.startswith("TypeError:")
    assert outcomes[1].value == 3.0
