"""What a new user meets first: a light start-up, help that lists every field, and results never overwritten."""

import hashlib
import json
import subprocess
import sys

import pytest

from genlab.core import catalog
from genlab.core.cli import main
from genlab.core.recipe import discover, get_recipe
from genlab.core.run import LATEST

HEAVY = ("torch", "torchvision", "rdkit", "torch_geometric", "e3nn", "mujoco", "nerfstudio", "gymnasium")


def imported_by(code: str) -> set[str]:
    """Top-level modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split()[-1000:])


def test_list_and_a_typo_import_no_heavy_package():
    modules = imported_by("from genlab.core.cli import main\nmain(['list'])\nmain(['train', 'flwo-2d'])")
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_training_a_core_recipe_imports_no_other_package_stack():
    modules = imported_by(
        "from genlab.core.recipe import get_recipe\nfrom genlab.core import run\nget_recipe('flow-2d')"
    )
    assert "torch" in modules
    assert not modules & {"rdkit", "torch_geometric", "e3nn", "mujoco", "nerfstudio", "gymnasium"}


def test_the_catalogue_agrees_with_the_imported_recipes():
    entries, recipes = catalog.installed(), discover()
    assert list(entries) == list(recipes)
    for name, recipe in recipes.items():
        assert entries[name].description == recipe.description != ""
        assert entries[name].package == recipe.package


def test_train_help_lists_every_field_with_default_meaning_and_presets(capsys):
    assert main(["train", "flow-2d", "--help"]) == 0
    out = capsys.readouterr().out
    recipe = get_recipe("flow-2d")
    fields = vars(recipe.make_config("default"))
    for name, value in fields.items():
        assert f"  --{name} " in out and f"default {value}" in out, name
    assert "--method {euler,midpoint,heun,rk4,dopri5}  default heun" in out
    assert "presets: smoke 60; paper 20000" in out  # steps
    assert "held-out points for the ODE likelihood" in out  # a field's own comment
    assert "global: split evenly over ranks" in out  # a shared field's comment


def test_train_without_a_recipe_explains_itself(capsys):
    assert main(["train"]) == 0
    assert "genlab train RECIPE --help" in capsys.readouterr().out


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "flow-2d", "--preset", "smoke", "--out", str(out), "--n_nll", "0"]) == 0
    return out


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_latest_names_the_newest_run(smoke_run):
    link = smoke_run / "flow-2d" / LATEST
    assert link.is_symlink() and (link / "config.json").is_file()
    assert not link.readlink().is_absolute()  # the folder can be moved as a whole


def test_sample_never_overwrites_and_says_what_it_wrote(smoke_run, capsys):
    run_dir = (smoke_run / "flow-2d" / LATEST).resolve()
    before = md5(run_dir / "samples.png")
    capsys.readouterr()
    assert main(["sample", str(smoke_run / "flow-2d"), "--n", "300", "--seed", "3", "--raw"]) == 0
    out = capsys.readouterr().out
    assert main(["sample", str(run_dir), "--n", "300", "--seed", "3", "--sample_steps", "4"]) == 0
    out2 = capsys.readouterr().out
    assert md5(run_dir / "samples.png") == before
    written = sorted((run_dir / "sampled").iterdir())
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 2 and all(str(p) in out + out2 for p in written)
    from safetensors.torch import load_file

    raw = load_file(next(p for p in written if p.suffix == ".safetensors"))["samples"]
    assert raw.shape == (300, 2)
    target = run_dir / "mine.png"
    assert main(["sample", str(run_dir), "--n", "10", "--out", str(target)]) == 0
    code = main(["sample", str(run_dir), "--n", "10", "--out", str(target)])
    assert code == 2 and "never overwrites" in capsys.readouterr().err


def test_sample_refuses_a_non_positive_count(smoke_run, capsys):
    with pytest.raises(SystemExit):
        main(["sample", str(smoke_run / "flow-2d"), "--n", "0"])
    assert "must be a positive whole number" in capsys.readouterr().err


def test_a_recipe_folder_without_latest_names_its_runs(smoke_run, tmp_path, capsys):
    folder = tmp_path / "flow-2d"
    folder.mkdir()
    (folder / "20260101-000000").mkdir()
    (folder / "20260101-000000" / "config.json").write_text(json.dumps({"recipe": "flow-2d"}))
    assert main(["eval", str(folder)]) == 2
    assert "holds the runs 20260101-000000" in capsys.readouterr().err


def test_an_experiment_says_where_its_results_are(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "theory-bsm", "config": {}}))
    (tmp_path / "claims.json").write_text("{}")
    assert main(["sample", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "theory-bsm experiment" in err and "claims.json" in err


def test_an_evaluation_elsewhere_links_only_figures_it_has(smoke_run, tmp_path):
    assert main(["eval", str(smoke_run / "flow-2d"), "--out", str(tmp_path / "e")]) == 0
    report = (tmp_path / "e" / "report.md").read_text()
    assert not (tmp_path / "e" / "loss.png").exists() and "loss.png" not in report
    assert "loss.png" in ((smoke_run / "flow-2d" / LATEST) / "report.md").read_text()


def test_every_field_of_every_recipe_says_what_it_means():
    """``genlab train RECIPE --help`` prints a meaning under every field: none may be blank (issue 41)."""
    import dataclasses

    from genlab.core.recipe import field_docs

    blank = []
    for name in catalog.installed():
        config = get_recipe(name).config
        docs = field_docs(config)
        blank += [f"{name}: {f.name}" for f in dataclasses.fields(config) if not docs.get(f.name, "").strip()]
    assert not blank, "fields without a meaning:\n" + "\n".join(blank)
