"""A log handler that catches customer data in log lines: the product logs ids only."""

import logging
import re

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# The loggers of the product and of the queue library that runs its actors, at every level.
WATCHED = ("crm", "workers", "vendor_simulator", "dramatiq")


class CustomerDataGuard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if ADDRESS.search(text):
            self.leaks.append(f"{record.name}: {text[:300]}")

    def install(self) -> None:
        for name in WATCHED:
            logger = logging.getLogger(name)
            logger.setLevel(logging.DEBUG)
            logger.addHandler(self)
