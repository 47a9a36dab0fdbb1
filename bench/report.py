"""Writes the performance report: a Markdown page, the JSON of every figure, PNG plots.

The page is meant for a library's IT team: what was measured on which machine, each figure
with its target and a pass/miss mark, the baseline measured in the same
run for machine-dependent figures, how each suite measures, and the command that repeats it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.figures import Figure, percentile

MARKS = {True: "pass", False: "**miss**", None: "–"}


@dataclass(frozen=True)
class SuiteRun:
    """What one benchmark module produced, or the error that stopped it."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    doc: str | None = None  # the module docstring: how the suite measures

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]


def machine() -> dict[str, str]:
    """Cores, memory, CPU model, Python and OS of this machine (best effort, Linux first)."""
    info = {
        "cores": str(os.cpu_count()),
        "memory": "",
        "cpu": platform.processor() or platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            kib = int(fh.readline().split()[1])
            info["memory"] = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(fig: Figure) -> str:
    return f"{fig.value:.4g} {fig.unit}".strip()


def _axis_unit(fig: Figure) -> str:
    if fig.samples_unit:
        return fig.samples_unit
    if fig.plot == "growth" and fig.unit in ("x", "ratio"):
        # The judged value is a ratio of two points; the points themselves are in the suite's
        # own unit, which the figure does not name.
        return "measured value at each size (unit: see the table)"
    return fig.unit


def _x_label(fig: Figure) -> str:
    if fig.x_label:
        return fig.x_label
    for word in ("compartments", "deposits", "check-ins", "workers"):
        if word in fig.name:
            return word
    return "size"


def _plot(fig: Figure, path: Path) -> bool:
    """Draw ``fig`` as a histogram (distribution) or a line over sizes (growth)."""
    if not fig.samples or fig.plot not in ("distribution", "growth"):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(6.4, 3.4))
    if fig.plot == "distribution":
        # p1 to p99, so that a few outliers (a shared machine) do not squeeze the shape.
        low, top = percentile(fig.samples, 1), percentile(fig.samples, 99)
        shown = [x for x in fig.samples if low <= x <= top]
        ax.hist(shown, bins=40, color="#4C72B0")
        for row, (pct, style) in enumerate(((50, "-"), (95, "--"))):
            at = percentile(fig.samples, pct)
            ax.axvline(at, color="#C44E52", linestyle=style, linewidth=1)
            ax.annotate(
                f"p{pct} {at:.3g}",
                (at, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12 - 12 * row),
                textcoords="offset points",
                fontsize=8,
                color="#C44E52",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1},
            )
        left_out = len(fig.samples) - len(shown)
        note = f" ({left_out} outside p1-p99 not drawn)" if left_out else ""
        ax.set_xlabel(_axis_unit(fig) + note)
        ax.set_ylabel("samples")
    else:
        xs, ys = fig.samples[0::2], fig.samples[1::2]
        ax.plot(xs, ys, marker="o", color="#4C72B0", label="measured")
        for x, y in zip(xs, ys, strict=False):
            ax.annotate(f"{y:.3g}", (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
        if len(xs) > 1 and xs[0] > 0:
            # What the same work would cost if it grew in proportion to the size.
            linear = [ys[0] * x / xs[0] for x in xs]
            ax.plot(xs, linear, linestyle=":", color="#999999", label="linear from first point")
            ax.set_ylim(0, max(ys) * 1.25)
            ax.legend(fontsize=8, loc="lower right")
        if len(xs) > 1 and min(xs) > 0 and max(xs) / min(xs) >= 20:
            ax.set_xscale("log")
        ax.set_xlabel(_x_label(fig))
        ax.set_ylabel(_axis_unit(fig), fontsize=8)
    ax.set_title(fig.name, fontsize=9)
    ax.grid(alpha=0.3)
    f.tight_layout()
    f.savefig(path, dpi=100)
    plt.close(f)
    return True


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _summary(fig: Figure) -> dict[str, Any]:
    """JSON for one figure: every field, samples summarised (distribution) or kept (growth)."""
    data = asdict(fig)
    samples = data.pop("samples")
    if fig.plot == "growth":
        data["points"] = [list(p) for p in zip(samples[0::2], samples[1::2], strict=False)]
    elif samples:
        data["samples"] = {
            "count": len(samples),
            "unit": fig.samples_unit or fig.unit,
            "min": min(samples),
            "p50": percentile(samples, 50),
            "p95": percentile(samples, 95),
            "max": max(samples),
        }
    return data


def _method(doc: str | None) -> list[str]:
    """The module docstring as the suite's "how it is measured" paragraph(s)."""
    body = (doc or "").strip().splitlines()[1:]  # the first line is the heading already
    while body and not body[0].strip():
        body.pop(0)
    if not body:
        return []
    return ["", "How it is measured:", "", *(f"> {line}".rstrip() for line in body), ""]


def write_report(
    runs: Sequence[SuiteRun],
    target: str,
    *,
    quick: bool = False,
    seconds: float | None = None,
    load: float | None = None,
) -> None:
    """Write ``target`` (Markdown), the same name with ``.json``, and PNGs in ``performance/``
    beside it (PNGs of earlier runs that this run did not draw are removed)."""
    out = Path(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_dir = out.parent / "performance"
    plot_dir.mkdir(exist_ok=True)
    info = machine()
    commit = _commit()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures = [fig for run in runs for fig in run.figures]
    judged = [fig for fig in figures if fig.passed is not None]
    misses = [fig for fig in judged if fig.passed is False]
    failed = [run for run in runs if run.error]

    lines = [
        "# Lockerbridge performance report",
        "",
        f"Produced by `make bench` (`python -m bench --report {out.as_posix()}`) on {when}, "
        f"commit `{commit}`"
        + (f", in {seconds:.0f} s" if seconds is not None else "")
        + (" — **quick run (CI sizes): not a measurement**" if quick else "")
        + ".",
        "",
        "## Machine",
        "",
        "| cores | memory | CPU | Python | platform | load average at start |",
        "|---|---|---|---|---|---|",
        f"| {info['cores']} | {info['memory']} | {_cell(info['cpu'])} | {info['python']} | "
        f"{_cell(info['platform'])} | {'' if load is None else f'{load:.1f}'} |",
        "",
        "## How to read this",
        "",
        "- **target** is the goal the benchmark checks, written beside each figure; **result** "
        "is *pass*, **miss**, or – for figures reported for information.",
        "- Absolute times on a shared machine are noise, so figures that depend on the machine "
        "are also given as **ratios against a baseline measured in the same run** (named in "
        "the *baseline* column, with its own value).",
        "- Every suite can be run alone with the command under its heading; `make bench` runs "
        "them all (under 10 minutes) and rewrites this page, its JSON "
        f"(`{out.with_suffix('.json').name}`) and the plots in `performance/`.",
        "",
        "## Summary",
        "",
        f"{len(figures)} figures from {len(runs)} suites; {len(judged)} have a target: "
        f"{len(judged) - len(misses)} pass, {len(misses)} miss.",
    ]
    if misses:
        lines += ["", "Missed:", ""]
        lines += [f"- {fig.name}: {_value(fig)} (target {fig.target})" for fig in misses]
    if failed:
        lines += ["", "Suites that failed to run:", ""]
        lines += [f"- `{run.name}`: {_cell(run.error)}" for run in failed]

    drawn: set[str] = set()
    for run in runs:
        title = (run.doc or "").strip().splitlines()[0] if run.doc else ""
        lines += ["", f"## `{run.short}` — {title}".rstrip(" —"), ""]
        reproduce = sorted({fig.reproduce for fig in run.figures if fig.reproduce}) or [
            f"python -m bench --only {run.short}"
        ]
        lines.append(
            "Reproduce: " + ", ".join(f"`{r}`" for r in reproduce) + f" ({run.seconds:.0f} s here)."
        )
        if run.error:
            lines += ["", f"**This suite failed:** `{_cell(run.error)}`"]
        if run.figures:
            lines += [
                "",
                "| figure | value | target | result | baseline (same run) |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {_cell(fig.name)} | {_cell(_value(fig))} | {_cell(fig.target or '–')} | "
                f"{MARKS[fig.passed]} | {_cell(fig.baseline or '–')} |"
                for fig in run.figures
            ]
        lines += _method(run.doc)
        for index, fig in enumerate(run.figures):
            png = plot_dir / f"{run.short}-{index:02d}-{_slug(fig.name)}.png"
            if _plot(fig, png):
                drawn.add(png.name)
                lines += [f"![{_cell(fig.name)}](performance/{png.name})", ""]

    soak = plot_dir / "soak.json"
    if soak.exists():
        from bench.soak import table

        lines += [
            "",
            "## `soak` — mixed traffic against the production topology",
            "",
            "Reproduce: `make soak` (`SOAK_MINUTES=3 make soak` for a short run); it writes "
            f"`performance/{soak.name}`, which the next `make bench` puts here.",
            "",
            table(json.loads(soak.read_text(encoding="utf-8"))),
        ]

    for old in plot_dir.glob("*.png"):
        if old.name not in drawn:
            old.unlink()
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    data = {
        "generated": when,
        "commit": commit,
        "quick": quick,
        "seconds": seconds,
        "load_average_at_start": load,
        "machine": info,
        "suites": [
            {
                "name": run.name,
                "seconds": run.seconds,
                "error": run.error,
                "figures": [_summary(fig) for fig in run.figures],
            }
            for run in runs
        ],
    }
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
