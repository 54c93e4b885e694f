"""Full-size synthetic suites: the mirror fixtures at the real row counts of every card, in the `--data-dir` layout.

`tests/fixtures/text_mirrors.py` writes format-faithful files (the real columns, Hugging
Face ClassLabel metadata, hidden test labels, raw TSV/JSON/CoNLL layouts) with invented
sentences; this script asks it for each split's real number of rows, from
`/work/shared/reference/text_suites.md` (GLUE from the `nyu-mll/glue` dataset_info, CLUE
from `clue/clue`, CLUB and Greek from their cards). `--scale 0.01` writes 1% of every
split (at least 8 rows), `--cards` picks cards, `--rows CARD=N` overrides a card's train
size (the MNLI 1x/4x/16x linearity runs).

Label noise (`--label-noise`, default 0.1): in the GLUE and CLUE classification mirrors
(single sentences and pairs: CoLA, SST-2, MRPC, QQP, MNLI, QNLI, RTE, WNLI, AFQMC, TNEWS,
IFLYTEK, CMNLI, OCNLI) that fraction of the rows of every split gets a label drawn uniformly
at random after its text was written, so about 0.1 × (k − 1) / k of the labels (5% for two
classes, 6.7% for three) disagree with the keyword the text carries. Without it the
invented pairs are separable and the logistic-regression head's L-BFGS runs to its
iteration cap (full-size CMNLI never finished); real data is not separable. The other
cards' writers (STS-B, TeCla, TECa, XNLI-el, QA, CHID, C3, CLUEWSC, CSL) take no noise.
`--label-noise 0` writes the noiseless mirrors the tests use.

    .venv/bin/python perf/full_size_suites.py OUT --suite glue [--scale 1] [--cards mnli,qqp] [--rows mnli=5000]
    bench run --suite glue --model bow --data-dir OUT ...
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

S = ("train", "validation", "test")

#: Default fraction of classification rows whose label is redrawn at random (see the module docstring).
LABEL_NOISE = 0.1

#: suite -> card -> split file -> rows (real sizes; see the module docstring for the sources).
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "glue": {
        "cola": dict(zip(S, (8551, 1043, 1063))),
        "sst2": dict(zip(S, (67349, 872, 1821))),
        "mrpc": dict(zip(S, (3668, 408, 1725))),
        "qqp": dict(zip(S, (363846, 40430, 390965))),
        "stsb": dict(zip(S, (5749, 1500, 1379))),
        "mnli": {"train": 392702, "validation_matched": 9815, "validation_mismatched": 9832, "test_matched": 9796, "test_mismatched": 9847,
                 "ax-test": 1104},  # GLUE's diagnostic AX, written into MNLI's mirror
        "qnli": dict(zip(S, (104743, 5463, 5463))),
        "rte": dict(zip(S, (2490, 277, 3000))),
        "wnli": dict(zip(S, (635, 71, 146))),
    },
    "clue": {
        "afqmc": dict(zip(S, (34334, 4316, 3861))),
        "tnews": dict(zip(S, (53360, 10000, 10000))),
        "iflytek": dict(zip(S, (12133, 2599, 2600))),
        "cmnli": dict(zip(S, (391783, 12241, 13880))),
        "ocnli": dict(zip(S, (50437, 2950, 3000))),
        "cluewsc2020": dict(zip(S, (1244, 304, 2574))),
        "csl": dict(zip(S, (20000, 3000, 3000))),
        "cmrc2018": dict(zip(S, (10142, 3219, 2000))),
        "chid": dict(zip(S, (84709, 3218, 3447))),
        "c3": dict(zip(S, (11869, 3816, 1625))),
    },
    "club": {  # the largest CLUB cards
        "tecla": dict(zip(S, (110203, 13786, 13786))),
        "teca": dict(zip(S, (16930, 2116, 2117))),
    },
    "greek": {  # the largest Greek card
        "xnli-el": dict(zip(S, (392702, 2490, 5010))),
    },
}


def sizes_for(suite: str, *, scale: float = 1.0, cards: list[str] | None = None, rows: dict[str, int] | None = None) -> dict[str, dict[str, int]]:
    """`{card: {split: rows}}` for the requested cards; `rows` overrides train and scales the other splits with it."""
    out = {}
    for card, splits in SIZES[suite].items():
        if cards and card not in cards:
            continue
        factor = scale
        if rows and card in rows:
            factor = rows[card] / splits["train"]
        out[card] = {split: max(8, round(n * factor)) for split, n in splits.items()}
    return out


def write(out: Path, suite: str, sizes: dict[str, dict[str, int]], seed: int = 0, label_noise: float = LABEL_NOISE) -> Path:
    from tests.fixtures.text_mirrors import write_mirror

    return write_mirror(out, suite, list(sizes), n=sizes, seed=seed, label_noise=label_noise)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--suite", choices=sorted(SIZES), required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--cards", help="comma-separated card names (default: every card in SIZES)")
    parser.add_argument("--rows", action="append", default=[], help="CARD=N: N training rows (other splits scale along)")
    parser.add_argument("--label-noise", type=float, default=LABEL_NOISE, help="fraction of classification labels redrawn at random")
    args = parser.parse_args()
    rows = {k: int(v) for k, v in (item.split("=", 1) for item in args.rows)}
    sizes = sizes_for(args.suite, scale=args.scale, cards=args.cards.split(",") if args.cards else None, rows=rows)
    t0 = time.perf_counter()
    write(args.out, args.suite, sizes, label_noise=args.label_noise)
    total = sum(sum(s.values()) for s in sizes.values())
    print(f"{args.suite}: {len(sizes)} card(s), {total:,} rows in {time.perf_counter() - t0:.1f} s under {args.out}/{args.suite}/")


if __name__ == "__main__":
    main()
