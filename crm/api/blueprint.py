"""The API's blueprint: strict JSON bodies.

A body that is not JSON as RFC 8259 defines it is a 400 in the error shape: broken
syntax, nesting too deep for the parser, a number too long to read, ``NaN`` or
``Infinity``. (webargs turns only syntax errors into a 400; the rest would be 500s.)
Lists page through ``crm.api.pagination``, not flask-smorest's ``paginate``.
"""

import json
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_strict_json(body: bytes) -> Any:
    """``body`` decoded as JSON; JSONDecodeError for anything that is not plain JSON
    (an empty body is one whose ``doc`` is empty: webargs reads that as no body)."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        reason = "nested too deep" if isinstance(error, RecursionError) else str(error)
        raise json.JSONDecodeError(f"Unreadable JSON: {reason}", "<body>", 0) from None


class StrictParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return parse_strict_json(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()
