"""The child side of a sandboxed run: pytest with a plugin that reports each outcome.

Runs as a script (`python -I runner.py WORKDIR FD`), never imported by codeloop itself.
It reads a one-line nonce from stdin before any untrusted code is imported and signs
every record it writes to the inherited pipe FD with it, so that output the tested code
prints or writes cannot pass for the runner's own report.
"""

import json
import os
import sys

MESSAGE_CHARS = 1200


def _short_name(nodeid):
    return nodeid.split("::", 1)[-1] if "::" in nodeid else nodeid


def _message(report):
    text = getattr(report, "longreprtext", "") or ""
    if report.skipped and isinstance(report.longrepr, tuple):
        text = str(report.longrepr[2])
    return text[-MESSAGE_CHARS:]


def _make_plugin(emit):
    class Reporter:
        def pytest_collectreport(self, report):
            if report.failed:
                emit({"kind": "collect_error", "name": report.nodeid or "collection",
                      "message": _message(report)})

        def pytest_runtest_logreport(self, report):
            if report.when == "call" or report.outcome != "passed":
                outcome = report.outcome if report.when == "call" else (
                    "skipped" if report.skipped else "error")
                emit({"kind": "test", "name": _short_name(report.nodeid),
                      "when": report.when, "outcome": outcome, "message": _message(report)})

        def pytest_sessionfinish(self, session, exitstatus):
            emit({"kind": "finished", "exitstatus": int(exitstatus),
                  "collected": session.testscollected})

    return Reporter()


def main():
    workdir, fd = sys.argv[1], int(sys.argv[2])
    nonce = sys.stdin.readline().strip()
    sys.stdin.close()
    out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def emit(record, _nonce=nonce, _out=out, _dumps=json.dumps):
        record["nonce"] = _nonce
        _out.write(_dumps(record) + "\n")
        _out.flush()

    import pytest

    os.chdir(workdir)
    args = ["-q", "-p", "no:cacheprovider", "--noconftest", "--tb=short", "-W", "ignore",
            "--rootdir", workdir, "-o", "python_files=test_*.py", "test_solution.py"]
    code = pytest.main(args, plugins=[_make_plugin(emit)])
    emit({"kind": "exit", "code": int(code)})
    out.close()
    os._exit(0)


if __name__ == "__main__":
    main()
