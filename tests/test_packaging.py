"""Packaging facts that must stay true: environment.yml follows pyproject, the Makefile and CI."""

from __future__ import annotations

import re

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_every_runtime_dependency():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = (ROOT / "environment.yml").read_text()
    conda = {_name(line.strip()[2:]) for line in env.splitlines()
             if line.startswith("  - ") and not line.strip().startswith("- pip")}
    wanted = {_name(r) for r in pyproject["project"]["dependencies"]}
    assert wanted <= conda, f"missing from environment.yml: {sorted(wanted - conda)}"
    pip_line = re.search(r"-e \.\[([^\]]*)\]", env)
    assert pip_line, "environment.yml must pip-install eslib itself with its extras"
    extras = set(pip_line.group(1).split(","))
    assert extras == {"notebooks", "dev"}
    assert extras <= set(pyproject["project"]["optional-dependencies"])


def test_makefile_installs_what_environment_yml_installs():
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[notebooks,dev]'" in makefile


def test_ci_runs_the_readme_test_command_with_postgres_required():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "ESLIB_REQUIRE_POSTGRES=1" in ci
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```", 2)[1]
    assert "make tour" in first_block and "make test" in first_block
