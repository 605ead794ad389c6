"""The one compiled part: `crawler/_blockwalk.pyx`, the block walk of article extraction.

Everything else is in pyproject.toml. The extension is optional: where it cannot be built (no C
compiler, no Python headers) the install goes on without it and `crawler.extract_blocks` walks the
tree in Python, with the same result, the walk at about twice its cost (`python -m bench crawl` says
which walk it used).
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing the install when the extension cannot be built."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler or setup failure: install without it
            self._skipped(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._skipped(exc)

    @staticmethod
    def _skipped(exc: Exception) -> None:
        sys.stderr.write(f"yuqing: the compiled block walk was not built ({exc}); extraction walks pages in Python\n")


def extensions() -> list[Extension]:
    try:
        import lxml
        from Cython.Build import cythonize
    except ImportError as exc:  # build requirements missing (a build without isolation)
        OptionalBuildExt._skipped(exc)
        return []
    walk = Extension("crawler._blockwalk", ["crawler/_blockwalk.pyx"], include_dirs=lxml.get_include())
    return list(cythonize([walk], language_level=3, quiet=True))


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
