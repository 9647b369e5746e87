"""bi.watch() with its hosts (issue 13, parts 2 and 3): changes applied at safe
points as one transaction, a notebook (a real IPython InteractiveShell) and a
dev server (werkzeug's, real HTTP requests on the loopback interface) that
never see half an update. The watcher's own behaviour is test_watch.py's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import bridgeimport as bi

BACKENDS = ["inotify", "poll"] if sys.platform == "linux" else ["poll"]


def child_env() -> dict:
    # PYTHONPATH kept: make sanitize runs the package from it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGEIMPORT_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def wait_pending(w: bi.Watch, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not w.pending():
        assert time.monotonic() < deadline, f"nothing pending after {timeout} s: {w.status()}"
        time.sleep(0.01)


@pytest.mark.parametrize("backend", BACKENDS)
def test_apply_runs_what_changed_as_one_transaction(tree, pkgname, backend):
    root = tree({"a.py": "V = 1\n", "b.py": f"from {pkgname} import a\nV = a.V * 10\n",
                 "c.py": "V = 3\n"})
    bi.mount(pkgname, root)
    a, b, c = (bi.load(f"{pkgname}.{n}") for n in "abc")
    with bi.watch(pkgname, backend=backend, settle=0.02) as w:
        assert w.apply() is None  # nothing pending: nothing runs
        (root / "a.py").write_text("V = 2\n")
        wait_pending(w)
        tx = w.apply()
        assert tx.state == "committed" and tx.retired == [f"{pkgname}.a", f"{pkgname}.b"]
        assert sys.modules[f"{pkgname}.b"].V == 20 and sys.modules[f"{pkgname}.c"] is c
        # A broken file: rolled back, the old generation stays, reported once.
        (root / "a.py").write_text("V = (\n")
        wait_pending(w)
        tx = w.apply()
        assert tx.state == "rolled back" and "SyntaxError" in w.last_failure
        assert sys.modules[f"{pkgname}.b"].V == 20
        assert w.apply() is None  # not retried until the file changes again
        (root / "a.py").write_text("V = 3\n")
        wait_pending(w)
        assert w.apply().state == "committed" and w.last_failure is None
        assert sys.modules[f"{pkgname}.b"].V == 30
        assert bi.poll() == [] and w.status()["backend"] == backend


def test_a_watch_follows_mounts_made_later(tree, pkgname):
    with bi.watch(settle=0.02) as w:
        root = tree({"late.py": "V = 1\n"})
        bi.mount(pkgname, root)
        bi.load(f"{pkgname}.late")
        w.apply()  # starts watching the new mount's directory
        (root / "late.py").write_text("V = 2\n")
        wait_pending(w)
        assert w.apply().reloaded == [f"{pkgname}.late"]


NOTEBOOK = r'''
import json, pathlib, sys, time
from IPython.core.interactiveshell import InteractiveShell

root = pathlib.Path(sys.argv[1])
shell = InteractiveShell.instance()
out = []

def cell(code):
    result = shell.run_cell(code)
    return result.result if result.success else f"error: {result.error_in_exec!r}"

def wait():
    w = shell._bridgeimport_extension.watch
    while not w.pending():
        time.sleep(0.01)

cell("%load_ext bridgeimport")
cell(f"import bridgeimport as bi; bi.mount('nb', {str(root)!r})")
cell("import nb.shapes as shapes\nfrom nb.shapes import Square, scale\ns = Square(2)")
(root / "shapes.py").write_text(SHAPES.format(n=2))
wait()
out.append(cell("(s.area(), scale(), isinstance(s, shapes.Square), Square is shapes.Square)"))
(root / "shapes.py").write_text(SHAPES.format(n=3) + "\nraise ValueError('typo')\n")
wait()
out.append(cell("(s.area(), scale())"))
print(json.dumps(out))
'''

SHAPES = ('class Square:\n'
          '    def __init__(self, side):\n'
          '        self.side = side\n'
          '    def area(self):\n'
          '        return {n} * self.side\n'
          'def scale():\n'
          '    return {n}\n')


def test_a_notebook_applies_changes_before_each_cell(tmp_path):
    pytest.importorskip("IPython")
    (tmp_path / "shapes.py").write_text(SHAPES.format(n=1))
    code = f"SHAPES = {SHAPES!r}\n" + NOTEBOOK
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                            text=True, timeout=120, env=child_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    # One line per applied change (the cells' own Out[] lines between them).
    said = [line for line in lines if line.startswith("bridgeimport:")]
    assert len(said) == 2, lines
    assert said[0].startswith("bridgeimport: reloaded nb.shapes (patched 1 class) in ")
    assert said[1].startswith("bridgeimport: nb.shapes failed (ValueError: typo")
    assert said[1].endswith("kept the previous code")
    # The old instance runs the new method; the from-imported function is
    # the fresh one; the class is still the class. After the broken save, the
    # cell ran on the previous code: nothing half updated.
    assert json.loads(lines[-1]) == [[4, 2, True, True], [4, 2]]


SERVER = r'''
import json, pathlib, sys, threading, time, urllib.request
import bridgeimport as bi
from bridgeimport.web import WSGIReloader
from werkzeug.serving import make_server

root = pathlib.Path(sys.argv[1])
bi.mount("webapp", root)
app = WSGIReloader("webapp.app:application", bi.watch("webapp", settle=0.05))
server = make_server("127.0.0.1", 0, app, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}"

def get(path="/"):
    with urllib.request.urlopen(url + path, timeout=30) as r:
        return r.read().decode()

seen, errors, stop = [], [], threading.Event()

def hammer():
    while not stop.is_set():
        try:
            seen.append(get())
        except Exception as exc:
            errors.append(repr(exc))

threads = [threading.Thread(target=hammer) for _ in range(4)]
for t in threads:
    t.start()
slow = []
slow_thread = threading.Thread(target=lambda: slow.append(get("/slow")))
for version in range(2, 7):
    time.sleep(0.15)
    if version == 4:  # a request in flight across a change: it keeps its generation
        slow_thread.start()
        time.sleep(0.05)
    # One save touching two modules: a request sees both old or both new.
    (root / "models.py").write_text(f"VERSION = {version}\n")
    (root / "views.py").write_text(VIEWS.format(version=version))
time.sleep(0.6)
stop.set()
for t in threads + [slow_thread]:
    t.join()
final = get()
server.shutdown()
print(json.dumps({"seen": sorted(set(seen)), "errors": errors, "slow": slow, "final": final,
                  "count": len(seen)}))
'''

VIEWS = '''\
import time
from webapp import models

VIEW = {version}

def render(path):
    if path == "/slow":
        before = models.VERSION
        time.sleep(0.4)
        return f"slow {{before}}-{{models.VERSION}}-{{VIEW}}"
    return f"{{models.VERSION}}-{{VIEW}}"
'''

APP = '''\
from webapp import views

def application(environ, start_response):
    body = views.render(environ["PATH_INFO"]).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
'''


def test_a_dev_server_never_serves_a_mix_of_generations(tmp_path):
    pytest.importorskip("werkzeug")
    (tmp_path / "models.py").write_text("VERSION = 1\n")
    (tmp_path / "views.py").write_text(VIEWS.format(version=1))
    (tmp_path / "app.py").write_text(APP)
    code = f"VIEWS = {VIEWS!r}\n" + SERVER
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                            text=True, timeout=120, env=child_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["errors"] == [] and out["count"] > 20
    assert out["final"] == "6-6"
    # Every response came from one generation: never models N with views M.
    assert all(a == b for a, b in (s.split("-") for s in out["seen"])), out["seen"]
    assert len(out["seen"]) >= 2  # changes were applied while requests ran
    before, during, view = out["slow"][0].split()[1].split("-")
    assert before == during == view, out["slow"]


def test_the_asgi_reloader_applies_between_requests(tree, pkgname):
    import asyncio

    from bridgeimport.web import ASGIReloader

    root = tree({"app.py": "import asyncio\nV = 1\n"
                           "async def app(scope, receive, send):\n"
                           "    before = V\n"
                           "    await asyncio.sleep(scope.get('sleep', 0))\n"
                           "    await send({'v': (before, V)})\n"})
    bi.mount(pkgname, root)
    with bi.watch(pkgname, settle=0.02) as w:
        reloader = ASGIReloader(f"{pkgname}.app:app", w)

        async def request(sleep=0.0):
            sent = []

            async def send(message):
                sent.append(message["v"])
            await reloader({"type": "http", "sleep": sleep}, None, send)
            return sent[0]

        async def main():
            slow = asyncio.ensure_future(request(0.3))  # in flight across the change
            await asyncio.sleep(0.05)
            (root / "app.py").write_text((root / "app.py").read_text().replace("V = 1", "V = 2"))
            while not w.pending():
                await asyncio.sleep(0.01)
            fast = await request()  # waits for the slow one, then for the change
            assert slow.done(), "the change was applied while a request was running"
            return await slow, fast

        slow, fast = asyncio.run(main())
    assert slow == (1, 1) and fast == (2, 2)


def test_a_change_that_failed_is_checked_again_with_the_next_one(tree, pkgname):
    """Found in review: b dropped a name a still imported (rolled back); the
    fix in a alone then ran against the old b and failed too."""
    root = tree({"b.py": "VERSION = 1\nold = 1\n", "a.py": f"from {pkgname}.b import old\n"})
    bi.mount(pkgname, root)
    bi.load(f"{pkgname}.a")
    with bi.watch(pkgname, settle=0.02) as w:
        (root / "b.py").write_text("VERSION = 2\nnew = 2\n")
        wait_pending(w)
        assert w.apply().state == "rolled back"
        (root / "a.py").write_text(f"from {pkgname}.b import new\n")
        wait_pending(w)
        tx = w.apply()
        assert tx.state == "committed", w.last_failure
        assert sys.modules[f"{pkgname}.b"].VERSION == 2


def test_a_module_deleted_in_the_same_save_stays_retired(tree, pkgname):
    root = tree({"helper.py": "V = 1\n", "c.py": f"V = 1\ntry:\n    from {pkgname} import helper\n"
                                                 "except ImportError:\n    pass\n"})
    bi.mount(pkgname, root)
    bi.load(f"{pkgname}.c")
    with bi.watch(pkgname, settle=0.05) as w:
        (root / "helper.py").unlink()
        (root / "c.py").write_text("V = 2\n")
        wait_pending(w)
        tx = w.apply()
    assert tx.state == "committed", tx.error
    assert sys.modules[f"{pkgname}.c"].V == 2 and f"{pkgname}.helper" not in sys.modules


def test_a_wsgi_body_closed_twice_ends_its_request_once(tree, pkgname):
    from bridgeimport.web import WSGIReloader

    root = tree({"app.py": "def app(environ, start_response):\n    return [b'x']\n"})
    bi.mount(pkgname, root)
    with bi.watch(pkgname) as w:
        reloader = WSGIReloader(f"{pkgname}.app:app", w)
        body = reloader({}, None)
        body.close()
        body.close()
        assert reloader.gate.running == 0
    with bi.watch(pkgname, apply_on_thread=True) as on_thread:
        with pytest.raises(ValueError, match="must not apply on its own thread"):
            WSGIReloader(f"{pkgname}.app:app", on_thread)
