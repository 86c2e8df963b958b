"""Logs as events with fields: `logger.info("batch_written", extra={"rows": 812})`.

Renders one line per record: `ts level logger event key=value ...`. The message is a stable
snake_case event name; details go in `extra`, never in an f-string.
"""

import logging
import sys
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{key}={_render(value)}" for key, value in vars(record).items() if key not in _STANDARD
        )
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if fields:
            line = f"{line} {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _render(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if " " in text or not text else text


def configure(level: str = "INFO", service: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every reconnect attempt at ERROR while the broker is down; WARNING is enough.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # One line per HTTP call between services is noise at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if service:
        logging.getLogger(__name__).debug("logging_configured", extra={"service": service})
