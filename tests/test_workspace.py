"""The workspace shape the design fixes: seven members, one namespace, core underneath."""

import tomllib
import zipfile
from email.parser import Parser


def test_no_package_ships_the_namespace_init(root, members):
    assert not list(root.glob("packages/*/src/genlab/__init__.py"))
    for name, module in members.items():
        assert (root / "packages" / name / "src" / "genlab" / module / "__init__.py").is_file()


def test_domain_packages_depend_on_core_with_a_range_and_not_on_each_other(root, members):
    for name in members:
        project = tomllib.loads((root / "packages" / name / "pyproject.toml").read_text())["project"]
        assert project["name"] == f"genlab-{name}"
        genlab_deps = [d for d in project["dependencies"] if d.startswith("genlab-")]
        if name == "core":
            assert genlab_deps == []
        else:
            assert genlab_deps == ["genlab-core>=0.1,<0.2"]


def test_every_member_imports(members):
    import importlib

    for module in members.values():
        importlib.import_module(f"genlab.{module}")


def test_built_wheels_metadata_and_files(wheels, members):
    for name, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as zf:
            files = zf.namelist()
            meta_name = next(f for f in files if f.endswith(".dist-info/METADATA"))
            meta = Parser().parsestr(zf.read(meta_name).decode())
            entry_points = next((zf.read(f).decode() for f in files if f.endswith("entry_points.txt")), "")
        assert "genlab/__init__.py" not in files, f"{name} ships the namespace __init__"
        assert f"genlab/{members[name]}/__init__.py" in files
        assert not any("/tests/" in f for f in files)
        requires = meta.get_all("Requires-Dist") or []
        genlab_requires = [r for r in requires if r.startswith("genlab-")]
        if name == "core":
            assert genlab_requires == []
            assert "genlab/core/metrics/digits_classifier.safetensors" in files
            assert "genlab = genlab.core.cli:main" in entry_points and "[genlab.recipes]" in entry_points
        else:
            assert genlab_requires == ["genlab-core<0.2,>=0.1"], genlab_requires


def test_torch_and_torchvision_are_a_matching_pair():
    import torch
    import torchvision
    from torchvision.ops import nms

    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.01]])
    assert nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0]  # a compiled torchvision op runs
    assert torchvision.__version__.split("+")[0]
