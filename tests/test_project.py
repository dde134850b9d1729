"""The project's own files agree with each other: dependencies, CLI, notebooks."""
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from photoz_nb import cli, config

ROOT = Path(__file__).resolve().parent.parent


def pip_section(env_yml: str) -> set[str]:
    """The requirements of environment.yml's pip section (not its options: -c constraints.txt, -e .)."""
    lines = env_yml.split("- pip:", 1)[1].splitlines()
    return {line.strip()[2:] for line in lines if line.strip().startswith("- ") and not line.strip().startswith("- -")}


def test_environment_yml_lists_the_same_dependencies():
    """environment.yml installs what `make install` does: every extra but `gpu` (CUDA wheels, for GPU machines)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {name: reqs for name, reqs in project["optional-dependencies"].items() if name != "gpu"}
    wanted = set(project["dependencies"]).union(*extras.values())
    env = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in env
    assert pip_section(env) == wanted


def test_constraints_pin_every_dependency_within_its_requirement():
    """constraints.txt (used by `make install` and environment.yml) pins an exact version of every
    dependency installed here, and that version satisfies pyproject's requirement (torch's pin is the same)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for text in set(project["dependencies"]).union(*extras.values()):
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue  # e.g. tensorflow (not -cpu) off Linux
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt does not pin {req.name}: regenerate it (see its header)"
        assert req.specifier.contains(pins[name]), f"constraints.txt pins {req.name}=={pins[name]}, outside {req}"
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
    assert "- -c constraints.txt" in (ROOT / "environment.yml").read_text()


@pytest.mark.parametrize("command", [c for c in ["simulate", "validate", "train", "predict", "evaluate",
                                                  "figures", "reproduce", "bench", "baselines"]])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main([command, "--help"])
    assert exit.value.code == 0
    assert "--profile" in capsys.readouterr().out


def test_console_script_reports_bad_input_in_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "photoz_nb.cli", "validate", str(tmp_path / "nowhere")],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert "no data set directory" in run.stderr and "Traceback" not in run.stderr


def test_unknown_profile_is_named():
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        config.get_profile("huge")
    with pytest.raises(TypeError, match="got int"):
        config.get_profile(3)
    smoke = config.get_profile("smoke")
    assert config.get_profile(smoke) is smoke


@pytest.mark.parametrize("name", cli.NOTEBOOKS)
def test_notebooks_are_thin_parametrised_and_clean(name):
    book = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    code = [c for c in book["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell must be tagged 'parameters'"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit without outputs"
    assert any("assert " in "".join(c["source"]) for c in code), "each notebook checks its results"
    assert all(len("".join(c["source"]).splitlines()) <= 15 for c in code), "work belongs in photoz_nb"
