"""Committed notebooks carry no outputs: diffs stay readable and no run's output goes stale."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = ["01_quickstart", "02_state_and_time_travel", "03_custom_reviewer"]
FIX = "strip them with: .venv/bin/nbstripout notebooks/*.ipynb"


def test_the_three_notebooks_are_there():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_valid_and_stripped(name: str):
    path = NOTEBOOKS / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"  # the kernel of whatever env runs it
    dirty = [
        i for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; {FIX}"
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in raw["metadata"], f"{path.name}: widget state saved; {FIX}"
