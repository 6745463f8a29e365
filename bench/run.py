"""`make bench`: every app's benchmark, one after the other, each next to its floor measured in
the same run. Results are printed and written to bench/results/<name>-<date>.md.

Each bench module has `main() -> str` (a Markdown report) and is listed in BENCHES, one line per
app so apps never edit the same line.
"""

import datetime
import importlib
import sys
from pathlib import Path

BENCHES = (
    "bench.registry",
    "bench.backlog",
    "bench.approvals",
    "bench.decisions",
    "bench.health",
    "bench.review",
    "bench.load",
    "bench.proof",
)


def main(names: list[str]) -> None:
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.date.today().isoformat()
    for name in names or BENCHES:
        report = importlib.import_module(name).main()
        print(report, end="\n\n", flush=True)
        (out / f"{name.rsplit('.', 1)[-1]}-{stamp}.md").write_text(report + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
