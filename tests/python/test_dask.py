"""bridgeimport.dask on a real cluster: a scheduler and workers are processes
started from a clean environment (no BRIDGEIMPORT_* variables: as on another
machine) on the loopback interface, and each test's client is a program of its
own, as a user's would be (issue 16, part 1).

The cluster is shared by the module's tests; each test mounts a package of
its own name, and its registration replaces the previous test's plugin.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

SHAPES = """\
import os
VERSION = {version}

class Square:
    def __init__(self, side):
        self.side = side
        self.pid = os.getpid()
        self.version = VERSION

    def area(self):
        return self.side ** 2
"""


def worker_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"),
               DASK_TEMPORARY_DIRECTORY=str(home / "scratch"), PYTHONDONTWRITEBYTECODE="1")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and its workers, each a process of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.processes = []
        self.logs = []
        self._start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                     "127.0.0.1", "--port", self.address.rsplit(":", 1)[1], "--no-dashboard"],
                    "scheduler", root)

    def _start(self, argv, name, home, **kwargs):
        home.mkdir(parents=True, exist_ok=True)
        log = open(self.root / f"{name}.log", "wb")
        self.logs.append(log)
        self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                               env=worker_env(home), cwd=home, **kwargs))

    def add_worker(self, name: str, *, user: str = "") -> None:
        home = self.root / name
        kwargs = {}
        if user:  # a home and scratch space that user may write
            home = Path(tempfile.mkdtemp(prefix=f"bi-dask-{name}-"))
            os.chmod(home, 0o777)
            kwargs = {"user": user, "group": "nogroup", "extra_groups": []}
        self._start([sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                     "--name", name, "--nthreads", "2", "--no-dashboard"], name, home, **kwargs)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def close(self) -> None:
        for p in reversed(self.processes):
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    c.add_worker("w1")
    yield c
    c.close()


PRELUDE = """\
import json, os, sys, importlib
import bridgeimport as bi
import bridgeimport.dask
from distributed import Client

client = Client(sys.argv[1], timeout=60)
client.wait_for_workers(int(sys.argv[2]), timeout=60)
out = {{}}

def address(name):
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return next(addr for addr, info in workers.items() if info["name"] == name)

def square(side, worker):
    import {pkg}.shapes
    return client.submit({pkg}.shapes.Square, side, workers=[address(worker)],
                         pure=False).result()

def probe(name):
    try:
        importlib.import_module(name)
    except Exception as exc:
        return f"{{type(exc).__name__}}: {{exc}}"
    return sys.modules[name].__file__
"""


def run_client(cluster: Cluster, pkg: str, body: str) -> dict:
    """Runs PRELUDE + body as the client program, once every worker started
    so far has connected; returns its ``out``."""
    workers = len(cluster.processes) - 1
    home = cluster.root / "client"
    home.mkdir(exist_ok=True)
    code = PRELUDE.format(pkg=pkg) + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    result = subprocess.run([sys.executable, "-c", code, cluster.address, str(workers)],
                            capture_output=True, text=True, timeout=180, cwd=home,
                            env=worker_env(home))
    assert result.returncode == 0, (f"client failed:\n{result.stderr}\n"
                                    f"--- scheduler log ---\n{cluster.log('scheduler')[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bridge_dir(tmp_path: Path, version: int = 1) -> Path:
    d = tmp_path / "bridges"
    d.mkdir(exist_ok=True)
    (d / "shapes.py").write_text(SHAPES.format(version=version))
    return d


def test_a_worker_started_without_the_mounts_gets_them_from_the_plugin(cluster, tmp_path):
    d = bridge_dir(tmp_path)
    out = run_client(cluster, "dk_ship", f"""
        bi.mount("dk_ship", {str(d)!r})
        out["before"] = client.submit(probe, "dk_ship.shapes", pure=False).result()
        plugin = bridgeimport.dask.register(client)
        out["versions"] = plugin.versions
        s = square(3, "w1")
        import dk_ship.shapes
        out["identity"] = type(s) is dk_ship.shapes.Square
        out["area"], out["pid"], out["client_pid"] = s.area(), s.pid, os.getpid()
        out["where"] = client.submit(probe, "dk_ship.shapes", pure=False).result()
    """)
    assert out["before"].startswith("ModuleNotFoundError: No module named 'dk_ship'")
    assert out["identity"] and out["area"] == 9 and out["pid"] != out["client_pid"]
    version = out["versions"]["dk_ship"]
    assert len(version) == 64
    # The worker serves a shipped copy named by its content, not the client's directory.
    assert f"/bridgeimport/dk_ship-{version[:32]}/shapes.py" in out["where"]
    assert str(d) not in out["where"]


def test_a_worker_joining_after_registration_and_a_restart_get_it_too(cluster, tmp_path):
    d = bridge_dir(tmp_path)
    run_client(cluster, "dk_late", f"""
        bi.mount("dk_late", {str(d)!r})
        bridgeimport.dask.register(client)
    """)
    cluster.add_worker("w2")
    out = run_client(cluster, "dk_late", f"""
        bi.mount("dk_late", {str(d)!r})
        import dk_late.shapes
        s = square(4, "w2")
        out["late"] = type(s) is dk_late.shapes.Square and s.area() == 16
        client.restart()
        client.wait_for_workers(2, timeout=60)
        out["restarted"] = [square(5, w).area() for w in ("w1", "w2")]
    """)
    assert out == {"late": True, "restarted": [25, 25]}


def test_a_changed_file_reaches_the_workers_as_a_new_version(cluster, tmp_path):
    d = bridge_dir(tmp_path, version=1)
    out = run_client(cluster, "dk_ver", f"""
        import pathlib, time
        bi.mount("dk_ver", {str(d)!r})
        first = bridgeimport.dask.register(client).versions["dk_ver"]
        old = square(2, "w1")
        src = pathlib.Path({str(d / "shapes.py")!r})
        src.write_text(src.read_text().replace("VERSION = 1", "VERSION = 2"))
        with bi.transaction("dk_ver"):
            import dk_ver.shapes
        second = bridgeimport.dask.register(client).versions["dk_ver"]
        new = square(2, "w1")
        out["versions"] = [first != second, old.version, new.version]
        out["where"] = client.submit(probe, "dk_ver.shapes", pure=False).result()
        out["second"] = second
        # Registering the same files again is the same version: nothing retired.
        again = bridgeimport.dask.register(client).versions["dk_ver"]
        out["same"] = again == second and square(2, "w1").version == 2
    """)
    assert out["versions"] == [True, 1, 2]
    assert f"dk_ver-{out['second'][:32]}" in out["where"]
    assert out["same"]


def test_registering_again_replaces_the_plugin(cluster, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "shapes.py").write_text(SHAPES.format(version=1))
    out = run_client(cluster, "dk_one", f"""
        bi.mount("dk_one", {str(a)!r})
        bi.mount("dk_two", {str(b)!r})
        bridgeimport.dask.register(client)
        out["both"] = [client.submit(probe, p + ".shapes", pure=False).result()
                       .endswith("shapes.py") for p in ("dk_one", "dk_two")]
        bridgeimport.dask.register(client, "dk_one")
        out["mounted"] = sorted(m for m in client.run(lambda: [m.package for m in bi.mounts()])
                                .popitem()[1] if m.startswith("dk_"))
        out["plugins"] = sorted(client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.worker_plugins)))
    """)
    assert out["both"] == [True, True]
    assert out["mounted"] == ["dk_one"]
    assert out["plugins"].count("bridgeimport") == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a worker as another user")
def test_a_worker_that_cannot_read_the_clients_directory(cluster, tmp_path):
    # tmp_path is root's (mode 0700 above it): the worker running as nobody
    # cannot reach it, as a worker on another machine cannot.
    d = bridge_dir(tmp_path)
    cluster.add_worker("nobody", user="nobody")
    out = run_client(cluster, "dk_perm", f"""
        bi.mount("dk_perm", {str(d)!r})
        try:
            bridgeimport.dask.register(client, ship=False)
        except Exception as exc:
            out["register"] = f"{{type(exc).__name__}}: {{exc}}"
        out["task"] = client.submit(probe, "dk_perm.shapes", workers=[address("nobody")],
                                    pure=False).result()
        bridgeimport.dask.register(client, ship=True)
        import dk_perm.shapes
        s = square(6, "nobody")
        out["shipped"] = type(s) is dk_perm.shapes.Square and s.area() == 36
    """)
    assert out["register"].startswith("BridgeImportError: bridgeimport.dask: cannot mount "
                                      "'dk_perm': worker tcp://127.0.0.1:")
    assert out["task"].startswith("BridgeNotFoundError: bridgeimport.dask: no module named "
                                  "'dk_perm': 'dk_perm' is not mounted because worker tcp://")
    for text in (out["register"], out["task"]):
        assert "could not mount it: PermissionError:" in text and str(d) in text
        assert "(Permission denied)" in text and "register with ship=True" in text
    assert out["shipped"]


def test_workers_in_the_clients_own_process_keep_its_modules(tmp_path):
    """LocalCluster(processes=False), as in a notebook: the workers and the
    scheduler share the client's sys.modules, so the plugin must change
    nothing there (a shipped copy would retire the client's own modules)."""
    d = bridge_dir(tmp_path)
    code = textwrap.dedent(f"""
        import bridgeimport as bi, bridgeimport.dask
        from distributed import Client, LocalCluster
        bi.mount("dk_inproc", {str(d)!r})
        import dk_inproc.shapes
        before = dk_inproc.shapes
        with LocalCluster(processes=False, n_workers=2, dashboard_address=None) as cluster, \\
                Client(cluster) as client:
            bridgeimport.dask.register(client)
            s = client.submit(dk_inproc.shapes.Square, 7, pure=False).result()
            import dk_inproc.shapes
            print(dk_inproc.shapes is before, type(s) is before.Square)
        print(bi.find_mount("dk_inproc").directories == ({str(d)!r},))  # closing kept it
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=180, cwd=tmp_path, env=worker_env(tmp_path))
    assert result.stdout.split() == ["True", "True", "True"], result.stderr
    assert "Plugin call failed" not in result.stderr, result.stderr


def test_plans_are_content_addressed_and_ship_only_what_is_served(tmp_path):
    import bridgeimport as bi
    from bridgeimport import dask as bidask

    first, second = tmp_path / "first", tmp_path / "second"
    for d in (first, second):
        (d / "sub").mkdir(parents=True)
    (first / "a.py").write_text("A = 1\n")
    (second / "a.py").write_text("A = 2\n")          # shadowed by first/a.py
    (second / "b.py").write_text("B = 1\n")
    (first / "sub" / "__init__.py").write_text("")
    (first / "sub" / "leaf.py").write_text("L = 1\n")
    (first / "notes.txt").write_text("not a module\n")
    bi.mount("dk_plan", first, second)
    plan = bidask.BridgeMounts("dk_plan").plans[0]
    assert dict(plan.files) == {"a.py": b"A = 1\n", "b.py": b"B = 1\n",
                                "sub/__init__.py": b"", "sub/leaf.py": b"L = 1\n"}
    assert bidask.BridgeMounts("dk_plan").plans[0].version == plan.version
    (second / "b.py").write_text("B = 2\n")
    assert bidask.BridgeMounts("dk_plan").plans[0].version != plan.version
    store = tmp_path / "store"
    store.mkdir()
    where = bidask._materialize(plan, str(store))
    assert sorted(str(p.relative_to(where)) for p in Path(where).rglob("*.py")) == \
        ["a.py", "b.py", "sub/__init__.py", "sub/leaf.py"]
    assert bidask._materialize(plan, str(store)) == where
    assert [p.name for p in store.iterdir()] == [Path(where).name]  # no leftovers
    with pytest.raises(ValueError, match="not mounted here: nope"):
        bidask.BridgeMounts("nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    bi.mount("dk_empty", empty)  # found in review: no files is still a shipped plan
    plan = bidask.BridgeMounts("dk_empty").plans[0]
    assert plan.files == () and len(plan.key) == 64
    assert os.listdir(bidask._materialize(plan, str(store))) == []


def test_importing_bridgeimport_does_not_import_dask():
    code = "import bridgeimport as bi, sys; bi.mounts(); print('distributed' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.stdout.strip() == "False", (result.stderr, time.monotonic() - started)
