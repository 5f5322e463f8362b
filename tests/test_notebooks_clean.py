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
    assert names[:15] == [f"{n:03d}" for n in range(1, 16)], names


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


def test_tour_reports_each_notebook_and_writes_html(tmp_path, capsys):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    good = new_notebook(cells=[new_markdown_cell("# ok"), new_code_cell("print(6 * 7)"),
                               new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]})])
    bad = new_notebook(cells=[new_code_cell("raise SystemError('broken on purpose')")])
    course = tmp_path / "course"
    course.mkdir()
    nbformat.write(good, str(course / "001-good.ipynb"))
    nbformat.write(bad, str(course / "002-bad.ipynb"))
    before = {p: p.read_bytes() for p in course.iterdir()}

    outcomes = tour.tour(tour.course(course), tmp_path / "out")

    assert [(o.notebook, o.passed) for o in outcomes] == [
        ("001-good.ipynb", True), ("002-bad.ipynb", False)]
    assert "broken on purpose" in outcomes[1].error
    assert "42" in (tmp_path / "out" / "001-good.html").read_text(encoding="utf-8")
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "1 of 2 notebooks passed" in index and 'href="002-bad.html"' in index
    assert {p: p.read_bytes() for p in course.iterdir()} == before  # executed in a copy
    printed = capsys.readouterr().out
    assert "passed" in printed and "FAILED" in printed and "002-bad.ipynb" in printed
