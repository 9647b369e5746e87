"""The file watcher (``bridgeimport._watch``): every kind of save is reported, soon.

Each behaviour runs on both backends where it applies (inotify and polling),
with short settle times, waiting with timeouts rather than fixed sleeps.
Failures of inotify (ENOSPC, a dead descriptor, a remote filesystem, a
queue overflow) are simulated: each must end in a report, never a miss.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time

import pytest

from bridgeimport import _watch

BACKENDS = ["inotify", "poll"]
# Polling settles for longer than a pass, so a burst found by two passes is one batch.
OPTIONS = {"inotify": dict(settle=0.05, poll_interval=0.05),
           "poll": dict(settle=0.12, poll_interval=0.03)}
TIMEOUT = 5.0


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "old.py").write_text("old = 1\n")
    return root


@pytest.fixture
def watchers():
    made = []

    def make(directories, backend="inotify", **options):
        settings = {**OPTIONS["poll" if backend == "poll" else "inotify"], **options}
        w = _watch.Watcher([str(d) for d in directories], backend=backend, **settings)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def records():
    """The bridgeimport logger's records (whatever another test did to it)."""
    got = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = got.append
    logger = logging.getLogger("bridgeimport")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield got
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def collect(w, expected, timeout=TIMEOUT):
    """Takes batches until every expected path was reported; returns all taken."""
    expected = {str(p) for p in expected}
    seen = set()
    deadline = time.monotonic() + timeout
    while not expected <= seen and time.monotonic() < deadline:
        if w.wait(deadline - time.monotonic()):
            seen |= w.take()
    return seen


def until(condition, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# -- kinds of save -------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_in_place_write(tree, watchers, backend):
    w = watchers([tree], backend)
    assert w.status()["backend"] == backend
    with open(tree / "old.py", "r+") as f:  # the same inode, rewritten
        f.write("old = 2\n")
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_rename_over_save(tree, watchers, backend):
    w = watchers([tree], backend)
    temp = tree / ".old.py.tmp1234"
    temp.write_text("old = 'replaced'\n")
    os.replace(temp, tree / "old.py")
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_vim_style_save(tree, watchers, backend):
    """vim's default: probe with 4913, rename to file~, write anew, delete file~."""
    w = watchers([tree], backend)
    probe = tree / "4913"
    probe.write_text("")
    probe.unlink()
    os.rename(tree / "old.py", tree / "old.py~")
    (tree / "old.py").write_text("old = 'vim'\n")
    (tree / "old.py~").unlink()
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_delete_and_recreate(tree, watchers, backend):
    w = watchers([tree], backend)
    (tree / "old.py").unlink()
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}
    (tree / "old.py").write_text("old = 'again'\n")
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}
    (tree / "old.py").unlink()  # and both at once
    (tree / "old.py").write_text("old = 'and again'\n")
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_second_same_size_rewrite(tree, watchers, backend):
    path = tree / "old.py"
    w = watchers([tree], backend)
    path.write_text("old = 2\n")
    assert collect(w, [path]) == {str(path)}
    before = os.stat(path)
    with open(path, "r+") as f:
        f.write("old = 3\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == \
        (before.st_size, before.st_mtime_ns, before.st_ino)
    assert collect(w, [path]) == {str(path)}


def test_same_tick_rewrite_is_found_by_its_bytes(tree, watchers, monkeypatch):
    """Where ctime cannot tell (coarse timestamps: simulated by leaving it out
    of the key), a file changed within its timestamp's tick is compared by bytes."""
    monkeypatch.setattr(_watch, "_key", lambda st: (st.st_mtime_ns, st.st_size, st.st_ino, 0))
    path = tree / "old.py"
    w = watchers([tree], "poll", poll_interval=60)  # passes by rescan() only
    assert w.rescan() == frozenset()                # the fresh file: no spurious report
    before = os.stat(path)
    with open(path, "r+") as f:
        f.write("old = 9\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert w.rescan() == {str(path)}
    assert w.rescan() == frozenset()


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_saves_10ms_apart_are_one_batch(tree, watchers, backend):
    batches = []
    w = watchers([tree], backend, on_pending=batches.append)
    (tree / "a.py").write_text("a = 1\n")
    time.sleep(0.01)
    (tree / "b.py").write_text("b = 1\n")
    assert collect(w, [tree / "a.py", tree / "b.py"]) == {str(tree / "a.py"), str(tree / "b.py")}
    assert until(lambda: batches)
    assert batches == [frozenset({str(tree / "a.py"), str(tree / "b.py")})]


# -- directories -------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_new_subdirectory_with_files(tree, watchers, backend):
    w = watchers([tree], backend)
    (tree / "sub" / "deeper").mkdir(parents=True)  # files right after: the race
    (tree / "sub" / "m.py").write_text("m = 1\n")
    (tree / "sub" / "deeper" / "n.py").write_text("n = 1\n")
    made = {str(tree / "sub" / "m.py"), str(tree / "sub" / "deeper" / "n.py")}
    assert collect(w, made) == made
    (tree / "sub" / "deeper" / "n.py").write_text("n = 2\n")  # now watched
    assert collect(w, [tree / "sub" / "deeper" / "n.py"]) == {str(tree / "sub/deeper/n.py")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_directory_renamed_then_deleted(tree, watchers, backend):
    (tree / "pkg").mkdir()
    (tree / "pkg" / "x.py").write_text("x = 1\n")
    w = watchers([tree], backend)
    os.rename(tree / "pkg", tree / "moved")
    both = {str(tree / "pkg" / "x.py"), str(tree / "moved" / "x.py")}
    assert collect(w, both) == both
    (tree / "moved" / "x.py").write_text("x = 2\n")  # followed under its new name
    assert collect(w, [tree / "moved" / "x.py"]) == {str(tree / "moved" / "x.py")}
    (tree / "moved" / "x.py").unlink()
    (tree / "moved").rmdir()
    assert collect(w, [tree / "moved" / "x.py"]) == {str(tree / "moved" / "x.py")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_pycache_and_editor_droppings_are_ignored(tree, watchers, backend):
    w = watchers([tree], backend)
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / "old.cpython-311.pyc").write_bytes(b"pyc")
    (tree / ".git").mkdir()
    (tree / ".git" / "index").write_bytes(b"x")
    for name in [".hidden.py", ".#old.py", "#old.py#", "old.py~", ".old.py.swp", "old.swx",
                 "old.swpx", "old.py.tmp", "4913"]:
        (tree / name).write_text("x")
    (tree / "__pycache__" / "old.cpython-311.pyc").write_bytes(b"pyc2")
    (tree / "sentinel.py").write_text("s = 1\n")  # after all of them
    assert collect(w, [tree / "sentinel.py"]) == {str(tree / "sentinel.py")}
    assert _watch.ignored("x.swp") and not _watch.ignored("x.py")


# -- lost events and rescans ---------------------------------------------------------

def test_overflow_rescans_and_reports_what_events_lost(tree, watchers):
    w = watchers([tree], "inotify")
    seen_marker = threading.Event()

    def lose(data):  # the kernel dropped these events
        if b".marker" in data:
            seen_marker.set()

    w._dispatch = lose
    (tree / "old.py").write_text("old = 'while lost'\n")
    (tree / "new.py").write_text("new = 1\n")
    (tree / ".marker").write_text("")  # ignored; its events come after the others
    assert seen_marker.wait(TIMEOUT)
    del w._dispatch  # events flow again; then the kernel's overflow event
    w._dispatch(_watch._EVENT.pack(-1, _watch.IN_Q_OVERFLOW, 0, 0))
    changed = {str(tree / "old.py"), str(tree / "new.py")}
    assert collect(w, changed) == changed
    assert w.status()["overflows"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_rescan_reports_changes_only(tree, watchers, backend):
    w = watchers([tree], backend, poll_interval=60)
    assert w.rescan() == frozenset()
    (tree / "new.py").write_text("new = 1\n")
    (tree / "old.py").unlink()
    changed = {str(tree / "new.py"), str(tree / "old.py")}
    assert w.rescan() == changed
    assert changed <= w.pending()
    assert w.status()["rescans"] == 2


# -- fallbacks to polling ------------------------------------------------------------

def test_environment_forces_polling(tree, watchers, monkeypatch, records):
    monkeypatch.setenv("BRIDGEIMPORT_WATCH", "poll")
    w = watchers([tree], "auto")
    status = w.status()
    assert status["backend"] == "poll" and "BRIDGEIMPORT_WATCH=poll" in status["fallback"]
    assert any("BRIDGEIMPORT_WATCH=poll" in r.getMessage() and r.levelno == logging.INFO
               for r in records)
    (tree / "old.py").write_text("old = 'polled'\n")
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}


def test_enospc_at_start_falls_back(tree, watchers, monkeypatch, records):
    def no_watches(self, directory):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), directory)

    monkeypatch.setattr(_watch._Inotify, "add_watch", no_watches)
    w = watchers([tree], "auto")
    status = w.status()
    assert status["backend"] == "poll" and "max_user_watches" in status["fallback"]
    assert any("max_user_watches" in r.getMessage() and r.levelno == logging.WARNING
               for r in records)
    (tree / "old.py").write_text("old = 'polled'\n")
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}


def test_enospc_for_a_new_directory_falls_back_and_reports(tree, watchers, monkeypatch):
    w = watchers([tree], "inotify")
    assert w.status()["backend"] == "inotify"

    def no_watches(self, directory):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), directory)

    monkeypatch.setattr(_watch._Inotify, "add_watch", no_watches)
    (tree / "sub").mkdir()
    (tree / "sub" / "m.py").write_text("m = 1\n")
    assert collect(w, [tree / "sub" / "m.py"]) >= {str(tree / "sub" / "m.py")}
    assert w.status()["backend"] == "poll" and "ENOSPC" in w.status()["fallback"]
    (tree / "sub" / "m.py").write_text("m = 2\n")
    assert collect(w, [tree / "sub" / "m.py"]) == {str(tree / "sub" / "m.py")}


def test_a_failing_inotify_reader_falls_back(tree, watchers):
    w = watchers([tree], "inotify")

    def dead(ino):
        raise OSError(errno.EBADF, "Bad file descriptor")

    w._read_events = dead
    (tree / "old.py").write_text("old = 'after the failure'\n")
    assert collect(w, [tree / "old.py"]) == {str(tree / "old.py")}
    status = w.status()
    assert status["backend"] == "poll" and "inotify reader failed" in status["fallback"]
    assert "Bad file descriptor" in status["last_error"] and status["running"]


MOUNTINFO = r"""22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 22 0:35 / /srv/nfs rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
41 22 0:36 / /home/u/my\040drive rw,nosuid - fuse.sshfs u@host:/ rw
42 22 0:37 / /srv/nfs/local rw - ext4 /dev/vdb rw
"""


def test_remote_filesystems_are_recognised():
    table = _watch._mount_table(MOUNTINFO)
    assert ("/home/u/my drive", "fuse.sshfs") in table
    assert _watch._fs_type("/srv/nfs/a/b", table) == "nfs4"
    assert _watch._fs_type("/srv/nfs/local/x", table) == "ext4"
    assert _watch._fs_type("/home/u/my drive/p", table) == "fuse.sshfs"
    assert _watch._fs_type("/etc", table) == "ext4"
    assert [t for t in ("nfs4", "fuse.sshfs", "cifs", "9p", "virtiofs", "ext4", "tmpfs")
            if _watch.is_remote(t)] == ["nfs4", "fuse.sshfs", "cifs", "9p", "virtiofs"]


def test_a_tree_on_nfs_is_polled(tree, watchers, monkeypatch, records):
    real = os.path.realpath(tree)
    monkeypatch.setattr(_watch, "_read_mountinfo",
                        lambda: f"22 1 8:1 / / rw - ext4 /dev/vda rw\n"
                                f"40 22 0:35 / {real} rw - nfs4 server:/export rw\n")
    w = watchers([tree], "auto")
    assert w.status()["backend"] == "poll" and "nfs4" in w.status()["fallback"]
    assert any("nfs4" in r.getMessage() and r.levelno == logging.INFO for r in records)


# -- life cycle ----------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_close_is_idempotent_and_stops_the_thread(tree, watchers, backend):
    w = watchers([tree], backend)
    (tree / "old.py").write_text("old = 2\n")
    assert w.wait(TIMEOUT)
    thread = w._thread
    w.close()
    w.close()
    assert not thread.is_alive()
    status = w.status()
    assert status["closed"] and not status["running"]
    assert w.pending() == {str(tree / "old.py")}  # still readable
    assert w.wait(0.01) and w.rescan() == frozenset()
    with _watch.Watcher([str(tree)], backend=backend) as w2:
        assert w2.status()["running"]
    assert not w2.status()["running"]


def test_on_pending_may_close_and_its_errors_are_kept(tree, watchers):
    calls = []

    def callback(batch):
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("host failed")
        w.close()  # from the watcher's own thread: no deadlock

    w = watchers([tree], "inotify", on_pending=callback)
    (tree / "old.py").write_text("old = 2\n")
    # The error is kept once the callback has returned, an instant after it
    # appended (under ASan, long enough for the check to come first).
    assert until(lambda: w.status()["last_error"])
    assert "host failed" in w.status()["last_error"] and w.status()["running"]
    assert len(calls) == 1
    (tree / "old.py").write_text("old = 3\n")
    assert until(lambda: not w._thread.is_alive())
    assert len(calls) == 2


def test_a_root_created_later_is_watched(tmp_path, watchers):
    root = tmp_path / "later"
    w = watchers([root], "inotify")
    assert w.status()["missing"] == [str(root)]
    root.mkdir()
    (root / "m.py").write_text("m = 1\n")
    assert collect(w, [root / "m.py"]) == {str(root / "m.py")}
    (root / "m.py").write_text("m = 2\n")
    assert collect(w, [root / "m.py"]) == {str(root / "m.py")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_root_that_is_a_link(tmp_path, tree, watchers, backend):
    (tmp_path / "link").symlink_to(tree, target_is_directory=True)
    w = watchers([tmp_path / "link"], backend)
    assert w.status()["last_error"] is None
    (tree / "old.py").write_text("old = 'through the link'\n")
    assert collect(w, [tmp_path / "link" / "old.py"]) == {str(tmp_path / "link" / "old.py")}


def test_a_linked_file_is_checked_through_its_link(tmp_path, tree, watchers):
    target = tmp_path / "elsewhere.py"
    target.write_text("e = 1\n")
    (tree / "linked.py").symlink_to(target)
    w = watchers([tree], "inotify")
    target.write_text("e = 22\n")  # no event in the tree: the periodic check sees it
    assert collect(w, [tree / "linked.py"]) == {str(tree / "linked.py")}


def test_bad_arguments():
    with pytest.raises(ValueError):
        _watch.Watcher([], backend="kqueue")
    with pytest.raises(ValueError):
        _watch.Watcher([], poll_interval=0)
    assert _watch._roots(["/a/b", "/a", "/a/", "/c"]) == ("/a", "/c")


def test_poll_pass_cost_is_small(tmp_path, watchers):
    """A pass over 1,000 files (the figure in the report, loosely bounded)."""
    for i in range(20):
        d = tmp_path / f"d{i}"
        d.mkdir()
        for j in range(50):
            (d / f"m{j}.py").write_text(f"v = {j}\n")
    w = watchers([tmp_path], "poll", poll_interval=60)
    assert w.status()["files"] == 1000
    started = time.perf_counter()
    for _ in range(5):
        assert w.rescan() == frozenset()
    assert (time.perf_counter() - started) / 5 < 0.5
