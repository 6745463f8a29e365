"""`make bench`: every app's benchmark, one after the other, each next to its floor measured in
the same run. Results are printed and written to bench/results/<date>.md (the machine, its load
average and every module's figures; a module run again the same day replaces its own section) and
bench/results/<name>-<date>.md.

`BENCH_QUICK=1` shortens the run (bench/common.py: 3 s per wrk case; bench/speed.py: one round).

Each bench module has `main() -> str` (a Markdown report) and is listed in BENCHES, one line per
app so apps never edit the same line.
"""

import datetime
import importlib
import os
import platform
import re
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
    "bench.speed",
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
        record(out / f"{stamp}.md", name, report)


def machine() -> str:
    """One line naming the machine: cores, CPU model, memory."""
    model = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"model name\s*:\s*(.+)", cpuinfo).group(1).strip()
        memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 2**20
        model += f", {memory:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores {platform.machine()} {model}, {platform.system()} {platform.release()}"


def record(path: Path, name: str, report: str) -> None:
    """Write one module's report into the day's results file, replacing its earlier section."""
    text = path.read_text() if path.exists() else f"# `make bench`, {path.stem}\n\nMachine: {machine()}.\n"
    section = re.compile(rf"\n<!-- {re.escape(name)} -->\n.*?\n<!-- end {re.escape(name)} -->\n", re.S)
    text = section.sub("", text)
    now = datetime.datetime.now(datetime.UTC)
    load = " · ".join(f"{v:.2f}" for v in os.getloadavg())
    text += (
        f"\n<!-- {name} -->\n## {name} ({now:%H:%M} UTC, load average {load} at the end)\n\n{report}\n"
        f"<!-- end {name} -->\n"
    )
    path.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
