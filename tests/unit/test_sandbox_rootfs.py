"""Pure helpers of the private root: which paths to bind, who can read the interpreter."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from codeloop.sandbox.child.rootfs import _outermost, python_dirs, readable_by_all


def test_nested_paths_are_bound_once_through_their_outermost_parent():
    paths = ["/usr", "/usr/lib/python3", "/opt/venv", "/opt/venv2", "/opt/venv/lib"]
    assert _outermost(paths) == ["/opt/venv", "/opt/venv2", "/usr"]


def test_python_dirs_cover_the_interpreter_and_leave_the_rest_out():
    dirs = python_dirs()
    assert any(sys.prefix.startswith(d) or d == sys.prefix for d in dirs)
    assert all(not d.endswith("/src") for d in dirs)


@pytest.fixture
def open_dir():
    """A directory in /tmp whose ancestors everyone can search (tmp_path's are 0700)."""
    path = Path(tempfile.mkdtemp())
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_readable_by_all_needs_every_ancestor_searchable(open_dir):
    inner = open_dir / "a" / "b"
    inner.mkdir(parents=True)
    for path in (open_dir / "a", inner):
        path.chmod(0o755)
    assert readable_by_all([str(inner)])
    (open_dir / "a").chmod(0o700)
    assert not readable_by_all([str(inner)])
    (open_dir / "a").chmod(0o755)
    inner.chmod(0o711)
    assert not readable_by_all([str(inner)])
