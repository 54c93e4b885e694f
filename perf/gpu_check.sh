#!/usr/bin/env bash
# Text and speech throughput on a CUDA machine, in under 10 minutes:
#   perf/gpu_check.sh            (GPU_CHECK_FULL=0 skips the full-size part)
# It runs perf/device_throughput.py (real `bench run` paths: text fine-tune, text probe,
# speech feature extraction and SID head) with base-size random models on `cuda`, then the
# small size on `cuda` and on `cpu` of the same machine for a same-run comparison; then
# one full-size card (GLUE SST-2 at its real 67,349 / 872 / 1,821 rows, synthetic) with
# `bow` and with the probe of a random base-size BERT (768 x 12) on `cuda`, through
# perf/full_size_runs.py (wall time, peak RSS, load / encode / fit split).
# GPU_CHECK_STORAGE=1 adds perf/speech_storage.py --indicsuperb (the seven IndicSUPERB
# cards on the synthetic corpus, fp16 vs int8 feature storage; up to 6 more minutes).
#
# Python: `.venv/bin/python` when `make setup` could run there; otherwise the machine's
# `python3` (which must hold torch with CUDA) plus polyglue's pure-Python needs installed
# from a wheel folder, for machines without registry access (make it where pip works
# with perf/gpu_wheels.sh, bring it along, and pass it):  PIP_WHEELS=.whl perf/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
if [ -x .venv/bin/python ]; then
  py=.venv/bin/python
else
  py=python3
  if [ -n "${PIP_WHEELS:-}" ]; then
    $py -m pip install -q --no-index --no-deps --no-compile --target /tmp/polyglue-site "$PIP_WHEELS"/*.whl
    export PYTHONPATH="/tmp/polyglue-site${PYTHONPATH:+:$PYTHONPATH}"
  fi
  export PYTHONPATH="$PWD:${PYTHONPATH:-}"
fi
$py - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_check: torch {torch.__version__} sees no CUDA device")
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, python {sys.version.split()[0]}")
PY
start=$(date +%s)
timeout 200 $py perf/device_throughput.py --device cuda --size base
timeout 50 $py perf/device_throughput.py --device cuda --size small
timeout 50 $py perf/device_throughput.py --device cpu --size small
if [ "${GPU_CHECK_FULL:-1}" != 0 ]; then
  timeout 150 $py perf/full_size_runs.py --suite glue --cards sst2
  timeout 240 $py perf/full_size_runs.py --suite glue --cards sst2 --random-bert 768x12 --device cuda
fi
if [ "${GPU_CHECK_STORAGE:-0}" != 0 ]; then
  timeout 360 $py perf/speech_storage.py --indicsuperb --skip-demo --skip-upstreams --asr-steps 20 --asr-languages "" \
    || echo "gpu_check: the fp16/int8 storage comparison did not finish"
fi
echo "gpu_check: done in $(( $(date +%s) - start ))s"
