#!/usr/bin/env bash
# Text and speech throughput on a CUDA machine, in under 10 minutes:
#   perf/gpu_check.sh            (GPU_CHECK_FULL=0 skips the full-size part)
# It runs perf/device_throughput.py (real `bench run` paths: text fine-tune, text probe,
# speech feature extraction and SID head) with base-size random models on `cuda`, then the
# small size on `cuda` and on `cpu` of the same machine for a same-run comparison; then
# CTC fine-tuning of a random wav2vec2 with base dimensions (12 x 768) on `cuda`: the ASR
# card's `--protocol finetune` training loop (speech/ctc_finetune.py, audio read from disk
# per batch as the runner does) against a bare Wav2Vec2ForCTC loop, through
# perf/ctc_finetune_throughput.py (utterances per second, 8 steps of batch 8); then
# one full-size card (GLUE SST-2 at its real 67,349 / 872 / 1,821 rows, synthetic) with
# `bow` and with the probe of a random base-size BERT (768 x 12) on `cuda`, through
# perf/full_size_runs.py (wall time, peak RSS, load / tokenise / features / fit split).
# GPU_CHECK_STORAGE=1 adds perf/speech_storage.py --indicsuperb (the seven IndicSUPERB
# cards on the synthetic corpus, fp16 vs int8 feature storage, the cards' own head sizes;
# up to 6 more minutes).
#
# GPU_CHECK_DRY=1 checks the script itself on a machine without a GPU: the CTC and full-size
# steps run on `cpu` at tiny sizes (a 2 x 32 wav2vec2 for 2 CTC steps, SST-2 at 2% of its
# rows, a 64 x 2 BERT probe); device_throughput.py is left out (it runs on cpu by itself:
# `perf/device_throughput.py --device cpu --size small`, several minutes on 2 busy cores);
# the figures it prints mean nothing.
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
if [ "${GPU_CHECK_DRY:-0}" != 0 ]; then
  dev=cpu big=small ctc=(--size tiny --steps 2 --rounds 1 --batch-size 4) scale=(--scale 0.02) bert=64x2
  echo "gpu_check: dry run on cpu at tiny sizes (GPU_CHECK_DRY=1): checks the script, not the figures"
else
  dev=cuda big=base ctc=(--size base --steps 8 --rounds 2) scale=() bert=768x12
  $py - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_check: torch {torch.__version__} sees no CUDA device (GPU_CHECK_DRY=1 checks the script on cpu)")
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, python {sys.version.split()[0]}")
PY
fi
start=$(date +%s)
if [ "${GPU_CHECK_DRY:-0}" = 0 ]; then
  timeout 200 $py perf/device_throughput.py --device $dev --size $big
  timeout 50 $py perf/device_throughput.py --device $dev --size small
  timeout 50 $py perf/device_throughput.py --device cpu --size small
fi
timeout 150 $py perf/ctc_finetune_throughput.py --device $dev "${ctc[@]}" \
  || echo "gpu_check: the CTC fine-tuning throughput did not finish"
if [ "${GPU_CHECK_FULL:-1}" != 0 ]; then
  timeout 150 $py perf/full_size_runs.py --suite glue --cards sst2 ${scale[@]+"${scale[@]}"}
  timeout 240 $py perf/full_size_runs.py --suite glue --cards sst2 --random-bert $bert --device $dev ${scale[@]+"${scale[@]}"}
fi
if [ "${GPU_CHECK_STORAGE:-0}" != 0 ]; then
  timeout 360 $py perf/speech_storage.py --indicsuperb --skip-demo --skip-upstreams --upstreams fbank,tiny --asr-head-dim 0 \
    --asv-steps 150 --asr-steps 20 --asr-languages "" \
    || echo "gpu_check: the fp16/int8 storage comparison did not finish"
fi
echo "gpu_check: done in $(( $(date +%s) - start ))s"
