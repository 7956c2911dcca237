"""Builds the vindex Python package: python/vindex plus the C extension
vindex._vindex, which compiles the library's C sources (src/) in directly, so
that the package needs no separately installed libvindex.

    make python                                   # in place, for PYTHONPATH=python
    python3 -m pip install --no-build-isolation . # into the current environment

Only the SIMD kernel files get instruction-set flags (the same per-file flags
as CMakeLists.txt); the CPU is detected at run time, never at build time.
"""
import os
import platform
import shlex
import subprocess
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from setuptools.dep_util import newer_group
except ImportError:  # older setuptools
    from distutils.dep_util import newer_group

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)  # sources are listed relative to the repository root

VERSION = "0.1.0"

# Per-file instruction-set flags, by the same rule as CMakeLists.txt: a kernel
# file says its instruction set in its name (src/simd/*_avx2.c, *_avx512.c).
ISA_SUFFIX_FLAGS = {
    "_avx2.c": ["-mavx2", "-mfma", "-mf16c"],
    "_avx512.c": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma", "-mavx2",
                  "-mf16c"],
}
ISA_FLAGS = {
    path: flags
    for suffix, flags in ISA_SUFFIX_FLAGS.items()
    for path in glob("src/simd/*" + suffix)
}
X86 = platform.machine().lower() in ("x86_64", "amd64")


def pkg_config(flag, package, fallback):
    """Flags from pkg-config, or `fallback` when it or the package is missing."""
    try:
        out = subprocess.run(["pkg-config", flag, package], check=True,
                             capture_output=True, text=True).stdout
        return shlex.split(out)
    except (OSError, subprocess.CalledProcessError):
        return fallback


def library_sources():
    sources = sorted(glob("src/**/*.c", recursive=True))
    if not X86:
        sources = [s for s in sources if s not in ISA_FLAGS]
    return sources


blas_cflags = pkg_config("--cflags", "openblas", [])
blas_libs = pkg_config("--libs", "openblas", ["-lopenblas"])

extension = Extension(
    "vindex._vindex",
    sources=["python/vindex/_vindex.c"] + library_sources(),
    include_dirs=["include"],
    depends=sorted(glob("include/*.h") + glob("src/**/*.h", recursive=True)),
    extra_compile_args=["-std=c11", "-O3", "-fvisibility=hidden", "-D_GNU_SOURCE",
                        "-Wno-unused-parameter"] + blas_cflags,
    extra_link_args=blas_libs + ["-lz", "-lpthread", "-lm"],  # zlib: crc32 (src/io)
)


class BuildExt(build_ext):
    """build_ext that compiles the SIMD kernel files with their own ISA flags."""

    def build_extension(self, ext):
        isa = [s for s in ext.sources if s in ISA_FLAGS]
        if not isa:
            return super().build_extension(ext)
        target = self.get_ext_fullpath(ext.name)
        stale = self.force or newer_group(ext.sources + list(ext.depends), target, "newer")
        objects = []
        for src in isa:
            if stale:
                objects += self.compiler.compile(
                    [src], output_dir=self.build_temp, include_dirs=ext.include_dirs,
                    macros=ext.define_macros, depends=ext.depends,
                    extra_postargs=ext.extra_compile_args + ISA_FLAGS[src])
            else:
                objects += self.compiler.object_filenames([src], output_dir=self.build_temp)
        saved = (ext.sources, ext.extra_objects)
        ext.sources = [s for s in ext.sources if s not in ISA_FLAGS]
        ext.extra_objects = list(ext.extra_objects or []) + objects
        try:
            if stale:
                self.force, force = True, self.force  # our sources list changed: relink
            super().build_extension(ext)
        finally:
            if stale:
                self.force = force
            ext.sources, ext.extra_objects = saved


setup(
    name="vindex",
    version=VERSION,
    description="Similarity search over dense float vectors (a Faiss-compatible API in C)",
    python_requires=">=3.10",
    install_requires=["numpy"],
    package_dir={"": "python"},
    packages=["vindex"],
    package_data={"vindex": ["*.pyi", "py.typed"]},
    exclude_package_data={"vindex": ["*.c"]},
    ext_modules=[extension],
    cmdclass={"build_ext": BuildExt},
    zip_safe=False,
)
