"""Users pip-install one domain package: core comes as an ordinary dependency, only the installed
packages' recipes are listed, and the package's smoke recipe runs."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_pip_install_core_and_one_domain_package_into_a_fresh_venv(wheels, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, str(wheels["core"]), str(wheels["theory"])], check=True, timeout=3000)
    listing = subprocess.run(
        [str(venv / "bin" / "genlab"), "list"], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout
    packages = {line.split()[1] for line in listing.splitlines() if line.strip()}
    assert "flow-2d" in listing
    assert packages <= {"genlab-core", "genlab-theory"}, listing
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list"], capture_output=True, text=True
    ).stdout
    assert "genlab-vision" not in shown and "genlab-core" in shown
    assert not list(venv.glob("lib/python*/site-packages/genlab/__init__.py"))
    assert list(venv.glob("lib/python*/site-packages/genlab/theory/__init__.py"))
    trained = subprocess.run(  # the package's own smoke recipe runs from the installed wheels alone
        [
            str(venv / "bin" / "genlab"),
            "train",
            "theory-bsm",
            "--preset",
            "smoke",
            "--out",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1800,
    )
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "runs" / "theory-bsm" / "latest" / "claims.json").is_file()
