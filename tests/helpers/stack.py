"""The real processes (gunicorn serving the API, a Dramatiq worker process and the vendor
simulator) on the test MongoDB and Redis, for tests that go over HTTP end to end."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from devstack import embedded
from devstack.stack import start_services


@dataclass
class Stack:
    url: str
    vendor: str
    api: requests.Session  # carrying the test's admin key
    processes: dict
    env: dict


@contextmanager
def running_stack(settings, api_key: str, log_dir: Path, **variables: str) -> Iterator[Stack]:
    """The stack with ``variables`` (CRM_… settings) over small defaults for tests."""
    api_port, vendor_port = embedded.free_port(), embedded.free_port()
    url, vendor = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{vendor_port}"
    env = {
        **os.environ,
        "CRM_MONGODB_URI": settings.mongodb_uri,
        "CRM_PUBLIC_URL": url,
        "CRM_VENDOR_URL": vendor,
        "CRM_VENDOR_RECEIPT_DELAY_MS": "50",
        "CRM_SEND_CHUNK_SIZE": "10",
        **variables,
    }
    processes = start_services(env, api_port, vendor_port, log_dir=log_dir)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {api_key}"
    try:
        yield Stack(url, vendor, api, processes, env)
    finally:
        embedded.stop(list(processes.values()))
