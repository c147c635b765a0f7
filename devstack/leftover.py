"""A server an earlier ``make run`` left running: SIGKILLed while stopping it, say, and
the server too busy to act on the SIGTERM its parent's death sent. It still holds its
data directory and port; the next start finds it by the pid file kept beside its data
and stops it before starting another."""

import logging
import time
from itertools import pairwise
from pathlib import Path

import psutil

from devstack.embedded import StartFailed

log = logging.getLogger("devstack")

STOP_SECONDS = 60.0


def record(pid: int, pid_file: Path) -> None:
    """Note the server ``pid`` (and when it started, so that a pid reused by another
    process is never taken for it) in ``pid_file``."""
    pid_file.write_text(f"{pid} {psutil.Process(pid).create_time()}\n")


def forget_if_stopped(pid_file: Path) -> None:
    """Drop ``pid_file`` once the server it names no longer runs."""
    if _recorded(pid_file) is None:
        pid_file.unlink(missing_ok=True)


def stop(pid_file: Path, what: str, holds: str) -> None:
    """Stop the server ``pid_file`` names, if it still runs: SIGTERM (and SIGCONT, should it
    be stopped), then SIGKILL after ``STOP_SECONDS``. A server this user cannot stop is a
    ``StartFailed`` naming it and how to stop it."""
    server = _recorded(pid_file)
    if server is None:
        pid_file.unlink(missing_ok=True)
        return
    log.warning(
        "%s left running by an earlier make run (pid %d) holds %s: stopping it",
        what,
        server.pid,
        holds,
    )
    try:
        server.terminate()
        server.resume()
        if not _ended(server, STOP_SECONDS):
            log.warning(
                "%s (pid %d) still runs after %.0fs: killing it", what, server.pid, STOP_SECONDS
            )
            server.kill()
    except psutil.NoSuchProcess:
        pass
    except psutil.AccessDenied:
        raise StartFailed(
            f"{what} of an earlier make run (pid {server.pid}) holds {holds}; "
            f"stop it with `kill {server.pid}`"
        ) from None
    if not _ended(server, 10):
        raise StartFailed(
            f"{what} of an earlier make run (pid {server.pid}) holds {holds} and would not "
            f"stop; stop it with `kill -9 {server.pid}`"
        )
    pid_file.unlink(missing_ok=True)


def holder(data_dir: Path) -> psutil.Process | None:
    """A server of this user's started with ``--storage-path`` naming ``data_dir``."""
    wanted = data_dir.resolve()
    for process in psutil.process_iter(["cmdline", "cwd"]):
        command, cwd = process.info["cmdline"] or [], process.info["cwd"]
        for flag, value in pairwise(command):
            if flag == "--storage-path" and cwd and (Path(cwd) / value).resolve() == wanted:
                return process
    return None


def _recorded(pid_file: Path) -> psutil.Process | None:
    try:
        pid, started = pid_file.read_text().split()
        server = psutil.Process(int(pid))
        same = abs(server.create_time() - float(started)) < 0.01
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return None
    return server if same and _running(server) else None


def _ended(server: psutil.Process, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(server):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _running(server: psutil.Process) -> bool:
    """Whether it still runs; a zombie (ended, not yet reaped by its new parent) does not."""
    try:
        return server.is_running() and server.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
