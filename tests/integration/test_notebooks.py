"""Every notebook runs top to bottom on a fresh kernel, as a reader would run it.

The kernel is `python3` as the environment running the tests resolves it: the ipykernel
installed in this venv, started with this interpreter (nothing registered globally).
The notebooks use the embedded model, so each takes minutes on 2 CPU cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

pytestmark = pytest.mark.integration

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT = 900  # seconds for one cell; a round of the embedded model is well under this


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    """Run the notebook in `workdir`, with a first cell that reports the kernel's interpreter.

    The executed copy, outputs and all, is left in `workdir` (pytest keeps the last runs').
    """
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.insert(0, new_code_cell("import sys; print(sys.prefix)"))
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute()  # a failing cell raises CellExecutionError, naming the cell and its error
    finally:
        nbformat.write(notebook, workdir / f"{name}.executed.ipynb")  # outputs, for a post-mortem
    assert text_of(notebook.cells[0]).strip() == sys.prefix, "the kernel is not this venv's python"
    return notebook


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed, as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def all_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(text_of(cell) for cell in notebook.cells if cell.cell_type == "code")


def test_quickstart(tmp_path):
    notebook = execute("01_quickstart", tmp_path)
    text = all_text(notebook)
    for node in ("generate", "execute", "review", "finalize"):
        assert f"  {node} " in text  # a streamed line per node
    assert "status: approved" in text or "status: not_approved" in text
    assert "review -.-> generate" in text  # the Mermaid drawing has the loop's back edge
    assert "| generate |" in text  # the ASCII drawing


def test_state_and_time_travel(tmp_path):
    notebook = execute("02_state_and_time_travel", tmp_path)
    text = all_text(notebook)
    assert "next: ('generate',)" in text  # the fork goes back to generate
    assert "nodes run: ['finalize']" in text  # the replay re-runs only what came after
    assert "is unchanged" in text


def test_custom_reviewer(tmp_path):
    notebook = execute("03_custom_reviewer", tmp_path)
    text = all_text(notebook)
    assert "type hints (score >= 6)  add      approved           2" in text
    assert "strict (score >= 9)      add      not_approved       3" in text
    [real] = [c for c in notebook.cells if c.source.startswith("embedded_rows = compare")]
    embedded = "".join(o.get("text", "") for o in real.outputs)  # the embedded model's table
    rows = [line for line in embedded.splitlines() if line.startswith(("default", "strict", "type"))]
    assert len(rows) == 9
    assert all(" approved " in line or " not_approved " in line for line in rows)
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert len([o for o in outputs if "image/png" in o.get("data", {})]) == 2  # the two plots
