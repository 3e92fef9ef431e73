"""The IRLS and COWS trend charts, drawn on the server as SVG coordinates.

Pure Python: points in, shapes out; the template turns the shapes into inline SVG.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from patients.scales import Scale

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 10, 28  # margins for the axis labels
BAND_COLOURS = ["#d1e7dd", "#cff4fc", "#fff3cd", "#ffe5d0", "#f8d7da"]


@dataclass(frozen=True)
class Point:
    at: datetime
    total: int
    source: str  # "assessment" or "follow-up"
    x: float = 0
    y: float = 0


@dataclass(frozen=True)
class BandArea:
    label: str
    y: float
    height: float
    colour: str


@dataclass(frozen=True)
class Chart:
    scale: Scale
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_width: int
    bands: list[BandArea]
    points: list[Point]
    polyline: str
    dose_x: float | None
    dose_at: datetime | None
    start: datetime
    end: datetime
    y_ticks: list[tuple[float, int]]


def trend_chart(
    scale: Scale, measurements: list[tuple[datetime, int, str]], last_dose_at: datetime | None
) -> Chart | None:
    """A chart of a scale's totals over time, or None when there is nothing to plot."""
    if not measurements:
        return None
    measurements = sorted(measurements)
    times = [at for at, _, _ in measurements] + ([last_dose_at] if last_dose_at else [])
    start, end = min(times), max(times)
    if end - start < timedelta(days=2):  # give a lone point some room
        start, end = start - timedelta(days=1), end + timedelta(days=1)
    span = (end - start).total_seconds()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(at: datetime) -> float:
        return round(LEFT + plot_w * (at - start).total_seconds() / span, 1)

    def y_of(total: float) -> float:
        return round(TOP + plot_h * (1 - total / scale.max_total), 1)

    points = [Point(at, total, source, x_of(at), y_of(total)) for at, total, source in measurements]
    bands = []
    for band, colour in zip(scale.bands, BAND_COLOURS, strict=False):
        # Each band covers its totals from low - 0.5 to high + 0.5, clipped to the plot.
        top = y_of(min(band.high + 0.5, scale.max_total))
        bottom = y_of(max(band.low - 0.5, 0))
        bands.append(BandArea(band.label, top, round(bottom - top, 1), colour))
    step = 10
    y_ticks = [(y_of(v), v) for v in range(0, scale.max_total + 1, step)]
    return Chart(
        scale=scale,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_width=plot_w,
        bands=bands,
        points=points,
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        dose_x=x_of(last_dose_at) if last_dose_at else None,
        dose_at=last_dose_at,
        start=start,
        end=end,
        y_ticks=y_ticks,
    )
