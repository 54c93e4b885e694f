"""Speech feature storage: bytes per second of audio, extraction time, and the metric cost of int8.

Two parts, both measured in this run:

1. The speech demo suite (`bench demo`'s speech half: synthetic corpus, fbank and a tiny
   random wav2vec2, five cards) run twice from an empty cache, with `--feature-storage fp16`
   and `int8`: every card's metrics side by side, the cache bytes per second of audio.
2. Per-utterance figures for a base-size (13 x 768) and a large-size (25 x 1024) random
   wav2vec2 on this machine: extraction seconds per second of audio and stored bytes per
   second of audio under fp16 and int8, then the projection for all of Kathbath
   (1,684 h) that `docs/speech.md` quotes. Random weights cost the same as trained ones.

3. `--indicsuperb`: every built-in IndicSUPERB card that reads the feature cache (ASR
   superb, ASV, SID, SID-multi, LID, KS, QbE) on the same synthetic corpus, under fp16 and
   int8 from empty caches: every metric of every split side by side, and the largest
   absolute difference. The rows are debug rows, equal in both passes but for the stored
   form, kept CPU-sized by stated settings: `--upstreams` (default: the demo's tiny
   wav2vec2 alone, 3 x 64; `fbank,tiny` adds fbank), `--max-steps` (SID, SID-multi, LID,
   KS), `--asv-steps` (ASV's 6.1 M-parameter head on 8 s crops is the slow one),
   `--asr-steps`, `--asr-languages` (default `hi`), `--asr-head-dim` (the BiLSTM-CTC head's
   width through `-o protocol.head_dim=`, default 64 instead of the recipe's 1024, whose
   2 x 1024 LSTM made one 3-step unit take 448 s here) and `--learning-rate`.

    .venv/bin/python perf/speech_storage.py [--seconds 8] [--skip-demo] [--skip-large]
    .venv/bin/python perf/speech_storage.py --indicsuperb --skip-demo --skip-upstreams   # CPU-sized defaults
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BENCH = str(Path(sys.executable).parent / "bench")
KATHBATH_HOURS = 1684
UPSTREAMS = {"base": (768, 12, 12, 512), "large": (1024, 24, 16, 512)}  # hidden, layers, heads, conv_dim (wav2vec2 sizes)


def audio_seconds(root: Path) -> float:
    import soundfile as sf

    return sum(sf.info(p).duration for p in root.rglob("*.wav"))


def demo_part(work: Path) -> dict:
    from polyglue.demo.speech import SUITE, speech_models, write_speech_demo

    cards, data = write_speech_demo(work)
    models = speech_models(work)
    seconds = audio_seconds(data)
    out = {"audio_s": round(seconds, 1)}
    for storage in ("fp16", "int8"):
        env = dict(os.environ, POLYGLUE_CACHE=str(work / f"cache-{storage}"), HF_HUB_OFFLINE="1")
        runs = work / f"runs-{storage}"
        args = ["run", "--suite", SUITE, "--cards", cards, "--data-dir", data, "--runs-dir", runs, "-q", "--feature-storage", storage]
        for model in models:
            args += ["--model", model]
        t0 = time.perf_counter()
        subprocess.run([BENCH, *map(str, args)], env=env, check=True)
        wall = time.perf_counter() - t0
        report = subprocess.run([BENCH, "report", "--suite", SUITE, "--cards", str(cards), "--runs-dir", str(runs), "--format", "json"],
                                env=env, check=True, capture_output=True, text=True)
        namespaces = {}
        for ns in (work / f"cache-{storage}" / "features").iterdir():
            meta = json.loads((ns / "meta.json").read_text())
            data_bytes = sum(p.stat().st_size for p in ns.glob("shard-*") if not p.name.endswith(".idx"))
            namespaces[str(meta["identity"].get("upstream", meta["identity"]))[:40]] = {"bytes": data_bytes, "bytes_per_audio_s": round(data_bytes / seconds)}
        out[storage] = {"wall_s": round(wall, 1), "report": json.loads(report.stdout), "namespaces": namespaces}
    return out


def rows_of(report: dict) -> dict:
    """(card, model) -> test metrics, from `bench report --format json`."""
    out = {}
    for row in report.get("rows", []):
        if row.get("reference"):
            continue
        out[(row.get("card"), row.get("model"))] = {k: v for k, v in (row.get("metrics") or {}).items() if "@" not in k}
    return out


def indicsuperb_part(work: Path, max_steps: int, asr_steps: int, learning_rate: float, threads: int, asr_languages: str, *,
                     asv_steps: int, asr_head_dim: int | None, upstreams: tuple[str, ...]) -> dict:
    """(card, model, split, metric) -> {storage: value} for the seven built-in IndicSUPERB cards on the demo corpus."""
    import sqlite3

    from polyglue.demo.speech import speech_models, write_speech_demo

    _, data = write_speech_demo(work)
    suite_dir = data / "indicsuperb"
    if not suite_dir.exists():
        suite_dir.symlink_to(data / "demo-speech", target_is_directory=True)
    fbank, tiny = speech_models(work)
    models = [m for name, m in (("fbank", fbank), ("tiny", tiny)) if name in upstreams]
    if not models:
        raise SystemExit(f"--upstreams: choose among fbank, tiny (got {','.join(upstreams)!r})")
    out: dict = {}
    walls: dict = {}
    for storage in ("fp16", "int8"):
        env = dict(os.environ, POLYGLUE_CACHE=str(work / f"cache-isb-{storage}"), HF_HUB_OFFLINE="1")
        runs = work / f"runs-isb-{storage}"
        common = ["run", "--suite", "indicsuperb", "--data-dir", data, "--runs-dir", runs, "-q", "--feature-storage", storage,
                  "--learning-rate", learning_rate, "--threads", threads]
        for model in models:
            common += ["--model", model]
        walls[storage] = {}

        def timed(name: str, args: list[str]) -> None:
            # A failed unit is reported as missing below rather than stopping the comparison.
            t0 = time.perf_counter()
            subprocess.run([BENCH, *map(str, common), *args], env=env)
            walls[storage][name] = round(time.perf_counter() - t0, 1)

        if asr_steps > 0:
            timed("asr", ["--tasks", "indicsuperb-asr", "--max-steps", str(asr_steps), *(("--languages", asr_languages) if asr_languages else ()),
                          *(("-o", f"protocol.head_dim={asr_head_dim}") if asr_head_dim else ())])
        # The demo corpus's utterances are short: ASV's 2 s minimum for training crops is lowered (both passes alike).
        if asv_steps > 0:
            timed("asv", ["--tasks", "indicsuperb-asv", "--max-steps", str(asv_steps), "-o", "protocol.min_train_seconds=0.5"])
        timed("others", ["--tasks", "indicsuperb-sid,indicsuperb-sid-multi,indicsuperb-lid,indicsuperb-ks,indicsuperb-qbe", "--max-steps", str(max_steps)])
        conn = sqlite3.connect(runs / "polyglue.sqlite")
        try:
            for card, encoder, metrics_json in conn.execute("SELECT card, encoder, metrics_json FROM units WHERE status = 'done'"):
                for split, values in (json.loads(metrics_json) or {}).items():
                    for metric, value in values.items():
                        if isinstance(value, (int, float)) and "@" not in metric:
                            out.setdefault((card, encoder, split, metric), {})[storage] = value
        finally:
            conn.close()
    return {"wall_s": walls, "metrics": out}


def upstream_part(work: Path, seconds: float, skip_large: bool) -> dict:
    import numpy as np

    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.speech.upstreams import build_upstream
    from polyglue.speech.tiny import build_tiny_wav2vec2

    out = {}
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)
    for name, (hidden, layers, heads, conv) in UPSTREAMS.items():
        if name == "large" and skip_large:
            continue
        folder = build_tiny_wav2vec2(work / f"w2v2-{name}", hidden_size=hidden, layers=layers, heads=heads, conv_dim=conv)
        upstream = build_upstream(parse_encoder(f"hf:{folder}"))
        upstream.forward([wav[:16000]])  # load and warm up
        t0 = time.perf_counter()
        feats = upstream.forward([wav])[0]
        extract = time.perf_counter() - t0
        frames, n_layers, n_hidden = feats.shape
        figures = {"layers": n_layers, "hidden": n_hidden, "frames_per_s": round(frames / seconds, 2), "cpu_extract_s_per_audio_s": round(extract / seconds, 3)}
        cache = FeatureCache(work / f"cache-{name}")
        for codec, label in (("f16", "fp16"), ("q8", "int8")):
            ns = cache.namespace({"perf": name}, n_layers * n_hidden, codec=codec)
            t0 = time.perf_counter()
            with ns.writer() as writer:
                writer.add("utt", feats.reshape(frames, -1))
            write_s = time.perf_counter() - t0
            data = sum(p.stat().st_size for p in ns.root.glob("shard-*") if not p.name.endswith(".idx"))
            t0 = time.perf_counter()
            back = FeatureCache(work / f"cache-{name}").namespace({"perf": name}, n_layers * n_hidden, codec=codec).read("utt")
            read_s = time.perf_counter() - t0
            ref = feats.reshape(frames, -1)
            rel = float(np.abs(back.astype(np.float32) - ref).max() / np.abs(ref).max())
            bps = data / seconds
            figures[label] = {
                "bytes_per_audio_s": round(bps), "write_s_per_audio_s": round(write_s / seconds, 4), "read_s_per_audio_s": round(read_s / seconds, 4),
                "max_abs_error_over_max_abs": rel,
                "kathbath_TB": round(bps * KATHBATH_HOURS * 3600 / 1e12, 2),
            }
        figures["kathbath_cpu_extract_h"] = round(figures["cpu_extract_s_per_audio_s"] * KATHBATH_HOURS, 0)
        out[name] = figures
        del upstream
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per upstream measurement")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-upstreams", action="store_true", help="skip the base/large per-utterance figures")
    parser.add_argument("--indicsuperb", action="store_true", help="also the seven built-in IndicSUPERB cards, fp16 vs int8")
    parser.add_argument("--max-steps", type=int, default=150, help="--indicsuperb: steps per SID, SID-multi, LID and KS unit")
    parser.add_argument("--asv-steps", type=int, default=20, help="--indicsuperb: steps of the ASV unit (0: skip ASV)")
    parser.add_argument("--asr-head-dim", type=int, default=64, help="--indicsuperb: BiLSTM-CTC head width (0: the recipe's 1024)")
    parser.add_argument("--upstreams", default="tiny", help="--indicsuperb: comma-separated, among fbank and tiny (the demo's wav2vec2)")
    parser.add_argument("--asr-steps", type=int, default=30, help="--indicsuperb: steps of the BiLSTM-CTC ASR head (0: skip ASR)")
    parser.add_argument("--asr-languages", default="hi", help="--indicsuperb: languages of the ASR card ('' for all three; its 2 x 1024 BiLSTM is most of the CPU time)")
    parser.add_argument("--learning-rate", type=float, default=1e-2, help="--indicsuperb: the demo's rate (the cards' 1e-4 barely moves in 150 steps)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-storage-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.skip_demo:
        demo = demo_part(work)
        print(f"demo corpus: {demo['audio_s']} s of audio")
        for storage in ("fp16", "int8"):
            print(f"  {storage}: wall {demo[storage]['wall_s']} s; cache data per namespace: {demo[storage]['namespaces']}")
        a, b = rows_of(demo["fp16"]["report"]), rows_of(demo["int8"]["report"])
        print(f"  {'card':<24} {'model':<16} {'metric':<10} {'fp16':>9} {'int8':>9} {'diff':>9}")
        for key in sorted(a, key=str):
            for metric, value in sorted(a[key].items()):
                other = b.get(key, {}).get(metric)
                if isinstance(value, (int, float)) and isinstance(other, (int, float)):
                    print(f"  {key[0]:<24} {key[1]:<16} {metric:<10} {value:>9.4f} {other:>9.4f} {other - value:>+9.4f}")
    if args.indicsuperb:
        isb = indicsuperb_part(work, args.max_steps, args.asr_steps, args.learning_rate, args.threads, args.asr_languages,
                               asv_steps=args.asv_steps, asr_head_dim=args.asr_head_dim or None, upstreams=tuple(args.upstreams.split(",")))
        print(f"settings: upstreams {args.upstreams}; SID/SID-multi/LID/KS {args.max_steps} steps, ASV {args.asv_steps}, "
              f"ASR {args.asr_steps} steps on {args.asr_languages or 'all languages'} with head width {args.asr_head_dim or 1024}; "
              f"learning rate {args.learning_rate}; {args.threads} threads; load average {os.getloadavg()[0]:.1f}")
        print(f"IndicSUPERB cards on the demo corpus: wall {isb['wall_s']} s")
        print(f"  {'card':<24} {'model':<14} {'split':<12} {'metric':<9} {'fp16':>9} {'int8':>9} {'diff':>9}")
        worst = 0.0
        for (card, model, split, metric), values in sorted(isb["metrics"].items()):
            a, b = values.get("fp16"), values.get("int8")
            if a is None or b is None:
                print(f"  {card:<24} {model:<14} {split:<12} {metric:<9} missing in one pass: {values}")
                continue
            worst = max(worst, abs(b - a))
            print(f"  {card:<24} {model:<14} {split:<12} {metric:<9} {a:>9.4f} {b:>9.4f} {b - a:>+9.4f}")
        print(f"  largest |int8 - fp16|: {worst:.4f}")
    if not args.skip_upstreams:
        figures = upstream_part(work, args.seconds, args.skip_large)
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
