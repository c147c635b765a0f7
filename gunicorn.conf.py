"""Read by gunicorn from the working directory (the API and the vendor simulator alike).

- Metrics: every worker process writes its own to ``PROMETHEUS_MULTIPROC_DIR``, a fresh
  directory per server, removed when it stops, unless one is given (then emptied first:
  files left by an earlier server would be counted again); ``/metrics`` adds them up.
- Logs: gunicorn's own lines take the application's format (``CRM_LOG_FORMAT``), set up
  here in the master so every worker inherits it. Its access log stays off: the
  application writes one line per request, with the route template and request id.
"""

import os
import shutil
import tempfile
from pathlib import Path

from gunicorn import glogging

# Before anything imports prometheus_client (importing crm does), which reads it once.
_metrics_dir_given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir_given:
    for stale in Path(_metrics_dir_given).glob("*.db"):
        stale.unlink()
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="crm-metrics-")


def _configure_logs() -> str:
    # Module-level names are read as gunicorn settings (``config`` is one): crm stays private.
    from crm import config, logs

    log_format = config.load().log_format
    logs.configure(log_format)
    return log_format


_log_format = _configure_logs()


class Logger(glogging.Logger):
    def setup(self, cfg):
        from crm import logs

        super().setup(cfg)
        for handler in self.error_log.handlers:
            logs.prepare(handler, _log_format)


logger_class = Logger


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if not _metrics_dir_given:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
