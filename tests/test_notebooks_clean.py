"""The committed notebooks keep their outputs and execution counts, and nothing that
changes from one run or machine to the next (``make notebooks`` regenerates them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eslib import tour

NOTEBOOKS = tour.course()


def test_the_course_is_there():
    names = [p.name.split("-", 1)[0] for p in NOTEBOOKS]
    assert names[:13] == [f"{n:03d}" for n in range(1, 14)], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_executed_and_clean(path: Path):
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    found = tour.problems(nb)
    assert not found, f"{path.name} is not clean (run make notebooks):\n  " + "\n  ".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_reads_like_a_chapter(path: Path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = "".join(cells[0]["source"])
    assert first.startswith("# ") and "You will learn" in first, "start with the objectives"
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert "ESLIB_NOTEBOOK_URL" in code[0], "the first code cell reads the store URL"
    assert "TickingClock" in code[0] and "SequentialIds" in code[0], "deterministic store"
    assert any("## Exercise" in "".join(c["source"]) for c in cells if c["cell_type"] ==
               "markdown"), "end with an exercise"
    assert any("assert " in source for source in code[-3:]), "the exercise is checked"
    assert not any(o.get("output_type") == "error" for c in cells if c["cell_type"] == "code"
                   for o in c["outputs"] if "raises-exception" not in c["metadata"].get(
                       "tags", [])), "an error in a cell not tagged raises-exception"


def test_clean_normalises_what_a_run_adds():
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("1 + 1", execution_count=1,
                                           metadata={"execution": {"iopub.x": "t"},
                                                     "tags": ["x"]})])
    nb.metadata = {"kernelspec": {"name": "other"}, "widgets": {},
                   "language_info": {"version": "3.11.7"}}
    assert tour.problems(nb)
    tour.clean(nb)
    assert tour.problems(nb) == []
    assert nb.cells[0].metadata == {"tags": ["x"]}
    nbformat.validate(nb)
    nb.cells.append(new_code_cell("2"))  # never executed
    assert any("no execution count" in p for p in tour.problems(nb))
