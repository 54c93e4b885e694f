"""Throughput of the real `bench run` paths on one device: text fine-tune, text probe, speech SID.

Random-weight models of a chosen size go through exactly the code users run (`hf:<folder>`),
on synthetic data, with an empty feature cache. Figures come from the timings each unit
stores (`extras.timings`), so process start-up and imports are not counted.

    .venv/bin/python perf/device_throughput.py --device cuda --size base   # on a GPU machine (perf/gpu_check.sh)
    .venv/bin/python perf/device_throughput.py --device cpu --size small   # anywhere
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENTRY = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"

SIZES = {
    # text: BERT hidden/layers/heads; speech: wav2vec2 hidden/layers/heads/conv channels
    "small": {"text": (128, 2, 2), "speech": (64, 2, 2, 64), "train": 2000, "utterances": 12},
    "base": {"text": (768, 12, 12), "speech": (768, 12, 12, 512), "train": 8000, "utterances": 40},
}


def bench(args: list, env: dict) -> dict:
    """Run `bench ...`; return the extras of the single unit it stored."""
    runs = Path(args[args.index("--runs-dir") + 1])
    proc = subprocess.run([sys.executable, "-c", ENTRY, *map(str, args)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench {' '.join(map(str, args[:3]))} failed:\n{proc.stderr[-2000:]}")
    conn = sqlite3.connect(runs / "polyglue.sqlite")
    try:
        return json.loads(conn.execute("SELECT extras_json FROM units ORDER BY finished_at DESC LIMIT 1").fetchone()[0])
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    args = parser.parse_args()
    size = SIZES[args.size]
    work = Path(tempfile.mkdtemp(prefix="polyglue-device-"))
    env = dict(os.environ, POLYGLUE_CACHE=str(work / "cache"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    try:
        from polyglue.demo.generate import corpus, write_demo_suite
        from polyglue.demo.speech_corpus import CorpusSize, write_kathbath_corpus
        from polyglue.langkits.encoders.tiny import build_tiny_bert
        from polyglue.speech.tiny import build_tiny_wav2vec2

        start = time.perf_counter()
        cards = write_demo_suite(work / "text", sizes={"train": size["train"], "validation": 500, "test": 500})
        hidden, layers, heads = size["text"]
        bert = build_tiny_bert(work / "bert", corpus(work / "text"), vocab_size=8000, hidden_size=hidden, layers=layers, heads=heads)
        s_hidden, s_layers, s_heads, conv = size["speech"]
        w2v = build_tiny_wav2vec2(work / "w2v", hidden_size=s_hidden, layers=s_layers, heads=s_heads, conv_dim=conv)
        per_speaker = size["utterances"]
        write_kathbath_corpus(work / "data" / "indicsuperb", ("hindi",), size=CorpusSize(train_speakers=4, train_per_speaker=per_speaker), tasks=("utterances",))
        print(f"device {args.device}, size {args.size}: text BERT {hidden}x{layers}, wav2vec2 {s_hidden}x{s_layers}; setup {time.perf_counter() - start:.0f}s")

        common = ["--device", args.device, "--quiet"]
        text = ["run", "--suite", "demo", "--cards", cards, "--tasks", "demo-cat-sentiment", "--model", f"m=hf:{bert}"]
        ft = bench([*text, "--protocol", "finetune", "--runs-dir", work / "r-ft", *common], env)
        n, epochs, t = ft["n_examples"]["train"], ft["training"]["epochs"], ft["timings"]["train_s"]
        steps = ft["training"]["steps"]
        print(f"text fine-tune   {epochs * n / t:>9.0f} train examples/s   ({steps} steps of {ft['training']['batch_size']}, {t:.1f}s, real tokens {ft['training']['real_token_fraction']:.2f})")
        probe = bench([*text, "--protocol", "probe", "--runs-dir", work / "r-probe", *common], env)
        encoded = sum(probe["n_examples"].values())
        print(f"text probe       {encoded / probe['timings']['encode_s']:>9.0f} examples/s encoded   ({encoded} texts, {probe['timings']['encode_s']:.1f}s)")
        sid = bench(["run", "--suite", "indicsuperb", "--tasks", "indicsuperb-sid", "--model", f"w=hf:{w2v}", "--data-dir", work / "data",
                     "--languages", "hi", "--max-steps", "200", "--runs-dir", work / "r-sid", *common], env)
        feats, t = sid["features"], sid["timings"]
        print(f"speech features  {feats['computed'] / t['extract_s']:>9.1f} utterances/s   ({feats['computed']} utterances, all layers, {t['extract_s']:.1f}s incl. model load)")
        print(f"speech SID head  {200 / t['train_s']:>9.1f} steps/s on cached features ({t['train_s']:.1f}s for 200 steps)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
