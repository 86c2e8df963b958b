"""Reading trait values as they are stored (JSON, sent by clients in any shape): a value of the
wrong kind reads as missing, never as an error."""

import math
from datetime import date


def number_of(value: object) -> float | None:
    """A number trait; booleans and text are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def day_of(value: object) -> date | None:
    """A date trait ("2024-03-01", or a date-time: its date as written)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
