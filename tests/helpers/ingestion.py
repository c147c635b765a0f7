"""Bulk imports through the test client: upload, then wait for the job."""

from tests.helpers.polling import eventually


def upload(client, kind, body, content_type, **query):
    return client.post(
        f"/api/{kind}/bulk", data=body, content_type=content_type, query_string=query
    )


def wait_for(client, response, status=("DONE", "FAILED"), timeout=60):
    """The accepted import's job once in one of ``status``."""
    assert response.status_code == 202, response.json
    location = response.headers["Location"]

    def reached():
        job = client.get(location).json
        return job if job["status"] in status else None

    def describe():
        job = client.get(location).json
        return f"still {job['status']}: {job['counts']} {job['progress']}"

    return eventually(reached, timeout, 0.1, describe)
