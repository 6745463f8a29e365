"""`make bench`: every app's benchmark, one after the other, each next to its floor measured in
the same run. Results are printed and written to bench/results/<name>-<date>.md.

Each bench module has `main() -> str` (a Markdown report) and is listed in BENCHES, one line per
app so apps never edit the same line.
"""

import datetime
import importlib
import os
import subprocess
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
    "bench.discovery",
    "bench.scale",
)


# A bench that needs a database of its own, run in its own process: the review reviews every live
# automation in its database, and must see its 10,000 only, not the other benches'.
OWN_DATABASE = {"bench.review": "revops_bench_review"}
# The scale bench: 10 million run events of its own, partitioned by month (issue 19 §3).
OWN_DATABASE |= {"bench.scale": "revops_bench_scale"}


def main(names: list[str]) -> None:
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.date.today().isoformat()
    for name in names or BENCHES:
        if name in OWN_DATABASE and len(names) != 1:
            from bench.common import DATABASE_URL

            env = os.environ | {"BENCH_DATABASE_URL": DATABASE_URL.rsplit("/", 1)[0] + "/" + OWN_DATABASE[name]}
            subprocess.run([sys.executable, "-m", "bench.run", name], env=env, check=True)
            continue
        report = importlib.import_module(name).main()
        print(report, end="\n\n", flush=True)
        (out / f"{name.rsplit('.', 1)[-1]}-{stamp}.md").write_text(report + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
