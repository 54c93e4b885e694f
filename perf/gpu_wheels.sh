#!/usr/bin/env bash
# Download, where pip works, the wheels perf/gpu_check.sh needs on a GPU machine whose
# python3 already holds torch, transformers, numpy, scipy, scikit-learn, pyarrow, typer
# and rich but cannot reach a registry: polyglue's other pure-Python needs.
#   perf/gpu_wheels.sh [DIR=.whl] [PYTHON_VERSION=3.12]
set -euo pipefail
dir="${1:-.whl}"; pyver="${2:-3.12}"
mkdir -p "$dir"
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_27_x86_64)
while read -r req; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp "${platforms[@]}" -d "$dir" "$req"
done <<'REQS'
pydantic==2.14.4
pydantic_core==2.50.5
annotated-types==0.8.0
typing-inspection==0.4.5
pycountry==26.2.16
soundfile==0.14.0
cffi==2.1.1
pycparser==3.12
jiwer==4.0.0
RapidFuzz==3.14.6
REQS
# seqeval ships only as an sdist: build its wheel locally (pure Python).
python3 -m pip wheel -q --no-deps -w "$dir" seqeval==1.2.2
ls "$dir"
