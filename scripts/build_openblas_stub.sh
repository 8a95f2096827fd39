#!/usr/bin/env bash
# Rebuild the synthetic export's OpenBLAS stand-in (samples/native/libopenblas.so.0) from its C
# source: a real ELF shared library whose soname is libopenblas.so.0.
set -euo pipefail
cd "$(dirname "$0")/../src/h2o_dai_py_scoring_mlflow/samples/native"
gcc -shared -fPIC -O2 -Wl,-soname,libopenblas.so.0 -Wl,--build-id=none -o libopenblas.so.0 openblas_stub.c
strip --strip-unneeded libopenblas.so.0
