"""docker-compose.yml, run without Docker: each app service's own ``command`` with its own
``environment`` (and nothing else of the test's), the compose hostnames pointed at the
test's servers, the README's first-key command, then a campaign through to COMPLETED.

A setting missing from the compose file is missing here too, so this fails with it."""

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pymongo
import pytest
import requests
import yaml
from pymongo.database import Database
from redis import Redis

from crm import config
from devstack import embedded
from tests.helpers.polling import eventually

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("vendor", "api", "worker")
# What `${NAME:?…}` finds in .env; the real value is the operator's.
DOTENV = {
    "CRM_RECEIPT_SIGNING_SECRET": "compose-parity-secret",
    "CRM_SECRET_KEY": "compose-parity-session-key",
}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolate(value: str) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}`` from DOTENV."""

    def substitute(match: re.Match) -> str:
        name, operator, word = match.group(1), match.group(2) or "", match.group(3) or ""
        if DOTENV.get(name):
            return DOTENV[name]
        if operator == ":?":
            raise AssertionError(f"compose would refuse to start: {name}: {word}")
        return word

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", substitute, value)


class Hosts:
    """The compose services' addresses, as the test's own servers and free ports."""

    def __init__(self, mongo_uri: str, redis_url: str, replica_set: str):
        mongo, redis = urlsplit(mongo_uri), urlsplit(redis_url)
        self.replica_set = replica_set
        self.ports = {
            ("mongo", 27017): mongo.port,
            ("redis", 6379): redis.port,
            ("vendor", 9000): embedded.free_port(),
            ("api", 8000): embedded.free_port(),
        }

    def rewrite(self, value: str, compose_replica_set: str) -> str:
        def local(match: re.Match) -> str:
            port = self.ports[(match.group(2), int(match.group(3)))]
            return f"{match.group(1)}127.0.0.1:{port}"

        value = re.sub(r"(\w+://)(mongo|redis|vendor|api):(\d+)", local, value)
        # The test's MongoDB-protocol server names its replica set differently.
        return value.replace(f"replicaSet={compose_replica_set}", f"replicaSet={self.replica_set}")

    def bind(self, argument: str) -> str:
        match = re.fullmatch(r"0\.0\.0\.0:(\d+)", argument)
        if not match:
            return argument
        service = next(name for (name, port) in self.ports if port == int(match.group(1)))
        return f"127.0.0.1:{self.ports[(service, int(match.group(1)))]}"


class Services:
    def __init__(self, spec: dict, hosts: Hosts, workdir: Path):
        self.spec, self.hosts, self.workdir = spec, hosts, workdir
        command = spec["services"]["mongo"]["command"]
        self.replica_set = command[command.index("--replSet") + 1]

    def env(self, service: str) -> dict[str, str]:
        environment = self.spec["services"][service].get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        env = {
            name: self.hosts.rewrite(interpolate(str(value)), self.replica_set)
            for name, value in environment.items()
        }
        # Only what any container has besides its environment: a PATH and the code.
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
        } | env

    def start(self, service: str) -> subprocess.Popen:
        command = [
            self.hosts.bind(argument) for argument in self.spec["services"][service]["command"]
        ]
        command[0] = str(Path(sys.executable).parent / command[0])
        log = self.workdir / f"{service}.log"
        with log.open("ab") as out:
            return subprocess.Popen(
                command,
                cwd=self.workdir,
                env=self.env(service),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def run(self, service: str, command: list[str]) -> subprocess.CompletedProcess:
        command = [str(Path(sys.executable).parent / command[0]), *command[1:]]
        return subprocess.run(
            command, cwd=ROOT, env=self.env(service), capture_output=True, text=True, timeout=60
        )


@dataclass
class Stack:
    services: Services
    api: str
    workdir: Path
    database: Database
    redis: Redis


def first_key_command() -> tuple[str, list[str]]:
    """The README's ``docker compose run --rm SERVICE COMMAND…`` for the first key."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"docker compose run --rm (\w+) (flask [^`\n]*keys create[^`\n]*)", readme)
    assert found, "the README documents no first-key command for compose"
    return found.group(1), shlex.split(found.group(2), comments=True)


def logs(workdir: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in workdir.glob("*.log"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("compose")
    mongo_uri, redis_url = os.environ["CRM_MONGODB_URI"], os.environ["CRM_REDIS_URL"]
    mongo = pymongo.MongoClient(mongo_uri)
    redis = Redis.from_url(redis_url)
    hosts = Hosts(mongo_uri, redis_url, mongo.admin.command("hello")["setName"])
    services = Services(compose(), hosts, workdir)
    # The database the api would use: a default instead would be some other server's.
    database = mongo[urlsplit(config.load(services.env("api")).mongodb_uri).path.lstrip("/")]
    mongo.drop_database(database.name)
    redis.flushdb()
    started: list[subprocess.Popen] = []
    try:
        for service in APP_SERVICES:
            started.append(services.start(service))
            port = {"vendor": 9000, "api": 8000}.get(service)
            if port:
                try:
                    embedded.wait_for_port(hosts.ports[(service, port)], started[-1], what=service)
                except embedded.StartFailed as error:
                    pytest.fail(f"{error}\n{logs(workdir)}")
        yield Stack(
            services, f"http://127.0.0.1:{hosts.ports[('api', 8000)]}", workdir, database, redis
        )
    finally:
        embedded.stop(started)
        mongo.drop_database(database.name)
        redis.flushdb()
        redis.close()
        mongo.close()


def test_the_app_services_share_one_image_built_once_and_restart():
    services = compose()["services"]
    assert [name for name, service in services.items() if "build" in service] == ["api"]
    assert {services[name]["image"] for name in APP_SERVICES} == {"minicrm:latest"}
    assert all(service.get("restart") == "unless-stopped" for service in services.values())
    mongo_check = services["mongo"]["healthcheck"]
    assert "isWritablePrimary" in mongo_check["test"][-1] and "quit(1)" in mongo_check["test"][-1]
    assert mongo_check["start_period"]


def test_compose_stack_sends_a_campaign_to_completed_with_every_receipt(stack):
    services, api, workdir = stack.services, stack.api, stack.workdir
    # Given a key made the way the README says
    service, command = first_key_command()
    created = services.run(service, command)
    assert created.returncode == 0, created.stderr
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {created.stdout.split()[0]}"
    assert http.get(f"{api}/health/ready", timeout=5).status_code == 200

    # When a small campaign is sent
    for i in range(12):
        customer = {"customer_id": f"c{i}", "name": f"C {i}", "email": f"c{i}@example.com"}
        assert http.post(f"{api}/api/customers", json=customer).status_code == 201
    rules = {"rules": [{"field": "customer_id", "operator": "starts_with", "value": "c"}]}
    audience = http.post(f"{api}/api/audiences", json=rules).json()
    body = {"audience_id": audience["id"], "message": "Hi {{name}}"}
    campaign = http.post(f"{api}/api/campaign", json=body).json()
    sent = http.post(f"{api}/api/sendCampaign", json={"campaign_id": campaign["id"]})
    assert sent.status_code == 202, sent.text

    # Then it completes, every receipt applied
    def completed():
        current = http.get(f"{api}/api/campaign/{campaign['id']}").json()
        return current if current["status"] == "COMPLETED" else None

    current = eventually(completed, timeout=60, interval=0.3, describe=lambda: logs(workdir))
    stats = current["stats"]
    assert stats["total"] == stats["sent"] + stats["failed"] == 12
    logs_page = http.get(f"{api}/api/campaign/{campaign['id']}/logs?page_size=100").json()
    assert {log["status"] for log in logs_page} <= {"SENT", "FAILED"}
    # And it all went through the servers that stand for compose's mongo and redis
    assert stack.database.campaigns.count_documents({"status": "COMPLETED"}) == 1
    assert stack.redis.zcard("dramatiq:__heartbeats__") > 0, "the worker listens elsewhere"
