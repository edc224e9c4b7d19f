"""Turn results.jsonl records into figures: a markdown table and a PNG chart."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeloop.runs.folders import write_atomic


@dataclass(frozen=True)
class ModeSummary:
    """The figures for one mode."""

    mode: str
    problems: int
    passed: int
    mean_iterations: float
    mean_tokens: float
    mean_seconds: float
    approved_but_wrong: int
    rejected_but_right: int
    iterations: Counter[int]

    @property
    def pass_at_1(self) -> float:
        """Share of problems whose final code passes the hidden tests."""
        return self.passed / self.problems if self.problems else 0.0


def summarize(records: list[dict[str, Any]], mode: str) -> ModeSummary:
    """Figures for `mode` over the given records."""
    rows = [r for r in records if r["mode"] == mode]

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    return ModeSummary(
        mode=mode,
        problems=len(rows),
        passed=sum(r["passed"] for r in rows),
        mean_iterations=mean([r["iterations"] for r in rows]),
        mean_tokens=mean([r["tokens"]["prompt"] + r["tokens"]["completion"] for r in rows]),
        mean_seconds=mean([r["seconds"] for r in rows]),
        approved_but_wrong=sum(r["status"] == "approved" and not r["passed"] for r in rows),
        rejected_but_right=sum(r["status"] == "not_approved" and r["passed"] for r in rows),
        iterations=Counter(r["iterations"] for r in rows),
    )


def paired_difference(
    records: list[dict[str, Any]], other: str = "single"
) -> tuple[int, float] | None:
    """Loop minus `other` pass@1, in points, over problems finished in both modes."""
    by_mode: dict[str, dict[str, bool]] = {other: {}, "loop": {}}
    for r in records:
        if r["mode"] in by_mode:
            by_mode[r["mode"]][r["task_id"]] = r["passed"]
    both = by_mode[other].keys() & by_mode["loop"].keys()
    if not both:
        return None
    loop = sum(by_mode["loop"][t] for t in both)
    theirs = sum(by_mode[other][t] for t in both)
    return len(both), 100.0 * (loop - theirs) / len(both)


def loop_time(records: list[dict[str, Any]]) -> str | None:
    """Where the loop's seconds go, per problem: its first attempt against the later ones.

    The first attempt is the request a single call makes, plus the checks, the tests and
    the review; the later attempts are what the loop pays for answers a single call
    misses. Comparing them with a peer's seconds shows which part a time goal rules out.
    """
    rows = [r for r in records if r["mode"] == "loop" and r.get("attempts")]
    if not rows:
        return None
    parts: dict[str, dict[str, float]] = {"first attempt": {}, "later attempts": {}}
    for row in rows:
        for index, attempt in enumerate(row["attempts"]):
            part = parts["later attempts" if index else "first attempt"]
            for stage, seconds in attempt.get("seconds", {}).items():
                part[stage] = part.get(stage, 0.0) + seconds
    count = len(rows)
    shown = [
        f"{name} {sum(part.values()) / count:.1f} ("
        + ", ".join(f"{stage} {part[stage] / count:.1f}" for stage in sorted(part, key=_in_order))
        + ")"
        for name, part in parts.items()
        if part
    ]
    staged = sum(sum(part.values()) for part in parts.values())
    rest = (sum(r["seconds"] for r in rows) - staged) / count
    retried = sum(len(r["attempts"]) > 1 for r in rows)
    return (f"Loop's seconds per problem, over {count} problems ({retried} had later attempts): "
            f"{'; '.join(shown)}; outside the attempts {rest:.1f}.")


def _in_order(stage: str) -> int:
    """The graph's order; a stage this code does not know goes last."""
    order = ("generate", "execute", "tests", "review")
    return order.index(stage) if stage in order else len(order)


def markdown(
    summaries: list[ModeSummary],
    differences: dict[str, tuple[int, float]],
    title: str,
    time_split: str | None = None,
) -> str:
    """The summary table as markdown."""
    single = next((s for s in summaries if s.mode == "single" and s.problems), None)
    lines = [
        f"# {title}",
        "",
        "| mode | problems | pass@1 | avg iterations | tokens / problem | seconds / problem "
        "| time vs single | tokens vs single | approved but wrong | rejected but right |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summaries:
        lines.append(
            f"| {s.mode} | {s.problems} | {100 * s.pass_at_1:.1f}% ({s.passed}) "
            f"| {s.mean_iterations:.2f} | {s.mean_tokens:.0f} | {s.mean_seconds:.1f} "
            f"| {_ratio(s.mean_seconds, single.mean_seconds if single else 0)} "
            f"| {_ratio(s.mean_tokens, single.mean_tokens if single else 0)} "
            f"| {s.approved_but_wrong if s.mode == 'loop' else '-'} "
            f"| {s.rejected_but_right if s.mode == 'loop' else '-'} |"
        )
    for other, (count, points) in differences.items():
        lines += [
            "",
            f"Loop minus {other} on the {count} problems run in both modes: {points:+.1f} points.",
        ]
    if time_split:
        lines += ["", time_split]
    return "\n".join(lines) + "\n"


def _ratio(value: float, base: float) -> str:
    return f"x{value / base:.2f}" if base else "-"


def chart(summaries: list[ModeSummary], path: Path) -> None:
    """pass@1 per mode, and the loop's iterations histogram, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.bar([s.mode for s in summaries], [100 * s.pass_at_1 for s in summaries], color="#5b8def")
    left.set_ylabel("pass@1 (%)")
    left.set_ylim(0, 100)
    left.set_title("pass@1 per mode")
    loop = next((s for s in summaries if s.mode == "loop"), None)
    if loop and loop.iterations:
        counts = sorted(loop.iterations.items())
        right.bar([str(k) for k, _ in counts], [v for _, v in counts], color="#f0a03c")
    right.set_xlabel("iterations")
    right.set_ylabel("problems")
    right.set_title("loop: iterations per problem")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def write_summary(
    records: list[dict[str, Any]], modes: tuple[str, ...], folder: Path, title: str
) -> str:
    """Write summary.md and chart.png into `folder`; return the markdown."""
    summaries = [summarize(records, m) for m in modes]
    others: tuple[str, ...] = ("single", "exec", "examples")
    differences = {other: difference for other in others
                   if other in modes and (difference := paired_difference(records, other))}
    text = markdown(summaries, differences, title, loop_time(records) if "loop" in modes else None)
    write_atomic(folder / "summary.md", text)
    chart(summaries, folder / "chart.png")
    return text
