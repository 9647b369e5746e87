"""Bridge of the runtime's 'datetime' library."""

import datetime as _dt


def today_iso() -> str:
    return _dt.date.today().isoformat()
