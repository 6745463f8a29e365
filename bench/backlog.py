"""Re-scoring the backlog after a weight change, next to its floor, in one run.

Seeds 10,000 open, fully scored candidates in the bench PostgreSQL database (bench/common.py),
then times `backlog.services.scoring_model_publish` (a new scoring-model version + the set-based
re-score of every open candidate) against a hand-written single SQL UPDATE of the same rows with
the same arithmetic. Each is run REPEATS times, alternating, and the median is reported.
No web server is involved: this is the write path admins trigger from the scoring page or API.
"""

import datetime
import os
import platform
import statistics
import time
from decimal import Decimal

from bench.common import ROWS, bench_admin, setup

REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))


def seed():
    from backlog.models import Candidate
    from backlog.rules import FACTOR_FIELDS

    admin = bench_admin()
    if Candidate.objects.filter(status="triaged").count() != ROWS:
        Candidate.objects.all().delete()
        Candidate.objects.bulk_create(
            [
                Candidate(
                    title=f"Bench candidate {i:05d}",
                    workflow_type="lead_routing",
                    pain_point="Measure the re-score.",
                    team="sales",
                    system="salesforce",
                    requester=admin,
                    status="triaged",
                    time_saved_hours_per_month=Decimal(i % 50),
                    **{name: (i + j) % 5 + 1 for j, name in enumerate(FACTOR_FIELDS)},
                )
                for i in range(ROWS)
            ],
            batch_size=2000,
        )
    return admin


def raw_update(weights: dict) -> int:
    """The floor: one hand-written UPDATE with the same arithmetic over the same rows."""
    from django.db import connection, transaction

    from backlog.rules import FACTORS

    terms = " + ".join(f"factor_{f.name} * {(-1 if f.against else 1) * Decimal(weights[f.name])}" for f in FACTORS)
    not_null = " AND ".join(f"factor_{f.name} IS NOT NULL" for f in FACTORS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE backlog_candidate SET score = {terms} "  # noqa: S608 - numbers only, built above
            f"WHERE status IN ('new', 'triaged', 'deferred') AND {not_null}"
        )
        return cursor.rowcount


def main():
    """Run the backlog bench; returns the Markdown report."""
    setup()
    admin = seed()
    from backlog import services
    from backlog.models import Candidate
    from backlog.rules import DEFAULT_WEIGHTS, compute_score

    service_times, raw_times = [], []
    rows = 0
    for i in range(REPEATS):
        weights = {**DEFAULT_WEIGHTS, "volume": Decimal(3) + Decimal(i + 1) / 10}
        start = time.perf_counter()
        model = services.scoring_model_publish(by=admin, reason=f"bench run {i}", weights=weights)
        service_times.append(time.perf_counter() - start)
        rows = model.rescored
        start = time.perf_counter()
        raw_rows = raw_update(weights)
        raw_times.append(time.perf_counter() - start)
        assert raw_rows == rows, (raw_rows, rows)
    # The service's stored scores are the arithmetic the pages show.
    sample = Candidate.objects.select_related("scoring_model").order_by("?")[:20]
    for candidate in sample:
        assert candidate.score == compute_score(candidate.factors, candidate.scoring_model.weights).total

    service = statistics.median(service_times)
    floor = statistics.median(raw_times)
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Backlog bench, {stamp}: re-score {rows:,} open candidates after a weight change, PostgreSQL, "
        f"median of {REPEATS} runs, {os.cpu_count()} cores ({platform.machine()}).",
        "",
        "| operation | median | min | max | vs floor |",
        "|---|---:|---:|---:|---:|",
        f"| Single raw SQL UPDATE of the same rows (floor) | {floor * 1000:.0f} ms | {min(raw_times) * 1000:.0f} ms "
        f"| {max(raw_times) * 1000:.0f} ms | 1.0× |",
        f"| `scoring_model_publish` (new version + set-based re-score) | {service * 1000:.0f} ms "
        f"| {min(service_times) * 1000:.0f} ms | {max(service_times) * 1000:.0f} ms | {service / floor:.1f}× |",
        "",
        f"Goal: ≤ 5× the floor — {'met' if service <= 5 * floor else 'NOT met'}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
