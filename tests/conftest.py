import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = {
    "core": "core",
    "vision": "vision",
    "video": "video",
    "3d": "threed",
    "molecules": "molecules",
    "robotics": "robotics",
    "theory": "theory",
}


@pytest.fixture(scope="session")
def members() -> dict[str, str]:
    """Distribution suffix -> import name of every workspace member."""
    return MEMBERS


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """Every member built alone into a wheel, as `uv build --package` does for a release."""
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH")
    out = tmp_path_factory.mktemp("wheels")
    built = {}
    for name in MEMBERS:
        subprocess.run(
            ["uv", "build", "--package", f"genlab-{name}", "--wheel", "--out-dir", str(out / name)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=600,
        )
        built[name] = next((out / name).glob("*.whl"))
    return built
