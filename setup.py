"""The extension for `pip install .`: built by the project's CMake build
(scripts/lib.sh `prepare`, the same as scripts/run's), then copied into the
wheel beside the Python sources. Metadata is in pyproject.toml."""

import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    """Runs the CMake build instead of compiling sources itself."""

    def run(self) -> None:
        subprocess.run(["bash", "-c", 'source scripts/lib.sh && prepare >&2'], cwd=ROOT, check=True)
        built = next((ROOT / "build" / "release" / "python" / "lwm2m_hil").glob("_core*.so"))
        for ext in self.extensions:
            dest = Path(self.get_ext_fullpath(ext.name))
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, dest)


setup(ext_modules=[Extension("lwm2m_hil._core", sources=[])], cmdclass={"build_ext": CMakeBuild})
