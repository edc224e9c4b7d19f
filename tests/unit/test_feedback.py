"""The findings a retry is shown: pytest's failure up to its first `E` line."""

from codeloop.prompts.feedback import findings

PYTEST_FAILURE = ("test_solution.py:6: in test_rule_1_empty\n"
                  "    assert chunk([], 1) == []\n"
                  "E   assert [[]] == []\n"
                  "E     \n"
                  "E     Left contains one more item: []\n"
                  "E     Use -v to get more diff")

CRASH = """test_solution.py:9: in test_rule_3_zero
    chunk([1], 0)
solution.py:4: in chunk
    return [items[i:i + size] for i in range(0, len(items), size)]
E   ValueError: range() arg 3 must not be zero"""


def _failed(*messages: str) -> dict:
    tests = [{"name": f"test_{n}", "outcome": "failed", "message": m}
             for n, m in enumerate(messages)]
    report = {"status": "failed", "passed": 0, "total": len(tests), "tests": tests, "detail": ""}
    return {"iteration": 1, "code": "", "tests": "", "report": report, "checks": []}


def test_a_failure_is_shown_up_to_its_first_e_line():
    shown = findings(_failed(PYTEST_FAILURE, CRASH))  # type: ignore[arg-type]
    assert "    assert chunk([], 1) == []\n    E   assert [[]] == []\n" in shown
    assert "Left contains" not in shown and "Use -v" not in shown
    # A crash keeps its frames: where in the solution it went wrong.
    assert "solution.py:4: in chunk" in shown and shown.endswith("must not be zero")


def test_a_message_without_e_lines_is_kept_whole():
    shown = findings(_failed("DID NOT RAISE\nsecond line"))  # type: ignore[arg-type]
    assert shown.endswith("    DID NOT RAISE\n    second line")
