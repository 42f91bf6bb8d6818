"""Build hooks for the libmrt wheel; the metadata is in pyproject.toml.

Why setuptools-rust rather than maturin: the package is pure Python (ctypes) around a
plain C-ABI shared library. setuptools-rust's NoBinding mode builds exactly that, a
cdylib with no Python API in it, and drops it into the package next to the Python
sources that setuptools already manages. maturin expects the crate to be the Python
module (pyo3), a cffi module (which would add a cffi dependency and a generated
wrapper to a package that needs neither) or a binary.

Two adjustments, because libmrt.so does not link against Python at all:
- the library keeps its own name, ``mrt/libmrt.so`` (the first place ``mrt._ffi``
  looks), instead of an extension module's ``libmrt.cpython-311-x86_64-linux-gnu.so``;
- the wheel is tagged ``py3-none-<platform>``: it holds x86-64 machine code (so not
  ``any``) but runs on every Python 3 (so not ``cp311-cp311``).
"""

import os

from setuptools import setup
from setuptools_rust.build import build_rust as _build_rust

try:
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel


class build_rust(_build_rust):
    def get_dylib_ext_path(self, ext, target_fname):
        path = super().get_dylib_ext_path(ext, target_fname)
        return os.path.join(os.path.dirname(path), "libmrt.so")


class bdist_wheel(_bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_rust": build_rust, "bdist_wheel": bdist_wheel})
