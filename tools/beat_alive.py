"""Health check of the beat container: exit 0 when a `celery ... beat` process runs from this
app's folder, 1 otherwise. Celery beat has no endpoint to ask, and its database scheduler keeps no
file to watch, so the check looks at the processes themselves (Linux /proc, no extra package).

    python tools/beat_alive.py            # the app folder is the one holding tools/
"""

import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[1]


def beat_pids(app_dir: Path = APP_DIR) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = proc.joinpath("cmdline").read_bytes().split(b"\0")
            cwd = proc.joinpath("cwd").resolve()
        except OSError:
            continue  # gone, or not ours to read
        names = [Path(a.decode(errors="replace")).name for a in args]
        if "beat" in names and any(n.startswith("celery") for n in names) and cwd == app_dir:
            pids.append(int(proc.name))
    return pids


if __name__ == "__main__":
    sys.exit(0 if beat_pids() else 1)
