"""LoRA vs full fine-tuning on this CPU, and what measuring efficiency figures adds to a unit.

The benchmark model is BERT-base's width (hidden 768, 12 heads, feed-forward 3072: the
encoder of the LoRA paper's GLUE base rows, RoBERTa-base) cut to 4 layers and a 2,000-token
vocabulary so a run fits a 2-core CPU. The ratio is set per layer (LoRA saves the weight
gradients and optimiser updates of every frozen matrix; both still backpropagate through
every layer), so depth changes it little; the small vocabulary makes it conservative
(full fine-tuning would also update a 50k-row embedding). Narrower models are cheaper to
run but their steps are dominated by per-op overheads that LoRA cannot remove.

Same random BERT, generated data (log-normal sentence lengths), card recipe and seed; one
`finetune` unit and one `lora` unit (rank 8 on query and value, head trained in full) run
through the real runner (`polyglue.runs.execute`). Reported, as medians over repeats:

* training examples per second of each (`train examples × epochs / extras.timings.train_s`,
  the training loop only) and their ratio (target: LoRA ≥ 1.3× full fine-tuning);
* trainable parameters of each;
* the share of the unit's time spent measuring efficiency figures
  (`timings.efficiency_s / timings.total_s`, target ≤ 5%).

Besides whole units (alternated, so drift on a shared machine hits both), `--steps N` times N
interleaved training steps of the two wrapped models on the same batch (forward, backward,
clipping, AdamW over the trainable parameters, as `polyglue.langkits.training`), which a
busy machine disturbs much less than minutes-long units.

    .venv/bin/python -m perf.lora_vs_finetune [--train 480] [--hidden 768] [--layers 4] [--repeats 2] [--steps 8] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from perf.text_common import sentences, small_bert, write_json
from perf.text_finetune_vs_trainer import CARD, SUITE, write_suite


def run_unit(cards: Path, data: Path, model: Path, protocol: str):
    from polyglue.cards.registry import Registry
    from polyglue.runs.execute import execute
    from polyglue.runs.plan import RunRequest, plan_run

    request = RunRequest(suite=SUITE, models=[f"hf:{model}"], protocol=protocol, data_dir=data, device="cpu",
                         overrides={"lora": {"r": 8, "target_modules": ["query", "value"]}} if protocol == "lora" else {})
    [task] = plan_run(Registry.discover([cards]), request).tasks
    return execute(task)


def interleaved_steps(model_dir: Path, texts: list[str], args) -> dict:
    """Median seconds per training step of each model, the two stepped alternately on one batch."""
    import torch
    import transformers

    from polyglue.cards.schema import LoraSettings
    from polyglue.langkits.training import _param_groups
    from polyglue.peft_adapters import PeftAdapter

    tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    batch = tok(texts[: args.batch_size], padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
    labels = torch.arange(args.batch_size) % 2
    models = {}
    for protocol in ("finetune", "lora"):
        torch.manual_seed(0)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=2)
        if protocol == "lora":
            model = PeftAdapter("lora", LoraSettings(r=8, target_modules=["query", "value"]), card_name="perf", encoder_label="perf").wrap(model)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        models[protocol] = (model, torch.optim.AdamW(_param_groups(model, 0.0), lr=1e-4), params)
    times: dict[str, list[float]] = {p: [] for p in models}
    for step in range(args.steps + 1):  # the first step of each warms up and is not timed
        for protocol, (model, optimizer, params) in models.items():
            t0 = time.perf_counter()
            model(**batch, labels=labels).loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step:
                times[protocol].append(time.perf_counter() - t0)
    med = {p: statistics.median(v) for p, v in times.items()}
    return {"median_s": {p: round(v, 4) for p, v in med.items()}, "lora_over_finetune": round(med["finetune"] / med["lora"], 3),
            "steps": args.steps, "batch": list(batch["input_ids"].shape)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=480)
    parser.add_argument("--validation", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--ffn", type=int, default=4, help="feed-forward width as a multiple of hidden (BERT: 4)")
    parser.add_argument("--steps", type=int, default=8, help="interleaved training steps timed per model (0: skip)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps a shared CPU from dominating the ratio)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from polyglue.torch_compat import prepare

    prepare()
    import torch

    torch.set_num_threads(args.threads)
    texts, labels = sentences(args.train + args.validation, seed=2)
    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-lora-"))
    model_dir = small_bert(work / "model", texts, hidden=args.hidden, layers=args.layers, heads=max(1, args.hidden // 64),
                           intermediate=args.ffn * args.hidden)
    cards, data = write_suite(work, args, texts, labels)

    import os

    load_before = os.getloadavg()
    seconds: dict[str, list[dict]] = {"finetune": [], "lora": []}
    speed: dict[str, list[float]] = {"finetune": [], "lora": []}
    share: dict[str, list[float]] = {"finetune": [], "lora": []}
    trainable: dict[str, int] = {}
    accuracy: dict[str, list[float]] = {"finetune": [], "lora": []}
    for _ in range(args.repeats):
        for protocol in ("finetune", "lora"):  # alternate, so drift on a shared machine hits both
            result = run_unit(cards, data, model_dir, protocol)
            timings = result.extras["timings"]
            speed[protocol].append(args.train * args.epochs / timings["train_s"])
            share[protocol].append(timings["efficiency_s"] / timings["total_s"])
            record = result.extras["efficiency"]
            seconds[protocol].append({"efficiency_s": timings["efficiency_s"], "total_s": timings["total_s"], "train_s": timings["train_s"],
                                      "sample": record.get("sample"), "batches": record.get("batches"), "flops_cached": record.get("flops_cached"),
                                      "throughput_source": record.get("throughput_source")})
            trainable[protocol] = result.extras["parameters"]["trainable"]
            accuracy[protocol].append(result.metrics["validation"]["accuracy"])
    steps = interleaved_steps(model_dir, texts, args) if args.steps else {}
    med = {p: statistics.median(v) for p, v in speed.items()}
    payload = {
        "model": {"hidden": args.hidden, "ffn": args.ffn * args.hidden, "layers": args.layers, "max_length": args.max_length, "train": args.train, "epochs": args.epochs,
                  "batch_size": args.batch_size, "threads": args.threads, "card": CARD},
        "train_examples_per_s": {p: round(v, 1) for p, v in med.items()},
        "lora_over_finetune": round(med["lora"] / med["finetune"], 3),
        "trainable_parameters": trainable,
        "efficiency_share_of_unit": {p: round(statistics.median(v), 4) for p, v in share.items()},
        "validation_accuracy": accuracy,
        "repeats": args.repeats,
        "interleaved_steps": steps,
        "units": seconds,
        "load_average_1_5_15": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
    }
    print(f"train examples/s: finetune {med['finetune']:.1f}, lora {med['lora']:.1f} -> ratio {payload['lora_over_finetune']} (target >= 1.3)")
    print(f"trainable parameters: {trainable}")
    print(f"efficiency measurement share of the unit: {payload['efficiency_share_of_unit']} (target <= 0.05)")
    print(f"per unit: {seconds}")
    if steps:
        print(f"interleaved steps: median s/step {steps['median_s']} -> lora speed-up {steps['lora_over_finetune']}")
    print(f"load average before/after: {payload['load_average_1_5_15']}")
    if args.out:
        write_json(args.out, payload)


if __name__ == "__main__":
    main()
