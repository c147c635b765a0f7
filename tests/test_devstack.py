"""``make run`` (``python -m devstack``) as an operator meets it: the CLI beside it, a taken
port, a missing setting, Ctrl-C and a SIGKILL — through the real processes."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import flask
import psutil
import pytest
import requests

from crm import config, signatures
from devstack import embedded
from devstack.stack import kept_secrets
from tests.helpers.polling import eventually

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def bare_env(**settings: str) -> dict[str, str]:
    """This environment without the tests' own CRM_* settings, plus ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CRM_")}
    return env | settings


def stack_env(var_dir: Path, **settings: str) -> dict[str, str]:
    ports = {
        name: str(embedded.free_port())
        for name in ("CRM_PORT", "CRM_VENDOR_PORT", "CRM_EMBEDDED_MONGO_PORT")
    }
    ports["CRM_EMBEDDED_REDIS_PORT"] = str(embedded.free_port())
    return bare_env(CRM_VAR_DIR=str(var_dir), **ports, **settings)


def start_stack(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def wait_for_banner(process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    def shown() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        return "API key in" in log.read_text()

    eventually(shown, timeout, 0.2, describe=lambda: log.read_text()[-3000:])


def listening(ports: list[int]) -> set[int]:
    return {
        sock.laddr.port
        for sock in psutil.net_connections("tcp")
        if sock.status == psutil.CONN_LISTEN and sock.laddr.port in ports
    }


def stack_ports(env: dict[str, str]) -> list[int]:
    names = ("CRM_PORT", "CRM_VENDOR_PORT", "CRM_EMBEDDED_MONGO_PORT", "CRM_EMBEDDED_REDIS_PORT")
    return [int(env[name]) for name in names]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A whole local stack, embedded servers included, on free ports and its own var dir."""
    var = tmp_path_factory.mktemp("var")
    env = stack_env(var)
    log = var / "stack.out"
    process = start_stack(env, log)
    wait_for_banner(process, log)
    yield {"process": process, "env": env, "var": var, "log": log}
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_banner_ends_with_the_url_the_docs_and_the_key(stack):
    url = f"http://127.0.0.1:{stack['env']['CRM_PORT']}"
    last = stack["log"].read_text().splitlines()[-4:]
    assert last[0].endswith(f"API on {url}")
    assert last[1].endswith(f"Swagger UI on {url}/docs")
    key_file = stack["var"] / "local-api-key"
    assert f"API key in {key_file}" in last[2]
    assert f"Console on {url}/app" in last[3] and "local-admin-password" in last[3]
    headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
    assert requests.get(f"{url}/api/customers", headers=headers, timeout=5).status_code == 200


def test_the_cli_in_a_second_terminal_finds_the_stack(stack):
    # The second terminal has none of the stack's settings, only the same var dir.
    env = bare_env(CRM_VAR_DIR=stack["env"]["CRM_VAR_DIR"])
    started = time.monotonic()
    listed = subprocess.run(
        [BIN / "flask", "--app", "wsgi", "keys", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    assert " local " in listed.stdout
    assert time.monotonic() - started < 8


def test_cli_help_needs_no_database(tmp_path):
    env = bare_env(CRM_VAR_DIR=str(tmp_path), CRM_MONGODB_URI="mongodb://127.0.0.1:9/nothing")
    started = time.monotonic()
    helped = subprocess.run(
        [BIN / "flask", "--app", "wsgi", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert helped.returncode == 0, helped.stderr
    assert "keys" in helped.stdout and "demo-data" in helped.stdout
    assert time.monotonic() - started < 8


def test_the_cli_without_a_database_says_so_in_one_line(tmp_path):
    env = bare_env(CRM_VAR_DIR=str(tmp_path), CRM_MONGODB_URI="mongodb://127.0.0.1:9/nothing")
    started = time.monotonic()
    listed = subprocess.run(
        [BIN / "flask", "--app", "wsgi", "keys", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 1
    assert listed.stderr.splitlines() == [
        "Error: MongoDB is unreachable at 127.0.0.1:9 (is `make run` running in this "
        "directory? otherwise set MONGODB_URI)"
    ]
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("taken", ["CRM_PORT", "CRM_EMBEDDED_MONGO_PORT"])
def test_a_taken_port_is_one_line_and_a_failure(tmp_path, taken):
    env = stack_env(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env[taken])))
        squatter.listen()
        done = subprocess.run(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=env, capture_output=True, timeout=60
        )
    assert done.returncode != 0
    assert done.stderr.decode().splitlines() == [
        f"make run: port {env[taken]} for {'the API' if taken == 'CRM_PORT' else 'MongoDB'} "
        f"({taken}) is taken"
    ]
    assert not (tmp_path / "stack.env").exists()


@pytest.mark.parametrize(
    "command, missing",
    [
        (
            [BIN / "gunicorn", "--preload", "-b", "127.0.0.1:0", "wsgi:app"],
            "CRM_RECEIPT_SIGNING_SECRET",
        ),
        (
            [BIN / "gunicorn", "--preload", "-b", "127.0.0.1:0", "vendor_simulator:create_app()"],
            "CRM_RECEIPT_SIGNING_SECRET",
        ),
        (
            [BIN / "dramatiq", "workers:boot", "--processes", "1", "--threads", "1"],
            "CRM_PUBLIC_URL",
        ),
    ],
)
def test_a_process_without_a_setting_it_needs_stops_naming_it(tmp_path, command, missing):
    env = bare_env(CRM_VAR_DIR=str(tmp_path), CRM_REDIS_URL=os.environ["CRM_REDIS_URL"])
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert any(line.startswith(f"{missing} is not set:") for line in done.stderr.splitlines())


def test_the_api_without_a_session_key_stops_naming_it(tmp_path):
    env = bare_env(
        CRM_VAR_DIR=str(tmp_path),
        CRM_REDIS_URL=os.environ["CRM_REDIS_URL"],
        CRM_RECEIPT_SIGNING_SECRET="a-receipt-signing-secret",
    )
    command = [BIN / "gunicorn", "--preload", "-b", "127.0.0.1:0", "wsgi:app"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert any(line.startswith("CRM_SECRET_KEY is not set:") for line in done.stderr.splitlines())


def test_the_stack_signs_with_the_secrets_it_keeps_for_its_next_run(stack):
    url = f"http://127.0.0.1:{stack['env']['CRM_PORT']}"
    kept = config.stack_file_values(stack["var"], "secrets.env")
    assert stat.S_IMODE((stack["var"] / "secrets.env").stat().st_mode) == 0o600
    # A receipt signed with the kept secret is genuine to the API (unknown id: 404, not 401).
    raw = json.dumps({"communication_log_id": "6b0f07e286b0212addc04d04", "status": "SENT"})
    headers = signatures.sign(kept["CRM_RECEIPT_SIGNING_SECRET"], raw.encode())
    headers["Content-Type"] = "application/json"
    receipt = requests.post(f"{url}/api/sendCampaign/deliveryReceipt", data=raw, headers=headers)
    assert receipt.status_code == 404
    # A session cookie signed with the kept key is the API's own (its form token holds).
    signer = flask.Flask("kept")
    signer.secret_key = kept["CRM_SECRET_KEY"]
    cookie = signer.session_interface.get_signing_serializer(signer).dumps({"csrf": "held"})
    form = {"csrf_token": "held", "email": "nobody@example.com", "password": "not it"}
    answer = requests.post(f"{url}/app/sign-in", data=form, cookies={"session": cookie})
    assert answer.status_code == 401


def test_generated_secrets_are_made_once_and_kept(tmp_path):
    first = kept_secrets(tmp_path, ["secret_key"])
    both = kept_secrets(tmp_path, ["secret_key", "receipt_signing_secret"])
    again = kept_secrets(tmp_path, ["receipt_signing_secret", "secret_key"])
    assert first["CRM_SECRET_KEY"] == both["CRM_SECRET_KEY"] and both == again
    assert len(set(both.values())) == 2 and all(len(value) >= 32 for value in both.values())
    assert stat.S_IMODE((tmp_path / "secrets.env").stat().st_mode) == 0o600


def test_ctrl_c_stops_quietly_and_frees_every_port(stack):
    process, ports = stack["process"], stack_ports(stack["env"])
    assert listening(ports) == set(ports)
    before = len(stack["log"].read_text())
    # Ctrl-C signals the terminal's foreground process group: the stack's, as started here.
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 0
    after = stack["log"].read_text()[before:]
    assert "Traceback" not in after and "CRITICAL" not in after and "Error 111" not in after
    # Each server was stopped by the stack (SIGTERM), none reached by the Ctrl-C itself.
    assert "Handling signal: int" not in after and after.count("Handling signal: term") == 2
    assert "Received SIGTERM" in (stack["var"] / "redis.log").read_text()
    assert "SIGINT" not in (stack["var"] / "redis.log").read_text()
    assert listening(ports) == set()
    assert not (stack["var"] / "stack.env").exists()


def test_a_killed_stack_leaves_no_server_behind(tmp_path):
    env = stack_env(tmp_path)
    log = tmp_path / "stack.out"
    process = start_stack(env, log)
    wait_for_banner(process, log)
    ports = stack_ports(env)

    process.kill()
    process.wait()

    eventually(lambda: not listening(ports), 20, 0.2, describe=lambda: str(listening(ports)))


def test_a_database_a_killed_stack_left_running_is_stopped_by_the_next_start(tmp_path):
    env = stack_env(tmp_path)
    log = tmp_path / "stack.out"
    process = start_stack(env, log)
    wait_for_banner(process, log, timeout=240)
    [mongo] = [
        child
        for child in psutil.Process(process.pid).children()
        if any("secantusd" in part for part in child.cmdline())
    ]
    mongo_port = int(env["CRM_EMBEDDED_MONGO_PORT"])
    again = None
    try:
        # Given a database too busy to stop (stalled here) when its make run is SIGKILLed
        mongo.suspend()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert mongo.is_running() and listening([mongo_port]) == {mongo_port}

        # When make run starts again on the same var/
        again_log = tmp_path / "again.out"
        again = start_stack(env, again_log)
        wait_for_banner(again, again_log, timeout=240)

        # Then it stopped the old server first, saying so, and serves on the same data
        said = again_log.read_text()
        assert f"left running by an earlier make run (pid {mongo.pid})" in said
        assert not mongo.is_running() or mongo.status() == psutil.STATUS_ZOMBIE
        assert (tmp_path / "local-api-key").exists()
        os.killpg(again.pid, signal.SIGINT)
        assert again.wait(timeout=60) == 0
    finally:
        if again is not None and again.poll() is None:
            os.killpg(again.pid, signal.SIGINT)
            again.wait(timeout=60)
        if mongo.is_running():
            mongo.kill()


def test_a_database_held_by_a_server_of_its_own_is_named_in_one_line(tmp_path):
    env = stack_env(tmp_path)
    # A server on the stack's data that no make run started (so no pid file names it)
    data = str(tmp_path / "mongo")
    squatter = embedded.start_mongo(embedded.free_port(), data, tmp_path / "squatter.log")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
    finally:
        embedded.stop([squatter])
    assert done.returncode != 0
    assert done.stderr.decode().splitlines() == [
        f"make run: {tmp_path}/mongo is held by another MongoDB server (pid {squatter.pid}, "
        f"not started by this make run); stop it with `kill {squatter.pid}`"
    ]
