"""The performance report: Markdown table with targets and marks, JSON, PNG plots; the runner."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import main
from bench.figures import Figure
from bench.report import SuiteRun, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _runs() -> list[SuiteRun]:
    figures = [
        Figure(
            "checkin round trip, ours / raw",
            1.62,
            "x",
            target="<= 1.3",
            passed=False,
            baseline="raw socket round trip, median 300 µs",
            reproduce="python -m bench --only sip2_roundtrip",
            samples=[1.5, 1.6, 1.62, 1.7, 2.4],
            plot="distribution",
        ),
        Figure(
            "status page p95 at 200 compartments",
            42.0,
            "ms",
            target="<= 100 ms",
            passed=True,
            reproduce="python -m bench --only status_page",
            samples=[float(n) for n in range(30, 45)],
            plot="distribution",
        ),
        Figure(
            "allocation growth 100 -> 10,000 compartments",
            3.5,
            "x",
            samples=[100, 2.0, 1_000, 3.1, 10_000, 7.0],
            plot="growth",
            samples_unit="µs",
            x_label="compartments",
        ),
        Figure("worker peak memory", 92.4, "MiB", baseline="bare interpreter 52 MiB"),
    ]
    return [
        SuiteRun("bench.example", figures, 12.5, doc="Example suite.\n\nMeasures what it says."),
        SuiteRun("bench.broken", [], 0.4, error="RuntimeError: ACS did not start", doc="Broken."),
    ]


def test_the_report_has_every_figure_with_target_mark_baseline_and_machine(tmp_path: Path) -> None:
    report = tmp_path / "performance.md"
    write_report(_runs(), str(report), seconds=13.0, load=0.5)
    text = report.read_text(encoding="utf-8")
    assert (
        "| checkin round trip, ours / raw | 1.62 x | <= 1.3 | **miss** | raw socket round trip"
        in text
    )
    assert "| status page p95 at 200 compartments | 42 ms | <= 100 ms | pass |" in text
    assert "| worker peak memory | 92.4 MiB | – | – | bare interpreter 52 MiB |" in text
    assert "2 have a target: 1 pass, 1 miss" in text
    assert "`python -m bench --only sip2_roundtrip`" in text
    assert "> Measures what it says." in text
    assert "`bench.broken`: RuntimeError: ACS did not start" in text
    assert "| cores |" in text and "Python" in text


def test_the_json_holds_every_figure_with_its_target_and_summarised_samples(tmp_path: Path) -> None:
    report = tmp_path / "performance.md"
    write_report(_runs(), str(report))
    data = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert int(data["machine"]["cores"]) >= 1
    figures = {f["name"]: f for suite in data["suites"] for f in suite["figures"]}
    roundtrip = figures["checkin round trip, ours / raw"]
    assert (roundtrip["target"], roundtrip["passed"], roundtrip["value"]) == ("<= 1.3", False, 1.62)
    assert roundtrip["samples"]["count"] == 5
    assert roundtrip["samples"]["p95"] == 2.4
    growth = figures["allocation growth 100 -> 10,000 compartments"]
    assert growth["points"] == [[100, 2.0], [1000, 3.1], [10000, 7.0]]
    assert [s["error"] for s in data["suites"]] == [None, "RuntimeError: ACS did not start"]


def test_plots_are_png_files_linked_from_the_report_and_stale_ones_go(tmp_path: Path) -> None:
    report = tmp_path / "performance.md"
    plots = tmp_path / "performance"
    plots.mkdir()
    (plots / "old-figure.png").write_bytes(PNG_MAGIC)
    write_report(_runs(), str(report))
    drawn = sorted(plots.glob("*.png"))
    assert len(drawn) == 3  # two distributions and one growth; the memory figure has no samples
    text = report.read_text(encoding="utf-8")
    for png in drawn:
        assert png.read_bytes().startswith(PNG_MAGIC)
        assert f"(performance/{png.name})" in text
    assert not (plots / "old-figure.png").exists()


def test_the_runner_writes_the_report_and_fails_when_a_suite_breaks(tmp_path: Path) -> None:
    report = tmp_path / "perf.md"
    suites = ["tests.bench.suites_for_tests", "tests.bench.broken_suite", "tests.bench.missing"]
    status = main(["--quick", "--report", str(report)], suites=suites)
    assert status == 1
    data = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert [s["name"] for s in data["suites"]] == suites[:2]
    assert data["quick"] is True
    assert data["suites"][0]["figures"][0]["value"] == 1.2
    assert data["suites"][0]["figures"][0]["suite"] == "tests.bench.suites_for_tests"
    assert "reference ACS did not start" in data["suites"][1]["error"]
    assert "quick run (CI sizes): not a measurement" in report.read_text(encoding="utf-8")


def test_the_runner_succeeds_when_every_suite_runs(tmp_path: Path) -> None:
    assert main(["--quick"], suites=["tests.bench.suites_for_tests"]) == 0


def test_a_soak_result_beside_the_report_becomes_its_table(tmp_path: Path) -> None:
    result = {
        "when": "2026-12-07 19:00 UTC",
        "minutes": 3,
        "rate": 20,
        "banks": 500,
        "events": 3000,
        "deposits": 1200,
        "window_minutes": 1,
        "errors": 0,
        "first_errors": [],
        "latency": [
            {
                "kind": "page",
                "count": 900,
                "p95_first_ms": 80.0,
                "p95_last_ms": 130.0,
                "ratio": 1.625,
                "passed": False,
            },
        ],
        "memory": [
            {
                "process": "web-1",
                "rss_after_warmup_mib": 110.0,
                "rss_end_mib": 112.0,
                "peak_mib": 120.0,
                "growth": 0.018,
                "passed": True,
            },
        ],
    }
    (tmp_path / "performance").mkdir()
    (tmp_path / "performance" / "soak.json").write_text(json.dumps(result))
    report = tmp_path / "performance.md"
    write_report(_runs(), str(report))
    text = report.read_text(encoding="utf-8")
    assert "**0 errors** (target 0)" in text
    assert "| page | 900 | 80.0 ms | 130.0 ms | 1.62x | **miss** |" in text
    assert "| web-1 | 110 MiB | 112 MiB | 120 MiB | +1.8% | pass |" in text


def test_a_soak_result_lists_every_error_by_kind() -> None:
    from bench.soak import table

    result = {
        "when": "2026-12-07 19:00 UTC",
        "minutes": 3,
        "rate": 20,
        "banks": 500,
        "events": 3000,
        "deposits": 1200,
        "doors_emptied": 300,
        "window_minutes": 1,
        "errors": 14,
        "errors_by_kind": {"deposit: full": 12, "page: HTTP 500": 2},
        "first_errors": ["deposit 360000000030: HTTP 200 {'outcome': 'full'}"],
        "latency": [],
        "memory": [],
    }
    text = table(result)
    assert "**14 errors** (target 0). Staff emptied 300 return doors by scanning." in text
    assert "| deposit: full | 12 |" in text
    assert "| page: HTTP 500 | 2 |" in text
