"""The health pages' charts, drawn server-side as SVG by pygal (an installed package: no CDN, no
chart code of our own, no script — pygal's tooltip script is switched off, each point carries its
value as an SVG <title> instead). Each function takes rows already counted by a selector and
returns the SVG as markup to put inline in a page."""

import re
from collections.abc import Sequence
from datetime import date

import pygal
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

from .choices import RunOutcome

# Colours of Bootstrap 5.3's success, danger, secondary, warning and primary, so a chart reads
# like the badges beside it.
OUTCOME_COLOURS = {
    RunOutcome.SUCCESS: "#198754",
    RunOutcome.FAILURE: "#dc3545",
    RunOutcome.TIMED_OUT: "#fd7e14",
    RunOutcome.SKIPPED: "#6c757d",
    RunOutcome.RUNNING: "#0d6efd",
}
RATE_COLOUR = "#212529"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def _style(colours: Sequence[str]) -> Style:
    return Style(
        background="transparent",
        plot_background="transparent",
        foreground="#212529",
        foreground_strong="#212529",
        foreground_subtle="#6c757d",
        colors=tuple(colours),
        font_family=FONT,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        value_font_size=11,
        tooltip_font_size=12,
        opacity=".75",
        opacity_hover=".95",
    )


# pygal always writes its configuration into a <script> for its tooltip script; with no script
# loaded it does nothing, so it is taken out (no inline script on the page). pygal escapes the text
# it writes, so the first closing tag is the script's own.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)


def _clean(svg: str) -> SafeString:
    # pygal builds the SVG as an element tree: every label (an automation's name too) is escaped.
    return mark_safe(_SCRIPT.sub("", svg))  # noqa: S308 - pygal's own escaped SVG, without its script


def _svg(chart) -> SafeString:
    return _clean(chart.render(is_unicode=True))


def _common(**config) -> dict:
    return {"js": [], "disable_xml_declaration": True, "explicit_size": False, "pretty_print": False} | config


def runs_per_day(
    days: Sequence[date], counts: dict[date, dict[str, int]], *, title: str, width: int = 900, height: int = 320
) -> SafeString:
    """Runs per day stacked by outcome (areas), with the day's failure rate over them as a line on
    the right axis (failed or timed out of the runs that ended). A narrow `width` (a phone) gets
    fewer date labels and a two-column legend, so the text stays readable."""
    outcomes = [o for o in OUTCOME_COLOURS if any(counts.get(d, {}).get(o) for d in days)] or [RunOutcome.SUCCESS]
    narrow = width < 600
    chart = pygal.StackedLine(
        **_common(
            title=None if narrow else title,
            width=width,
            height=height,
            fill=True,
            show_dots=False,
            interpolate=None,
            legend_at_bottom=True,
            legend_at_bottom_columns=2 if narrow else len(outcomes) + 1,
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_every=max(1, len(days) // (3 if narrow else 8)),
            truncate_label=-1,
            truncate_legend=-1,
            y_title=None if narrow else "runs",
            include_x_axis=True,
            secondary_range=(0, 100),
            value_formatter=lambda v: f"{v:g}",
            style=_style([OUTCOME_COLOURS[o] for o in outcomes] + [RATE_COLOUR]),
            print_values=False,
            no_data_text="No runs in this range",
            min_scale=2,
        )
    )
    chart.x_labels = [f"{d:%b %d}" for d in days]
    for outcome in outcomes:
        chart.add(RunOutcome(outcome).label.split(" (")[0], [counts.get(d, {}).get(outcome, 0) for d in days])
    rates = []
    for d in days:
        day = counts.get(d, {})
        ended = sum(day.get(o, 0) for o in (RunOutcome.SUCCESS, RunOutcome.FAILURE, RunOutcome.TIMED_OUT))
        failed = day.get(RunOutcome.FAILURE, 0) + day.get(RunOutcome.TIMED_OUT, 0)
        rates.append(round(100 * failed / ended, 1) if ended else None)
    chart.add(
        "Failure rate (%, right axis)",
        rates,
        secondary=True,
        fill=False,
        show_dots=True,
        dots_size=2,
        stroke_style={"width": 2},
        allow_interruptions=True,
        formatter=lambda v: "" if v is None else f"{v:g} %",
    )
    return _svg(chart)


def sparkline(values: Sequence[int], *, colour: str, title: str, width: int = 160, height: int = 36) -> SafeString:
    """A small trend line without axes; `title` (what it shows) is its accessible name."""
    chart = pygal.Line(**_common(style=_style([colour]), fill=True, show_dots=False, stroke_style={"width": 2}))
    chart.add(title, list(values))
    svg = _clean(chart.render_sparkline(width=width, height=height, is_unicode=True, disable_xml_declaration=True))
    return format_html('<span class="health-sparkline" role="img" aria-label="{}">{}</span>', title, svg)


def stacked_bars(
    labels: Sequence[str], series: dict[str, Sequence[int]], colours: Sequence[str], *, title: str, height: int = 180
) -> SafeString:
    """A small stacked bar chart (e.g. review recommendations per month), with a legend; `title` is
    its accessible name (the page's heading says it in words)."""
    chart = pygal.StackedBar(
        **_common(
            width=480,
            height=height,
            legend_at_bottom=True,
            legend_at_bottom_columns=max(len(series), 1),
            style=_style(colours),
            show_y_guides=False,
            print_values=False,
            no_data_text="Nothing yet",
            margin=4,
            show_minor_y_labels=False,
            y_labels_major_count=4,
            include_x_axis=True,
            value_formatter=lambda v: f"{v:g}",
        )
    )
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return format_html('<div role="img" aria-label="{}">{}</div>', title, _svg(chart))


RECOMMENDATION_COLOURS = {"keep": "#198754", "adjust": "#0d6efd", "pause": "#fd7e14", "retire": "#dc3545"}


def findings_trend(mondays: Sequence[date], opened: Sequence[int], resolved: Sequence[int]) -> dict:
    """Findings opened and resolved per week as two sparklines, with the numbers they stand for."""
    span = f"the {len(mondays)} weeks from {mondays[0]:%b %d}" if mondays else "recent weeks"
    return {
        "weeks": len(mondays),
        "opened": sparkline(opened, colour="#dc3545", title=f"Findings opened per week over {span}"),
        "resolved": sparkline(resolved, colour="#198754", title=f"Findings resolved per week over {span}"),
        "opened_total": sum(opened),
        "resolved_total": sum(resolved),
        "opened_this_week": opened[-1] if opened else 0,
        "resolved_this_week": resolved[-1] if resolved else 0,
    }


def recommendations_per_month(reviews: Sequence) -> SafeString:
    """The monthly reviews' recommendations, oldest month first, stacked by action (the review
    list's counts: no query of its own)."""
    reviews = sorted(reviews, key=lambda r: r.month)
    series = {
        label: [getattr(r, f"rows_{value}") for r in reviews]
        for value, label in (("keep", "Keep"), ("adjust", "Adjust"), ("pause", "Pause"), ("retire", "Retire"))
    }
    return stacked_bars(
        [f"{r.month:%b %y}" for r in reviews],
        series,
        list(RECOMMENDATION_COLOURS.values()),
        title="Recommendations per month",
    )
