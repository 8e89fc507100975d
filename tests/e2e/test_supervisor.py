"""The supervisor with stand-in workers (it knows processes, not servers): each test runs a
small script in a process of its own, which forks workers whose life is a few lines.

Signals around fork (issue 12, bug 2); restarts, readiness and giving up (bug 1).
"""
from __future__ import annotations

import os
import re
import signal
import time

import pytest

from support.supervisor_script import Script


# -- signals around fork (bug 2) ---------------------------------------------------------

def test_a_sigterm_right_after_fork_does_not_run_the_parents_handler_in_the_child(script):
    """Worker 1 gets a SIGTERM the moment it is forked, before it could reset its handlers.
    Were the parent's handler to run there, it would SIGTERM worker 0 from its copy of the
    children list. Blocked across the fork, the signal finds the default action: worker 1
    dies alone, and the parent replaces it."""
    s = script("""
forks = []
def before_fork():
    forks.append(1)
    if len(forks) == 2:
        time.sleep(0.5)       # worker 0 is up, with its own handlers, before worker 1 is forked
def at_fork_in_child():
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    os.write(2, f"blocked at fork: {signal.SIGTERM in blocked and signal.SIGINT in blocked}\\n".encode())
    if len(forks) == 2:
        os.kill(os.getpid(), signal.SIGTERM)
os.register_at_fork(before=before_fork, after_in_child=at_fork_in_child)
sys.exit(Supervisor(2, serve_forever).run(announce))
""")
    assert s.wait_for(r"announced")
    assert s.wait_for(r"worker 1 \(pid \d+\) (exited with -15|was killed by SIGTERM)"), s.log
    time.sleep(0.5)
    assert s.finish() == 0, s.log
    assert not re.search(r"worker 0 \(pid \d+\) (exited|was killed)", s.log), s.log
    assert "blocked at fork: False" not in s.log, s.log
    assert "blocked at fork: True" in s.log


def test_the_child_starts_with_default_handlers_and_nothing_blocked(script):
    s = script("""
def report(number, ready):
    handlers = [signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)]
    os.write(2, f"worker {number} handlers {handlers == [signal.SIG_DFL] * 3} "
                f"blocked {sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))} "
                f"wakeup {signal.set_wakeup_fd(-1)}\\n".encode())
    return serve_forever(number, ready)
sys.exit(Supervisor(2, report).run(announce))
""")
    assert s.wait_for(r"announced")
    assert s.finish() == 0
    assert s.log.count("handlers True blocked [] wakeup -1") == 2, s.log


# -- restarts, readiness, giving up (bug 1) ----------------------------------------------

UP = """
def serve_and_say(number, ready):
    ready()
    os.write(2, f"worker {number} up as {os.getpid()}\\n".encode())
    return serve_forever(number, lambda: None)
"""


def pids_of(s: Script, number: int) -> list[int]:
    return [int(p) for p in re.findall(rf"worker {number} up as (\d+)", s.log)]


def test_a_worker_killed_as_soon_as_it_is_up_is_restarted_with_backoff_not_in_a_loop(script):
    """Killing each new worker 1 for 5 s cost 2,333 restarts and as many log lines; with a
    restart delay of 0.1 s doubling, a few."""
    s = script(UP + "sys.exit(Supervisor(2, serve_and_say).run(announce))\n")
    assert s.wait_for(r"announced 2")
    killed: set[int] = set()
    end = time.monotonic() + 5
    while time.monotonic() < end:
        for pid in set(pids_of(s, 1)) - killed:
            os.kill(pid, signal.SIGUSR1)
            killed.add(pid)
        time.sleep(0.01)
    restarts = len(re.findall(r"worker 1 \(pid \d+\) exited with -10; starting a new one in "
                              r"[\d.]+ s", s.log))
    assert 3 <= restarts <= 8, s.log                   # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 > 5
    assert len(s.lines) <= 3 + 2 * len(killed), s.log  # an up line and an exit line each
    assert pids_of(s, 0)[:1] == pids_of(s, 0), "worker 0 was left alone"
    assert s.wait_for(rf"worker 1 up as (?!{'|'.join(map(str, killed))})\d+", timeout=15), s.log
    assert s.finish() == 0


def test_the_ready_line_comes_when_every_worker_is_ready(script):
    s = script("""
def slow(number, ready):
    time.sleep(1.0 if number == 1 else 0)
    os.write(2, f"worker {number} ready\\n".encode())
    return serve_forever(number, ready)
sys.exit(Supervisor(3, slow).run(announce))
""")
    assert s.wait_for(r"announced 3")
    assert s.log.index("worker 1 ready") < s.log.index("announced"), s.log
    assert s.finish() == 0


ATTEMPTS = """
import errno
def attempts(number):
    # every try of a worker leaves a mark: how many came before this one
    path = f"{{os.environ['TRIES']}}/{{number}}"
    with open(path, "a") as f:
        f.write(".")
    with open(path) as f:
        return len(f.read()) - 1

def flaky(number, ready):
    if number == 1 and attempts(number) < {fails}:
        raise OSError(errno.EMFILE, "Too many open files")
    os.write(2, f"worker {{number}} up as {{os.getpid()}}\\n".encode())
    return serve_forever(number, ready)
"""


def test_a_worker_that_cannot_start_is_retried_and_the_ready_line_says_how_many(script, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setenv("TRIES", str(tmp_path))
    s = script(ATTEMPTS.format(fails=3) + "sys.exit(Supervisor(2, flaky).run(announce))\n")
    assert s.wait_for(r"announced 1\n")                 # worker 0 serves; worker 1 could not
    assert s.wait_for(r"INFO worker 1 \(pid \d+\) is ready"), s.log
    assert re.findall(r"worker 1 \(pid \d+\) could not start: Too many open files; "
                      r"starting a new one in ([\d.]+) s", s.log) == ["0.1", "0.2", "0.4"], s.log
    assert s.finish() == 0
    assert "Traceback" not in s.log


NO_WORKERS = """
from fastmock.supervisor import NoWorkers
try:
    code = Supervisor(2, {target}).run(announce)
except NoWorkers as exc:
    print("fastmock:", exc, file=sys.stderr)
    code = 1
sys.exit(code)
"""


def test_when_no_worker_can_start_it_gives_up_at_once_with_one_line(script, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIES", str(tmp_path))
    s = script(ATTEMPTS.format(fails=10**6).replace("number == 1 and ", "")
               + NO_WORKERS.format(target="flaky"))
    start = time.monotonic()
    assert s.finish(sig=None, timeout=10) == 1
    assert time.monotonic() - start < 5
    assert s.lines == ["fastmock: cannot start any of the 2 workers: Too many open files\n"], s.log


def test_a_worker_that_raises_before_ready_is_shown_once_with_its_traceback(script):
    s = script("""
def broken(number, ready):
    raise ValueError("a bug")
""" + NO_WORKERS.format(target="broken"))
    assert s.finish(sig=None, timeout=10) == 1
    assert s.log.count("Traceback") == 2, s.log          # each worker's first failure
    assert s.lines[-1] == "fastmock: cannot start any of the 2 workers: ValueError: a bug\n", s.log


def test_workers_that_can_no_longer_start_make_it_give_up(script, tmp_path):
    """They served, they died, and their restarts fail: after 5 tries each, exit 1."""
    broken = tmp_path / "broken"
    s = script(f"""
import errno
def until_broken(number, ready):
    if os.path.exists({str(broken)!r}):
        raise OSError(errno.EMFILE, "Too many open files")
    os.write(2, f"worker {{number}} up as {{os.getpid()}}\\n".encode())
    return serve_forever(number, ready)
""" + NO_WORKERS.format(target="until_broken"))
    assert s.wait_for(r"announced 2")
    broken.touch()
    start = time.monotonic()
    for number in (0, 1):
        os.kill(pids_of(s, number)[0], signal.SIGKILL)
    assert s.finish(sig=None, timeout=15) == 1
    assert time.monotonic() - start < 6                 # 0.1 + 0.2 + 0.4 + 0.8 s of waits
    assert s.lines[-1] == ("fastmock: no worker could start again after 5 tries each: "
                           "Too many open files\n"), s.log
    assert len(s.lines) <= 16, s.log


def test_a_signal_during_a_restart_wait_ends_it_at_once(script, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIES", str(tmp_path))
    s = script(ATTEMPTS.format(fails=10**6) + "sys.exit(Supervisor(2, flaky).run(announce))\n")
    assert s.wait_for(r"could not start: Too many open files; starting a new one in 1.6 s"), s.log
    start = time.monotonic()
    assert s.finish() == 0
    assert time.monotonic() - start < 1.5                # not after the 1.6 s wait
    assert s.log.count("could not start") == 5, s.log    # and no start after the signal


def test_a_signal_during_start_up_stops_it_without_a_ready_line(script):
    s = script("""
def slow(number, ready):
    os.write(2, f"worker {number} starting\\n".encode())
    time.sleep(30)
sys.exit(Supervisor(2, slow).run(announce))
""")
    assert s.wait_for(r"worker 1 starting")
    assert s.finish() == 0
    assert "announced" not in s.log


# -- the restart policy, in process -------------------------------------------------------

def test_the_restart_wait_doubles_while_workers_die_young_and_starts_afresh_after_a_long_life():
    from fastmock.supervisor import Backoff

    backoff = Backoff()
    waits = [backoff.after(lived=0.5) for _ in range(9)]
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0])
    assert backoff.after(lived=10.0) == pytest.approx(0.1)     # that one had lived 10 s
    assert backoff.after(lived=9.9) == pytest.approx(0.2)
    for _ in range(5000):                                      # no overflow in a long crash loop
        backoff.after(lived=0)
    assert backoff.after(lived=0) == 10.0


def test_restart_lines_are_rate_limited_and_the_held_back_ones_counted(monkeypatch, caplog):
    from fastmock import supervisor

    clock = [100.0]
    monkeypatch.setattr(supervisor, "time", type("Clock", (), {"monotonic": lambda: clock[0]}))
    s = supervisor.Supervisor(1, target=None)
    s._early_lines = None                                      # past the ready line
    with caplog.at_level("WARNING", "fastmock"):
        for n in range(15):
            s._log_restart(f"line {n}")
        clock[0] += 3.0
        s._log_restart("line 15")
        s._log_restart("line 16")
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [f"line {n}" for n in range(10)] + [
        "line 15 (5 more restarts not logged)", "line 16"]
