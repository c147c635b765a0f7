"""Serving a WSGI app over real HTTP from a thread, for tests that need a live peer."""

import threading
from contextlib import contextmanager

from werkzeug.serving import make_server

from crm import embedded


@contextmanager
def serve(app):
    """Yield the base URL of ``app`` served on a free local port."""
    port = embedded.free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
