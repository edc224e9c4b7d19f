"""Prompts for completion models without a chat template (StarCoder-7B behind TGI).

A base code model continues a file; it does not follow requests. So each prompt is the
start of a file the wanted answer naturally completes: `solution.py` opening with the
task (and, after a rejection, the previous attempt and what went wrong) as comments;
then the same file going on with a tests section that already begins `def test_`; a
`REVIEW.md` ending in an open JSON block for the verdict (decoded under TGI's JSON
grammar, so it always parses). Messages are pieces of that one text, joined in order by
the backend; a trailing AI message is the start of the reply.

The stop sequences end a reply where a base model drifts off the file it was given: a
new file marker, a main guard, a top-level print of example usage. The end-of-text
token needs no stop sequence: TGI ends there by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from codeloop.prompts.base import RULE_TEST, numbered, render, trimmable
from codeloop.prompts.chat import counted_tests, test_summary
from codeloop.prompts.feedback import findings
from codeloop.state import Attempt

# Trim ranks: the previous tests go first, then the previous code, then the findings.
TESTS_RANK, CODE_RANK, FINDINGS_RANK = 1, 2, 3
# What the model is given to begin its tests with: a base model then writes test functions.
TESTS_START = "def test_"


class StarCoderPrompts:
    """Completion-style prompts: one Python file (or review document) the model continues."""

    stop: ClassVar[tuple[str, ...]] = ("<filename>", "<file_sep>", "\nif __name__", "\nprint(")

    def generation(
        self, task: str, constraints: str, previous: Attempt | None, human_feedback: str | None
    ) -> list[BaseMessage]:
        """solution.py with the task in comments; after a rejection, what went wrong."""
        extra = f"#\n# Constraints:\n{comment(constraints)}\n" if constraints.strip() else ""
        messages: list[BaseMessage] = [
            HumanMessage(render("starcoder_generate_task", task=comment(task), constraints=extra))
        ]
        if previous is not None:
            messages += _feedback(previous, human_feedback)
        which = "corrected solution" if previous is not None else "solution"
        messages.append(HumanMessage(render("starcoder_generate_start", which=which)))
        return messages

    def test_writing(
        self, generation: list[BaseMessage], solution: str, rules: Sequence[str] = (),
        retry: bool = False, missing: Sequence[int] = (),
    ) -> list[BaseMessage]:
        """The same file, continued after the solution with a tests section.

        With the task's rules, the section lists them and its first test is rule 1's (or
        the first missing rule's). `retry` changes nothing here: the findings are already
        comments in the file.
        """
        listed = f"# One test per rule the task states:\n{comment(numbered(rules))}\n" if (
            rules) else ""
        if missing:
            listed += f"# Still without a test: rules {', '.join(map(str, missing))}.\n"
        first = missing[0] if missing else 1
        return [
            *generation,
            AIMessage(solution.rstrip("\n")),
            HumanMessage(render("starcoder_tests_header", rules=listed)),
            AIMessage(f"def {RULE_TEST}{first}_" if rules else TESTS_START),
        ]

    def review(self, task: str, attempt: Attempt, rules: Sequence[str] = ()) -> list[BaseMessage]:
        """Write a review document that ends where the JSON verdict begins."""
        listed = f"\n## Rules the task states\n\n{numbered(rules)}\n" if rules else ""
        head = render(
            "starcoder_review_head", task=task.strip(), rules=listed, code=attempt["code"].strip()
        )
        tests = render("starcoder_review_tests", tests=counted_tests(attempt) or "# (none)")
        verdict = render("starcoder_review_verdict", results=test_summary(attempt))
        return [
            HumanMessage(head),
            trimmable(HumanMessage(tests), TESTS_RANK),
            HumanMessage(verdict),
        ]

    def repair(self, problem: str) -> BaseMessage:
        """Close the unusable verdict and open a block for a corrected one."""
        return HumanMessage(render("starcoder_review_repair", problem=problem))


def _feedback(previous: Attempt, human_feedback: str | None) -> list[BaseMessage]:
    """Show the previous attempt and its findings, each piece droppable if space runs out."""
    code = previous["code"].strip() or "(none)"
    tests = previous["tests"].strip() or "(none)"
    return [
        trimmable(
            HumanMessage(render("starcoder_previous_code", code=comment(code, indent=4))),
            CODE_RANK,
        ),
        trimmable(
            HumanMessage(render("starcoder_previous_tests", tests=comment(tests, indent=4))),
            TESTS_RANK,
        ),
        trimmable(
            HumanMessage(
                render("starcoder_findings", findings=comment(findings(previous, human_feedback)))
            ),
            FINDINGS_RANK,
        ),
    ]


def comment(text: str, indent: int = 0) -> str:
    """`text` as Python comment lines (so any task text is safe inside the file)."""
    pad = " " * indent
    lines = text.strip("\n").splitlines() or [""]
    return "\n".join(f"# {pad}{line}".rstrip() if line.strip() else "#" for line in lines)
