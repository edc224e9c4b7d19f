"""Turn a rejected attempt into findings the next generation can act on.

Failing test messages are the most useful feedback a small model gets, so they come
first, as pytest wrote them up to the first `E` line (its assertion rewriting shows the
values); reviewer issues and a person's feedback follow.
"""

from __future__ import annotations

from codeloop.state import Attempt

MAX_TESTS_SHOWN = 5
MAX_MESSAGE_CHARS = 600


def findings(attempt: Attempt, human_feedback: str | None = None) -> str:
    """Bullet points saying why `attempt` was not accepted."""
    lines: list[str] = []
    if human_feedback:
        lines.append(f"- A person reviewing the code asks: {human_feedback.strip()}")
    if attempt.get("parse_error"):
        lines.append(f"- Your reply could not be used: {attempt['parse_error']}")
    lines += _test_findings(attempt)
    lines += [f"- No test checks this rule of the task yet; make sure the code follows it: {rule}"
              for rule in attempt.get("untested_rules", [])]
    verdict = attempt.get("verdict")
    if verdict:
        lines += [f"- A rule of the task is not met: {answer['text']} (reviewer: "
                  f"{answer['where'] or 'not handled'})"
                  for answer in verdict.get("rules", []) if not answer["met"]]
    if verdict and not verdict["approved"]:
        lines += [f"- Reviewer: {issue}" for issue in verdict["issues"][:5]]
    if attempt.get("review_error"):
        lines.append(f"- Review: {attempt['review_error']}")
    return "\n".join(lines) or "- The reviewer did not approve the solution."


def _test_findings(attempt: Attempt) -> list[str]:
    report = attempt.get("report")
    if not report:
        return []
    if report["status"] in ("error", "timeout") and report["detail"]:
        return [f"- Running the tests failed: {_clip(report['detail'])}"]
    # A refuted model test (attempts that pass the task's checks all disagree with it) is
    # not the solution's fault: it is left out.
    refuted = {c["name"] for c in attempt.get("checks", []) if c.get("refuted")}
    failing = [t for t in report["tests"]
               if t["outcome"] in ("failed", "error") and t["name"] not in refuted]
    trusted = set(attempt.get("task_tests", []))
    # The task's own tests first: the solution must pass them, whereas a failing test the
    # model wrote may itself be wrong.
    failing.sort(key=lambda t: t["name"] not in trusted)
    lines = [f"- {report['passed']} of {report['total']} tests passed."] if failing else []
    for test in failing[:MAX_TESTS_SHOWN]:
        origin = " (a test from the task itself: the solution must pass it)" if (
            test["name"] in trusted) else ""
        lines.append(f"- {test['name']}{origin} failed:\n{_indent(_clip(_brief(test['message'])))}")
    return lines


def _brief(message: str) -> str:
    """A pytest failure message up to its first `E` line: the line that failed, and what it got.

    The `E` lines after it (blank ones, "Left contains one more item", "Use -v to get
    more diff") repeat the first or speak to a person at a terminal. In a retry prompt
    they cost prompt tokens, and the 0.5B model copied them into its next solution.
    """
    lines = message.strip().splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("E ")), len(lines))
    return "\n".join(lines[: first + 1])


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " [...]"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
