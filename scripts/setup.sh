#!/usr/bin/env bash
# One place that builds the environment: .venv with polyglue installed against
# constraints.txt, and torchaudio made importable on CPU torch.
# Usage: scripts/setup.sh [EXTRAS]   (EXTRAS e.g. "dev"; empty for the runtime only)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
stamp=".venv/.installed-${extras:-core}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "setup: installing polyglue${extras:+[$extras]} into .venv (constraints.txt pins torch==2.13.0, CPU)"
  # (this machine's pip.conf lists a second local index that pip warns about once per package: hide that noise)
  .venv/bin/pip install --disable-pip-version-check --no-compile -q -c constraints.txt -e "$spec" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  # PyPI's torchaudio 2.11.0 is a CUDA build whose C++ extension cannot load on CPU torch, and
  # transformers imports torchaudio whenever it is installed: drop the extension, keep the
  # pure-Python parts (kaldi fbank, resample, MelSpectrogram).
  .venv/bin/python - <<'PY'
import importlib.util, pathlib, shutil
spec = importlib.util.find_spec("torchaudio")
if spec and spec.submodule_search_locations:
    shutil.rmtree(pathlib.Path(spec.submodule_search_locations[0]) / "lib", ignore_errors=True)
PY
  touch "$stamp"
fi
