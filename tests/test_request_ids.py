"""Every response carries X-Request-ID, and every log line made while serving it too."""

import io
import json
import logging
from dataclasses import replace

import pytest

from crm import create_app, logs


@pytest.fixture
def json_logs():
    """The root logger writing JSON lines into a buffer, as CRM_LOG_FORMAT=json does."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    root.handlers = [logging.StreamHandler(buffer)]
    logs.configure("json")
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.handlers, root.level = saved


@pytest.fixture
def logging_view(app):
    """A route whose view logs, as services do, while the request is served."""

    @app.route("/logs-something/<int:n>")
    def logs_something(n):
        logging.getLogger("crm.services.example").warning("working on %d", n)
        return {"n": n}

    return "/logs-something"


def test_a_sane_request_id_is_kept_and_others_are_replaced(client):
    kept = client.get("/health", headers={"X-Request-ID": "lb-7f3a.2_x"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.2_x"
    for bad in ["a" * 65, "two words", "x\u00e9", "<script>", ""]:
        replaced = client.get("/health", headers={"X-Request-ID": bad})
        assert replaced.headers["X-Request-ID"] != bad
        assert len(replaced.headers["X-Request-ID"]) == 32


def test_refused_and_unknown_requests_get_an_id_too(anonymous):
    assert anonymous.get("/api/customers").status_code == 401
    for response in (anonymous.get("/api/customers"), anonymous.get("/nowhere")):
        assert len(response.headers["X-Request-ID"]) == 32


def test_every_line_while_serving_carries_the_request_id(client, logging_view, json_logs):
    client.get(f"{logging_view}/5", headers={"X-Request-ID": "req-5"})
    client.get(f"{logging_view}/6?secret=s3cr3t", headers={"X-Request-ID": "req-6"})
    logging.getLogger("crm.elsewhere").warning("between requests")

    lines = json_logs()
    served = [line for line in lines if line.get("request_id")]
    assert [(line["logger"], line["request_id"]) for line in served] == [
        ("crm.services.example", "req-5"),
        ("crm.access", "req-5"),
        ("crm.services.example", "req-6"),
        ("crm.access", "req-6"),
    ]
    access = served[-1]
    assert access["method"] == "GET"
    assert access["route"] == "/logs-something/{n}"
    assert access["status"] == 200
    assert access["duration_ms"] >= 0
    assert "s3cr3t" not in json.dumps(lines)
    assert "request_id" not in next(line for line in lines if line["logger"] == "crm.elsewhere")


def test_text_lines_end_with_the_request_id(app, logging_view):
    handler = logging.StreamHandler(buffer := io.StringIO())
    logs.prepare(handler, "text")
    logging.getLogger("crm.services.example").addHandler(handler)
    try:
        app.test_client().get(f"{logging_view}/1", headers={"X-Request-ID": "abc"})
    finally:
        logging.getLogger("crm.services.example").removeHandler(handler)
    assert (
        buffer.getvalue()
        .rstrip()
        .endswith("WARNING crm.services.example working on 1 request_id=abc")
    )


def test_browsers_of_allowed_origins_may_send_and_read_it(settings, broker):
    app = create_app(replace(settings, cors_origins="https://crm.example"))
    browser = app.test_client()
    origin = {"Origin": "https://crm.example"}
    preflight = browser.options("/api/customers", headers=origin)
    assert "X-Request-ID" in preflight.headers["Access-Control-Allow-Headers"]
    assert browser.get("/health", headers=origin).headers["Access-Control-Expose-Headers"] == (
        "X-Request-ID"
    )
