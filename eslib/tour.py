"""Run the notebook course headlessly: ``python -m eslib.tour`` (what ``make tour`` calls).

::

    python -m eslib.tour                  # every notebook, in a temp dir; HTML to build/tour/
    python -m eslib.tour --only 001 005   # a few of them
    python -m eslib.tour --in-place       # re-execute notebooks/ in place (make notebooks)

The tour copies the course to a temporary folder and executes it there, so
``notebooks/`` is never modified; it writes one HTML page per executed notebook and
an ``index.html`` to ``build/tour/``, prints one line per notebook (passed/failed,
seconds) and exits non-zero when any notebook failed. Cells tagged
``raises-exception`` may raise; any other error fails the notebook.

``--in-place`` executes the notebooks where they are and then normalises their
metadata (:func:`clean`): the committed form keeps outputs and execution counts,
and nothing that changes from one run or machine to the next.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the environment variable the notebooks' first cell reads the store URL from
URL_VARIABLE = "ESLIB_NOTEBOOK_URL"

#: notebook-level metadata of a committed notebook: exactly this
NOTEBOOK_METADATA: dict[str, Any] = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                   "name": "python3"},
    "language_info": {"name": "python", "pygments_lexer": "ipython3"},
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: the only cell metadata key a committed notebook keeps
CELL_METADATA_KEYS = frozenset({"tags"})


def course_folder() -> Path:
    """The ``notebooks/`` folder of this checkout."""
    return Path(__file__).resolve().parent.parent / "notebooks"


def course(folder: Path | None = None) -> list[Path]:
    """The course's notebooks in order: ``NNN-name.ipynb``."""
    return sorted((folder or course_folder()).glob("[0-9][0-9][0-9]-*.ipynb"))


# -- clean metadata --------------------------------------------------------------


def clean(nb: Any) -> Any:
    """Normalise a notebook in place (and return it): fixed notebook metadata, cell
    metadata reduced to tags, stable cell ids, no per-run output metadata."""
    nb.metadata = _copy(NOTEBOOK_METADATA)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for index, cell in enumerate(nb.cells, start=1):
        cell.metadata = {k: v for k, v in cell.metadata.items()
                         if k in CELL_METADATA_KEYS and v}
        if not cell.get("id"):
            cell["id"] = f"cell-{index:03d}"
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
        if cell.cell_type == "code":
            for output in cell.outputs:
                if "metadata" in output and output.output_type != "display_data":
                    output.metadata = {}
                data = output.get("data", {})
                if WIDGET_VIEW in data and "text/plain" in data:
                    del data[WIDGET_VIEW]  # its model (random ids) is not kept: show the text
    return nb


def problems(nb: Any) -> list[str]:
    """Why a committed notebook is not clean (empty list: clean)."""
    found: list[str] = []
    if dict(nb.metadata) != NOTEBOOK_METADATA:
        found.append(f"notebook metadata is {dict(nb.metadata)!r}, "
                     f"expected {NOTEBOOK_METADATA!r}")
    expected_count = 0
    for index, cell in enumerate(nb.cells):
        extra = set(cell.metadata) - CELL_METADATA_KEYS
        if extra:
            found.append(f"cell {index}: metadata keys {sorted(extra)} (only tags are kept)")
        if cell.cell_type != "code":
            continue
        expected_count += 1
        if cell.execution_count is None:
            found.append(f"cell {index}: code cell with no execution count (never executed?)")
        elif cell.execution_count != expected_count:
            found.append(f"cell {index}: execution count {cell.execution_count}, expected "
                         f"{expected_count} (run top to bottom once in a fresh kernel)")
    return found


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


# -- execution -------------------------------------------------------------------------


@dataclass
class Outcome:
    notebook: str
    passed: bool
    seconds: float
    error: str = ""
    html: str = ""


def execute(path: Path, *, cwd: Path, timeout: int = 600) -> tuple[Any, str]:
    """Execute one notebook with cwd ``cwd``; (the executed notebook, error text or "")."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient.exceptions import CellExecutionError
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(str(path), as_version=4)
    runner = ExecutePreprocessor(timeout=timeout, kernel_name="python3", record_timing=False)
    # our own kernel manager: the kernel's stderr (start-up chatter) stays off the terminal;
    # what a cell writes to stderr still reaches the notebook through the kernel protocol
    km = KernelManager(kernel_name="python3")
    try:
        km.start_kernel(cwd=str(cwd), stderr=subprocess.DEVNULL)
        runner.preprocess(nb, {"metadata": {"path": str(cwd)}}, km=km)
    except CellExecutionError as exc:
        return nb, _first_lines(str(exc))
    except Exception as exc:  # a dead kernel, a timeout: the notebook failed, the tour goes on
        return nb, f"{type(exc).__name__}: {_first_lines(str(exc))}"
    finally:
        client = getattr(runner, "kc", None)
        if client is not None:
            client.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        km.context.destroy(linger=0)  # the manager made its own zmq context: no leaked sockets
    return nb, ""


def _first_lines(text: str, n: int = 12) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-n:])


def regenerate(paths: list[Path]) -> list[Outcome]:
    """Execute notebooks in place (their own folder as cwd), clean and write them back."""
    import nbformat

    outcomes = []
    for path in paths:
        started = time.perf_counter()
        nb, error = execute(path, cwd=path.parent)
        seconds = time.perf_counter() - started
        if not error:
            nbformat.write(clean(nb), str(path))
        outcomes.append(Outcome(path.name, not error, seconds, error))
        _report(outcomes[-1])
    return outcomes


def tour(paths: list[Path], out: Path) -> list[Outcome]:
    """Execute copies of the notebooks in a temporary folder; write HTML pages to ``out``."""
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="eslib-tour-") as tmp:
        work = Path(tmp)
        for path in paths:
            shutil.copy2(path, work / path.name)
        for path in paths:
            started = time.perf_counter()
            nb, error = execute(work / path.name, cwd=work)
            seconds = time.perf_counter() - started
            page = path.with_suffix(".html").name
            body, _ = exporter.from_notebook_node(nb)
            (out / page).write_text(body, encoding="utf-8")
            outcomes.append(Outcome(path.name, not error, seconds, error, page))
            _report(outcomes[-1])
    (out / "index.html").write_text(index_page(outcomes), encoding="utf-8")
    return outcomes


def _report(outcome: Outcome) -> None:
    status = "passed" if outcome.passed else "FAILED"
    print(f"  {status:6}  {outcome.seconds:6.1f}s  {outcome.notebook}", flush=True)
    if outcome.error:
        print("          " + outcome.error.replace("\n", "\n          "), flush=True)


def index_page(outcomes: list[Outcome]) -> str:
    """The tour's index.html: one row per notebook, linking its page."""
    rows = "\n".join(
        f"<tr><td><a href=\"{html.escape(o.html)}\">{html.escape(o.notebook)}</a></td>"
        f"<td class=\"{'ok' if o.passed else 'bad'}\">{'passed' if o.passed else 'failed'}</td>"
        f"<td>{o.seconds:.1f} s</td></tr>"
        for o in outcomes
    )
    passed = sum(o.passed for o in outcomes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>eslib — the notebook course</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}
td{{padding:.2em 1em}} .ok{{color:#070}} .bad{{color:#a00;font-weight:bold}}</style></head>
<body><h1>eslib — the notebook course</h1>
<p>Executed headlessly on the embedded store: {passed} of {len(outcomes)} notebooks passed.</p>
<table><tr><th>notebook</th><th>result</th><th>time</th></tr>
{rows}
</table></body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eslib.tour", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("build/tour"),
                        help="where the HTML pages go (default build/tour)")
    parser.add_argument("--only", nargs="*", default=[],
                        help="run only notebooks whose name starts with one of these")
    parser.add_argument("--in-place", action="store_true",
                        help="execute notebooks/ in place and clean metadata (no HTML)")
    parser.add_argument("--url", default=None,
                        help=f"store URL for the notebooks (sets ${URL_VARIABLE}; default: "
                             "the embedded DuckDB store)")
    args = parser.parse_args(argv)
    if args.url:
        os.environ[URL_VARIABLE] = args.url
    else:
        os.environ.pop(URL_VARIABLE, None)  # the course's own default: embedded DuckDB
    paths = [p for p in course() if not args.only or p.name.startswith(tuple(args.only))]
    if not paths:
        print(f"no notebooks found in {course_folder()}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    if args.in_place:
        print(f"executing {len(paths)} notebooks in place in {course_folder()}")
        outcomes = regenerate(paths)
    else:
        out = args.out.resolve()
        print(f"the tour: {len(paths)} notebooks, HTML in {out}")
        outcomes = tour(paths, out)
        print(f"open {out / 'index.html'}")
    failed = [o.notebook for o in outcomes if not o.passed]
    total = time.perf_counter() - started
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed in {total:.0f}s"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
