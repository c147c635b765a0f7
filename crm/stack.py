"""``make run``: the whole stack on one machine, with embedded MongoDB and Redis by default.

Starts what is not configured (a SecantusDB server keeping data under ./var/mongo,
a redis-server under ./var/redis), then the API, a Dramatiq worker and the vendor
simulator. Ctrl-C stops everything; data stays for the next run.
"""

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from crm import config, db, embedded
from crm.services import api_keys

log = logging.getLogger("crm.stack")

VAR = Path("var")
EMBEDDED_MONGO_PORT = 27027
EMBEDDED_REDIS_PORT = 6389
SIMULATOR = "vendor_simulator:create_app()"
LOCAL_KEY = VAR / "local-api-key"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Started in the background by a script, SIGINT arrives ignored; Ctrl-C must still stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    processes: list[subprocess.Popen] = []
    given = config.given()
    try:
        if "mongodb_uri" not in given:
            processes.append(
                embedded.start_mongo(EMBEDDED_MONGO_PORT, str(VAR / "mongo"), VAR / "mongo.log")
            )
            env["CRM_MONGODB_URI"] = f"mongodb://127.0.0.1:{EMBEDDED_MONGO_PORT}/minicrm"
            log.info(
                "embedded MongoDB-protocol server on :%d, data in var/mongo", EMBEDDED_MONGO_PORT
            )
        if "redis_url" not in given:
            processes.append(
                embedded.start_redis(EMBEDDED_REDIS_PORT, VAR / "redis", VAR / "redis.log", True)
            )
            env["CRM_REDIS_URL"] = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
            log.info("embedded Redis on :%d", EMBEDDED_REDIS_PORT)
        if "receipt_signing_secret" not in given:
            # The API and the simulator start together, so a fresh shared secret will do.
            env["CRM_RECEIPT_SIGNING_SECRET"] = secrets.token_urlsafe(32)
        announce_api_key(config.load(env))
        processes += start_services(env).values()
        seed_demo_data(env)
        log.info("API on http://127.0.0.1:8000 (Swagger UI at /docs); Ctrl-C stops everything")
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        log.error("a process exited; stopping the stack (logs in var/)")
    except KeyboardInterrupt:
        pass
    finally:
        embedded.stop(processes)


def announce_api_key(settings: config.Settings) -> None:
    """Create a first API key if there is none, keeping it in var/ for local use."""
    db.connect(settings)
    if not api_keys.exist():
        _, key = api_keys.create("local", "admin")
        LOCAL_KEY.write_text(key + "\n")
        LOCAL_KEY.chmod(0o600)
        log.info("created a first API key, kept in %s", LOCAL_KEY)
    if LOCAL_KEY.exists():
        key = LOCAL_KEY.read_text().strip()
        log.info("call the API with: curl -H 'Authorization: Bearer %s' ...", key)
        log.info("in Swagger UI (/docs), press Authorize and paste that key")


def seed_demo_data(env: dict[str, str]) -> None:
    """On an empty database, import demo customers and orders through the bulk pipeline
    (``flask demo-data``), so that a newcomer's first run has something to show."""
    flask = str(Path(sys.executable).parent / "flask")
    command = [flask, "--app", "wsgi", "demo-data", "--if-empty", "--load"]
    command += ["--out", str(VAR / "demo")]
    if subprocess.run(command, env=env, check=False).returncode != 0:
        log.warning("no demo data loaded (see above); the stack runs on without it")


def start_services(
    env: dict[str, str], api_port: int = 8000, vendor_port: int = 9000, log_dir: Path | None = None
) -> dict[str, subprocess.Popen]:
    """The vendor simulator, the API (gunicorn) and a Dramatiq worker, by name.

    Their output goes to the terminal, or to ``log_dir/<name>.log`` when given.
    """
    env = {
        "CRM_VENDOR_URL": f"http://127.0.0.1:{vendor_port}",
        "CRM_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        **env,
    }
    bin_dir = Path(sys.executable).parent
    gunicorn = [str(bin_dir / "gunicorn"), "--graceful-timeout", "5"]
    started = {
        "vendor": start_service(
            [*gunicorn, "-w", "1", "--threads", "8", "-b", f"127.0.0.1:{vendor_port}", SIMULATOR],
            env,
            log_dir and log_dir / "vendor.log",
        ),
        "api": start_service(
            [*gunicorn, "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{api_port}", "wsgi:app"],
            env,
            log_dir and log_dir / "api.log",
        ),
        "worker": start_worker(env, log_dir and log_dir / "worker.log"),
    }
    embedded.wait_for_port(vendor_port, started["vendor"])
    embedded.wait_for_port(api_port, started["api"])
    return started


def start_worker(env: dict[str, str], log_path: Path | None = None) -> subprocess.Popen:
    dramatiq = str(Path(sys.executable).parent / "dramatiq")
    return start_service(
        [dramatiq, "workers:boot", "--processes", "1", "--threads", "2"], env, log_path
    )


def start_service(
    command: list[str], env: dict[str, str], log_path: Path | None
) -> subprocess.Popen:
    """Start ``command`` in its own process group, so it can be stopped with its children."""
    if log_path is None:
        return subprocess.Popen(command, env=env, start_new_session=True)
    with log_path.open("ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


if __name__ == "__main__":
    main()
