"""The one clock: now, or ``SOURCE_DATE_EPOCH`` when it is set (reproducible outputs).

Every stage that needs the date or time asks here, so a fixed epoch fixes every output.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def clock() -> datetime:
    """Now (UTC, whole seconds), or SOURCE_DATE_EPOCH when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isascii() and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC)
    return datetime.now(tz=UTC).replace(microsecond=0)
