"""The server starters themselves: everything boots, answers, and is gone afterwards; failures quote the log."""

import socket
import sys

import pytest

from tests.system import servers

POOL = "system-smoke"


def test_servers_answer_and_leave_nothing_running(tmp_path):
    started: set[int] = set()
    with servers.postgres(tmp_path / "postgres") as pg:
        for db in ("mlflow", "prefect", "optuna"):
            pg.create_database(db)
        # the slow boots overlap: start all three, then wait for each
        with (
            servers.mlflow_server(
                pg.url("mlflow"), tmp_path / "artifacts", tmp_path / "mlflow", auth=True, wait=False
            ) as mlflow,
            servers.prefect_server(
                pg.url("prefect", "postgresql+asyncpg"), tmp_path / "prefect", wait=False
            ) as prefect,
            servers.dask_cluster(2, tmp_path / "dask", wait=False) as dask,
        ):
            prefect.wait()
            servers.ensure_work_pool(prefect.url, POOL)
            with servers.prefect_worker(POOL, prefect.url, tmp_path / "worker", wait=False) as worker:
                for service in (dask, mlflow, worker):
                    service.wait()
                started |= set().union(*(s.pids() for s in (pg, mlflow, prefect, dask, worker)))

                check_mlflow(mlflow)
                assert servers.http_status(f"{prefect.url}/health") == 200, "Prefect /api/health should answer"
                check_dask(dask.address)
                check_optuna(pg.url("optuna", "postgresql+psycopg2"))
    left = sorted(pid for pid in started if servers.alive(pid))
    assert not left, f"processes still running after the context managers exited: {left}"


def check_mlflow(server: servers.Server) -> None:
    search = f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1"
    assert servers.http_status(f"{server.url}/health") == 200, "MLflow /health should answer"
    assert servers.http_status(search) == 401, "the basic-auth app should refuse an anonymous API call"
    assert servers.http_status(search, auth=(server.username, "wrong-password")) == 401, "a wrong password"
    assert servers.http_status(search, auth=(server.username, server.password)) == 200, "the admin should pass"


def check_dask(address: str) -> None:
    from distributed import Client

    def where() -> tuple[str, int]:
        import os

        from distributed import get_worker

        return get_worker().address, os.getpid()

    with Client(address, timeout=10, set_as_default=False) as client:
        workers = sorted(client.nthreads())
        assert len(workers) == 2, f"expected 2 workers, the scheduler sees {workers}"
        ran = client.gather([client.submit(where, workers=[w], pure=False) for w in workers])
    assert sorted(address for address, _ in ran) == workers, "each worker should run one task"
    assert len({pid for _, pid in ran}) == 2, f"the workers should be separate processes: {ran}"


def check_optuna(url: str) -> None:
    import optuna

    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.create_study(study_name="smoke", storage=storage, direction="maximize")
        trial = study.ask()
        study.tell(trial, 0.5)
        reloaded = optuna.load_study(study_name="smoke", storage=storage)
        assert [t.value for t in reloaded.trials] == [0.5], "the study should hold the finished trial"
    finally:
        storage.engine.dispose()  # close the pool before PostgreSQL shuts down


def test_a_failing_body_still_stops_the_server(tmp_path):
    # The block raises while the server runs: that is the case under test, so it holds more than one statement.
    with pytest.raises(RuntimeError, match="the body failed"), servers.postgres(tmp_path) as pg:  # noqa: PT012
        pids = pg.pids()
        assert pids, "postgres should be running inside the block"
        raise RuntimeError("the body failed")
    assert not [pid for pid in pids if servers.alive(pid)], "postgres should be stopped when the body raised"


def test_a_program_that_exits_is_reported_with_its_log(tmp_path):
    with socket.socket() as blocker:
        blocker.bind((servers.HOST, 0))
        blocker.listen()
        pg = servers.postgres(tmp_path, port=blocker.getsockname()[1])
        with pytest.raises(servers.ServerError, match="postgres exited with code") as failure, pg:
            pass
    assert "could not bind" in str(failure.value), f"the message should quote the log:\n{failure.value}"
    assert not pg.procs, "nothing of the failed start should be left"


def test_a_program_that_never_answers_times_out_and_is_stopped(tmp_path):
    sleeper = [sys.executable, "-c", "import time; print('still booting'); time.sleep(60)"]
    server = servers.Server(
        "sleeper", tmp_path, sleeper, servers.child_env(), health_path="/health", timeout=2.0, grace=1.0
    )
    with pytest.raises(servers.ServerError, match="sleeper not healthy after 2 s") as failure, server:
        pass
    assert "still booting" in str(failure.value), f"the message should quote the log:\n{failure.value}"
    assert not server.procs, "the sleeper should have been stopped"
