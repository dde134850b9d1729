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
    lines = env_yml.split("- pip:", 1)[1].splitlines()
    return {line.strip()[2:] for line in lines if line.strip().startswith("- ") and "-e ." not in line}


def test_environment_yml_lists_the_same_dependencies():
    """environment.yml installs what `make install` does: every extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = set(project["dependencies"]).union(*extras.values())
    env = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in env
    assert pip_section(env) == wanted


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
