"""Writes the performance report: Markdown table, JSON of every figure, PNG plots."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from pathlib import Path

from bench.figures import Figure


def machine() -> dict[str, str]:
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            kib = int(fh.readline().split()[1])
            mem = f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _plot(fig: Figure, path: Path) -> bool:
    if not fig.samples or not fig.plot:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(figsize=(6, 3.2))
    if fig.plot == "distribution":
        ax.hist([s * 1000 for s in fig.samples], bins=40)
        ax.set_xlabel("milliseconds")
        ax.set_ylabel("count")
    else:
        xs, ys = fig.samples[0::2], fig.samples[1::2]
        ax.plot(xs, ys, marker="o")
        ax.set_xscale("log")
        ax.set_xlabel("size")
        ax.set_ylabel(fig.unit)
    ax.set_title(fig.name, fontsize=9)
    f.tight_layout()
    f.savefig(path, dpi=100)
    plt.close(f)
    return True


def write_report(figures: list[Figure], target: str) -> None:
    out = Path(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_dir = out.parent / "performance"
    plot_dir.mkdir(exist_ok=True)
    info = machine()
    lines = [
        "# Lockerbridge performance report",
        "",
        "Produced by `make bench` (`python -m bench --report docs/performance.md`).",
        "Figures that depend on the machine are ratios against a baseline measured in the same run.",
        "",
        f"Machine: {info['cores']} cores, {info['memory']}, Python {info['python']}, "
        f"{info['platform']}.",
        "",
        "| figure | value | target | result | baseline (same run) | reproduce |",
        "|---|---|---|---|---|---|",
    ]
    plots: list[str] = []
    for i, fig in enumerate(figures):
        mark = {True: "pass", False: "**miss**", None: "-"}[fig.passed]
        lines.append(
            f"| {fig.name} | {fig.value:.4g} {fig.unit} | {fig.target or '-'} | {mark} | "
            f"{fig.baseline or '-'} | `{fig.reproduce}` |"
        )
        png = plot_dir / f"figure-{i:02d}.png"
        if _plot(fig, png):
            plots.append(f"![{fig.name}](performance/{png.name})")
    if plots:
        lines += ["", "## Plots", ""] + [p + "\n" for p in plots]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = {"machine": info, "figures": [asdict(f) | {"samples": len(f.samples)} for f in figures]}
    out.with_suffix(".json").write_text(json.dumps(data, indent=2), encoding="utf-8")
