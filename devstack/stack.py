"""``make run`` (``python -m devstack``): the whole stack on one machine, with embedded
MongoDB and Redis by default.

Starts what is not configured (a SecantusDB server keeping data under <var>/mongo, a
redis-server under <var>/redis), then the vendor simulator, the API and a Dramatiq
worker, each on a port checked free before and served by that very process after.
While it runs, <var>/stack.env tells the flask CLI where the servers are. Ctrl-C (or
SIGTERM) stops everything, last started first; data stays for the next run.
"""

import fcntl
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crm import config, db
from crm.services import api_keys, users
from devstack import embedded, leftover
from devstack.embedded import StartFailed

log = logging.getLogger("devstack")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
SIMULATOR = "vendor_simulator:create_app()"
LOCAL_ADMIN = "admin@crm.local"
# What the flask CLI in a second terminal needs to reach this stack.
SHARED = (
    "CRM_MONGODB_URI",
    "CRM_REDIS_URL",
    "CRM_VENDOR_URL",
    "CRM_PUBLIC_URL",
    "CRM_RECEIPT_SIGNING_SECRET",
)


# Secrets made on the first run and kept in <var>/secrets.env: the session key, and the
# receipt secret (which unsubscribe links are signed with unless set apart).
GENERATED = ("secret_key", "receipt_signing_secret")
SECRETS_FILE = "secrets.env"


class Stopped(Exception):
    """Ctrl-C or SIGTERM."""


def main() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    signal.signal(signal.SIGTERM, _stop)
    # Started in the background by a script, SIGINT arrives ignored; Ctrl-C must still stop.
    signal.signal(signal.SIGINT, _stop)
    settings = config.load(os.environ)
    var = Path(settings.var_dir)
    var.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen] = []
    status = 0
    try:
        with _only_stack_in(var):
            status = run(settings, var, processes)
    except StartFailed as error:
        print(f"make run: {error}", file=sys.stderr)
        status = 1
    except Stopped:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        embedded.stop(processes)
        leftover.forget_if_stopped(var / "mongo.pid")
    sys.exit(status)


def _stop(*_) -> None:
    raise Stopped


@contextmanager
def _only_stack_in(var: Path) -> Iterator[None]:
    """One stack per var directory: two would share the embedded servers' data."""
    with (var / "stack.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StartFailed(f"another make run is using {var}/ (set CRM_VAR_DIR)") from None
        yield


def run(settings: config.Settings, var: Path, processes: list[subprocess.Popen]) -> int:
    """Start everything into ``processes``; return the exit status once one of them ends."""
    given = config.given()
    env = dict(os.environ)
    public_url = f"http://{_client_host(settings.host)}:{settings.port}"
    env.setdefault("CRM_PUBLIC_URL", public_url)
    env.setdefault(
        "CRM_VENDOR_URL", f"http://{_client_host(settings.vendor_host)}:{settings.vendor_port}"
    )
    ports = [(settings.host, settings.port, "the API (CRM_PORT)")]
    ports.append((settings.vendor_host, settings.vendor_port, "the vendor (CRM_VENDOR_PORT)"))
    if "mongodb_uri" not in given:
        ports.append(
            ("127.0.0.1", settings.embedded_mongo_port, "MongoDB (CRM_EMBEDDED_MONGO_PORT)")
        )
    if "redis_url" not in given:
        ports.append(("127.0.0.1", settings.embedded_redis_port, "Redis (CRM_EMBEDDED_REDIS_PORT)"))
    mongo_pid_file = var / "mongo.pid"
    if "mongodb_uri" not in given:
        leftover.stop(mongo_pid_file, "MongoDB", f"{var}/mongo")
    for host, port, what in ports:
        embedded.check_free(host, port, what)

    if "mongodb_uri" not in given:
        port = settings.embedded_mongo_port
        processes.append(_start_mongo(port, var))
        leftover.record(processes[-1].pid, mongo_pid_file)
        env["CRM_MONGODB_URI"] = f"mongodb://127.0.0.1:{port}/minicrm"
        log.info("embedded MongoDB-protocol server on :%d, data in %s/mongo", port, var)
    if "redis_url" not in given:
        port = settings.embedded_redis_port
        processes.append(embedded.start_redis(port, var / "redis", var / "redis.log", True))
        env["CRM_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        log.info("embedded Redis on :%d, data in %s/redis", port, var)
    env.update(kept_secrets(var, [name for name in GENERATED if name not in given]))
    key_file = ensure_api_key(config.load(env), var)
    admin_file = ensure_console_admin(var)
    processes += start_services(
        env,
        settings.port,
        settings.vendor_port,
        host=settings.host,
        vendor_host=settings.vendor_host,
    ).values()
    stack_file = var / config.STACK_FILE
    stack_file.touch(mode=0o600)
    stack_file.write_text("".join(f"{name}={env[name]}\n" for name in SHARED if env.get(name)))
    try:
        seed_demo_data(env, var)
        url = env["CRM_PUBLIC_URL"]
        log.info("Ctrl-C stops everything")
        log.info("API on %s", url)
        log.info("Swagger UI on %s/docs", url)
        log.info(
            'API key in %s: curl -H "Authorization: Bearer $(cat %s)" %s/api/customers',
            key_file,
            key_file,
            url,
        )
        log.info("Console on %s/app: sign in as %s, password in %s", url, LOCAL_ADMIN, admin_file)
        return _watch(processes)
    finally:
        stack_file.unlink(missing_ok=True)


def _start_mongo(port: int, var: Path) -> subprocess.Popen:
    """The embedded server; if it cannot start, which process holds its data, if any."""
    try:
        return embedded.start_mongo(port, str(var / "mongo"), var / "mongo.log")
    except StartFailed as error:
        held_by = leftover.holder(var / "mongo")
        if held_by is None:
            raise
        raise StartFailed(
            f"{var}/mongo is held by another MongoDB server (pid {held_by.pid}, not started "
            f"by this make run); stop it with `kill {held_by.pid}`"
        ) from error


def _watch(processes: list[subprocess.Popen]) -> int:
    """Wait until one process exits; that stops the stack with a non-zero status."""
    while True:
        for process in processes:
            if process.poll() is not None:
                name, code = embedded.program(process), process.returncode
                log.error("%s exited with code %d; stopping the stack", name, code)
                return 1
        time.sleep(0.5)


def _client_host(bind_host: str) -> str:
    return "127.0.0.1" if bind_host in ("0.0.0.0", "") else bind_host


def kept_secrets(var: Path, names: list[str]) -> dict[str, str]:
    """The secrets ``names`` by variable, made once and then read from <var>/secrets.env,
    so that a restart keeps the console signed in and links already sent working."""
    path = var / SECRETS_FILE
    kept = {
        name.removeprefix("CRM_").lower(): value
        for name, value in config.stack_file_values(var, SECRETS_FILE).items()
    }
    missing = [name for name in names if not kept.get(name)]
    if missing:
        kept |= {name: secrets.token_urlsafe(32) for name in missing}
        path.touch(mode=0o600)
        path.write_text("".join(f"{config.env_name(name)}={kept[name]}\n" for name in kept))
        log.info("new secrets kept in %s: %s", path, ", ".join(map(config.env_name, missing)))
    return {config.env_name(name): kept[name] for name in names}


def ensure_api_key(settings: config.Settings, var: Path) -> Path:
    """Create a first API key if there is none, keeping it in <var>/local-api-key."""
    db.connect(settings)
    db.ensure_indexes()
    key_file = var / "local-api-key"
    if not api_keys.exist():
        _, key = api_keys.create("local", "admin")
        key_file.touch(mode=0o600)
        key_file.write_text(key + "\n")
        log.info("created a first API key")
    return key_file


def ensure_console_admin(var: Path) -> Path:
    """Create a first console admin on a database without users, keeping its password in
    <var>/local-admin-password (after ``ensure_api_key`` connected)."""
    password_file = var / "local-admin-password"
    if not users.exist():
        _, password = users.create(LOCAL_ADMIN, "admin")
        password_file.unlink(missing_ok=True)
        password_file.touch(mode=0o600)
        password_file.write_text(password + "\n")
        log.info("created a first console admin, %s: password %s", LOCAL_ADMIN, password)
    return password_file


def seed_demo_data(env: dict[str, str], var: Path) -> None:
    """On an empty database, import demo customers and orders through the bulk pipeline
    (``flask demo-data``), so that a newcomer's first run has something to show."""
    flask = str(Path(sys.executable).parent / "flask")
    command = [flask, "--app", "wsgi", "demo-data", "--if-empty", "--load"]
    command += ["--out", str(var / "demo")]
    process = embedded.spawn(command, env=env)
    if process.wait() != 0:
        log.warning("no demo data loaded (see above); the stack runs on without it")


# Imports run in a worker process of their own: however long their chunks take, they
# never hold the threads that send messages and apply receipts.
SENDING_QUEUES = ("campaigns", "deliveries", "receipts")
IMPORT_QUEUES = ("ingestion",)


def start_services(
    env: dict[str, str],
    api_port: int = 8000,
    vendor_port: int = 9000,
    log_dir: Path | None = None,
    host: str = "127.0.0.1",
    vendor_host: str = "127.0.0.1",
) -> dict[str, subprocess.Popen]:
    """The vendor simulator, the API (gunicorn) and the Dramatiq workers (sending, and
    imports), by name, the first two checked to serve their own port. Their output goes
    to the terminal, or to ``log_dir/<name>.log`` when given."""
    env = {
        "CRM_VENDOR_URL": f"http://{_client_host(vendor_host)}:{vendor_port}",
        "CRM_PUBLIC_URL": f"http://{_client_host(host)}:{api_port}",
        **env,
    }
    bin_dir = Path(sys.executable).parent
    # --preload: a missing setting stops the server with one line instead of looping workers.
    gunicorn = [str(bin_dir / "gunicorn"), "--graceful-timeout", "5", "--preload"]
    started: dict[str, subprocess.Popen] = {}
    try:
        started["vendor"] = embedded.spawn(
            [
                *gunicorn,
                "-w",
                "1",
                "--threads",
                "8",
                "-b",
                f"{vendor_host}:{vendor_port}",
                SIMULATOR,
            ],
            log_dir and log_dir / "vendor.log",
            env,
        )
        embedded.wait_for_port(vendor_port, started["vendor"], what="the vendor simulator")
        started["api"] = embedded.spawn(
            [*gunicorn, "-w", "2", "--threads", "4", "-b", f"{host}:{api_port}", "wsgi:app"],
            log_dir and log_dir / "api.log",
            env,
        )
        embedded.wait_for_port(api_port, started["api"], what="the API")
        started["worker"] = start_worker(env, log_dir and log_dir / "worker.log", SENDING_QUEUES)
        started["importer"] = start_worker(env, log_dir and log_dir / "importer.log", IMPORT_QUEUES)
    except BaseException:
        embedded.stop(list(started.values()))
        raise
    return started


def start_worker(
    env: dict[str, str], log_path: Path | None = None, queues: tuple[str, ...] = ()
) -> subprocess.Popen:
    """A Dramatiq worker process on ``queues`` (all of them if none)."""
    dramatiq = str(Path(sys.executable).parent / "dramatiq")
    command = [dramatiq, "workers:boot", "--processes", "1", "--threads", "2"]
    if queues:
        command += ["--queues", *queues]
    return embedded.spawn(command, log_path, env)
