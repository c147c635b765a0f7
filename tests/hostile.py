"""Helpers for hostile-input tests: the error shape, and every collection's contents."""

import mongoengine

ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error(response, code):
    assert response.status_code == code, (response.status_code, response.get_data()[:300])
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == code
    assert response.json["message"]
    return response.json["errors"]


def database_contents():
    """Every document of every collection, to compare before and after a request."""
    db = mongoengine.get_db()
    return {
        name: sorted(map(repr, db[name].find({}, sort=[("_id", 1)])))
        for name in sorted(db.list_collection_names())
    }
