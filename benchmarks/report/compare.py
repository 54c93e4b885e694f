"""`bench compare A B`: paired significance of two leaderboard rows, per card and for the aggregate.

Examples are paired by (split, id, seed): only seeds both rows have count, and both rows
must have scored the same examples. For each card the main metric on its report split is
compared; the aggregate is compared through the suite's own rule, so every split and
metric its components name is replayed too. Cards are resampled independently (they are
different data sets); within a card, one resample serves both models and every seed, and
the seed mean is what is compared — the same number the leaderboard shows.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyglue import metrics as metric_defs
from polyglue.cards.schema import Card, Suite
from polyglue.errors import DataError, UserError
from polyglue.report import schema as S
from polyglue.report.aggregate import aggregate_label, combine, display, resolve_components
from polyglue.runs.comparability import of_unit
from polyglue.runs.protocol import row_protocol
from polyglue.report.formats import environments, generator
from polyglue.report.leaderboard import current_units
from polyglue.report.replay import SINGLE_LABEL_TASKS, MetricReplay, PairedSplit, load_records, replayable
from polyglue.report.significance import bootstrap_summary, holm, mcnemar

REPLAY_TOLERANCE = 1e-6
"""Largest accepted gap (display units) between a replayed metric and the stored one."""


@dataclass
class CompareRequest:
    a: str
    b: str
    protocol_a: str | None = None
    protocol_b: str | None = None
    n_bootstrap: int = 1000
    alpha: float = 0.05
    correction: str = "holm"
    rng_seed: int = 0
    include_debug: bool = False
    """Compare debug units (`--limit`, `--max-steps`) too; by default they are left out, like in reports."""


def _select(units: list[dict], label: str, protocol: str | None, suite: str) -> tuple[str, dict[str, dict[int, dict]]]:
    """The protocol and the units (card -> seed -> newest unit) of one row."""
    mine = [u for u in units if u["encoder"] == label]
    if not mine:
        rows = ", ".join(sorted({u["encoder"] for u in units})) or "none"
        raise UserError(f"no finished units of '{label}' in suite '{suite}' (rows: {rows})")
    protocols = sorted({row_protocol(u["protocol"]) for u in mine})
    if protocol is None:
        if len(protocols) > 1:
            raise UserError(f"'{label}' has results under {' and '.join(protocols)}; choose one with --protocol (and --protocol-b)")
        protocol = protocols[0]
    elif protocol not in protocols:
        raise UserError(f"'{label}' has no results under protocol '{protocol}' (it has: {', '.join(protocols)})")
    out: dict[str, dict[int, dict]] = {}
    for unit in sorted((u for u in mine if row_protocol(u["protocol"]) == protocol), key=lambda u: (u.get("finished_at") or "", u["key"])):
        out.setdefault(unit["card"], {})[unit["seed"]] = unit
    return protocol, out


class _CardReplay:
    """Every (split, metric) a card contributes, replayed for both models over their common seeds."""

    def __init__(self, card: Card, needed: dict[str, set[str]], units_a: dict[int, dict], units_b: dict[int, dict], runs_dir: Path):
        self.card = card
        self.seeds = sorted(set(units_a) & set(units_b))
        if not self.seeds:
            raise DataError(f"no common seed (A has {sorted(units_a)}, B has {sorted(units_b)})")
        missing = [m for ms in needed.values() for m in ms if not replayable(m)]
        if missing:
            raise DataError(f"metric {', '.join(sorted(set(missing)))} cannot be recomputed from predictions")
        records = {}
        for model, units in (("a", units_a), ("b", units_b)):
            for seed in self.seeds:
                records[(model, seed)] = load_records(runs_dir, units[seed])
        kit = None
        if any(m.startswith("squad") for ms in needed.values() for m in ms):
            from polyglue.langkits.registry import get_kit

            kit = get_kit(card.langkit)
        self.splits: dict[str, PairedSplit] = {}
        self.replays: dict[tuple[str, str, str], list[MetricReplay]] = {}
        for split, names in needed.items():
            paired = PairedSplit(card, split, records)
            self.splits[split] = paired
            for metric in sorted(names):
                for model in ("a", "b"):
                    self.replays[(model, split, metric)] = [
                        MetricReplay(card, metric, paired.gold, paired.preds[(model, s)], paired.language, kit) for s in self.seeds
                    ]
        self.stored = {
            model: float(np.mean([display(card.main_metric, units[s]["metrics"][card.report_split][card.main_metric]) for s in self.seeds]))
            if all(card.main_metric in (units[s]["metrics"] or {}).get(card.report_split, {}) for s in self.seeds) else None
            for model, units in (("a", units_a), ("b", units_b))
        }

    def observed(self) -> dict[tuple[str, str, str], float]:
        return {key: float(np.mean([r.full() for r in reps])) for key, reps in self.replays.items()}

    def bootstrap(self, n: int, rng: np.random.Generator) -> dict[tuple[str, str, str], np.ndarray]:
        out = {key: np.empty(n) for key in self.replays}
        for r in range(n):
            idx = {split: rng.integers(0, len(p), len(p)) for split, p in self.splits.items()}
            for (model, split, metric), reps in self.replays.items():
                out[(model, split, metric)][r] = np.mean([rep.on(idx[split]) for rep in reps])
        return out


def _difference(name, metric, split, seeds, n_examples, obs_a, obs_b, reps_a, reps_b, higher_better) -> dict:
    result = bootstrap_summary(obs_a - obs_b, reps_a - reps_b)
    better = "tie" if result.delta == 0 else ("a" if (result.delta > 0) == higher_better else "b")
    return dict(name=name, metric=metric, split=split, seeds=seeds, n_examples=n_examples, a=obs_a, b=obs_b,
                delta=result.delta, ci95=result.ci95, p_value=result.p_value, better=better)


def compare(suite: Suite, cards: dict[str, Card], store_units: list[dict], runs_dir: Path, req: CompareRequest) -> S.ComparisonDocument:
    """Paired bootstrap (and McNemar for single-label cards) of rows `req.a` and `req.b` of `suite`."""
    if req.n_bootstrap < 100:
        raise UserError(f"--n-bootstrap must be at least 100 (got {req.n_bootstrap})")
    if not 0 < req.alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1 (got {req.alpha})")
    if req.correction not in ("holm", "none"):
        raise UserError(f"--correction {req.correction}: use holm or none")
    current, _ = current_units(suite, cards, store_units)
    debug_left_out = [u for u in current if of_unit(u)["debug"]] if not req.include_debug else []
    current = [u for u in current if u not in debug_left_out]
    protocol_a, units_a = _select(current, req.a, req.protocol_a, suite.name)
    protocol_b, units_b = _select(current, req.b, req.protocol_b or req.protocol_a, suite.name)
    if req.a == req.b and protocol_a == protocol_b:
        raise UserError(f"A and B are the same row ('{req.a}', {protocol_a}); compare two different models or protocols")

    components = resolve_components(suite, cards)
    skipped, notes, replays, partial = [], [], {}, {}
    if debug_left_out:
        notes.append(f"{len(debug_left_out)} debug unit(s) (--limit, --max-steps) left out; --include-debug compares them")
    for label, chosen in ((req.a, units_a), (req.b, units_b)):
        marks = [of_unit(u) for by_seed in chosen.values() for u in by_seed.values()]
        reasons = list(dict.fromkeys(r for m in marks if not m["comparable"] for r in m["reasons"]))
        if reasons:
            notes.append(f"'{label}' is not comparable with published numbers: {'; '.join(reasons)}")
    for name in (n for n in suite.cards if n in cards):
        card = cards[name]
        needed: dict[str, set[str]] = {card.report_split: {card.main_metric}}
        for comp in components:
            if comp.card == name:
                for split in comp.splits:
                    needed.setdefault(split, set()).update(comp.metrics)
        if name not in units_a or name not in units_b:
            who = " and ".join(m for m, u in ((req.a, units_a), (req.b, units_b)) if name not in u)
            skipped.append(S.Skipped(name=name, reason=f"no finished units of {who}"))
            continue
        try:
            replays[name] = _CardReplay(card, needed, units_a[name], units_b[name], runs_dir)
            continue
        except DataError as exc:
            reason = str(exc)
        main_only: dict[str, set[str]] = {card.report_split: {card.main_metric}}
        if needed != main_only:  # the card alone may still compare; only the aggregate is lost
            try:
                replays[name] = _CardReplay(card, main_only, units_a[name], units_b[name], runs_dir)
                partial[name] = reason
                continue
            except DataError as exc:
                reason = str(exc)
        skipped.append(S.Skipped(name=name, reason=reason))
    if not replays:
        skip_reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped)
        raise UserError(f"nothing to compare between '{req.a}' and '{req.b}' in suite '{suite.name}': {skip_reasons}")

    observed, boot, diffs = {}, {}, []
    for name, rep in replays.items():
        card = cards[name]
        rng = np.random.default_rng([req.rng_seed, zlib.crc32(name.encode())])
        observed[name], boot[name] = rep.observed(), rep.bootstrap(req.n_bootstrap, rng)
        split, metric = card.report_split, card.main_metric
        obs = {m: display(metric, observed[name][(m, split, metric)]) for m in ("a", "b")}
        reps = {m: display(metric, boot[name][(m, split, metric)]) for m in ("a", "b")}
        diff = _difference(name, metric, split, rep.seeds, len(rep.splits[split]), obs["a"], obs["b"], reps["a"], reps["b"],
                           metric_defs.higher_is_better(metric))
        diff.update(stored_a=rep.stored["a"], stored_b=rep.stored["b"])
        for model, label in (("a", req.a), ("b", req.b)):
            stored = rep.stored[model]
            if stored is not None and abs(stored - obs[model]) > REPLAY_TOLERANCE:
                notes.append(f"{name}: {metric} replayed from the predictions of {label} is {obs[model]:.6f}, the stored value "
                             f"is {stored:.6f}; the predictions files may not belong to these results")
        if card.task in SINGLE_LABEL_TASKS:
            tests = [mcnemar(rep.splits[split].correct(("a", s)), rep.splits[split].correct(("b", s))) for s in rep.seeds]
            diff["mcnemar"] = [S.McNemar(seed=s, b=t.b, c=t.c, statistic=t.statistic, p_value=t.p_value, method=t.method)
                               for s, t in zip(rep.seeds, tests)]
            diff["mcnemar_p_max"] = max(t.p_value for t in tests)
        diffs.append(diff)

    adjusted = holm([d["p_value"] for d in diffs]) if req.correction == "holm" else [d["p_value"] for d in diffs]
    cards_out = [S.Difference(**d, p_adjusted=p, significant=p < req.alpha) for d, p in zip(diffs, adjusted)]

    aggregate = None
    missing = [c.card for c in components if c.card not in replays]
    if missing or partial:
        why = [f"missing: {', '.join(missing)}"] if missing else []
        why += [f"{card}: {reason}" for card, reason in partial.items()]
        skipped.append(S.Skipped(name="aggregate", reason=f"needs every component; {'; '.join(why)}"))
    else:
        def agg(model, values):
            return combine(suite, [c.value_from(lambda split, metric, c=c: display(metric, values[c.card][(model, split, metric)]))
                                   for c in components])

        higher = not all(c.rescale is None and not any(metric_defs.higher_is_better(m) for m in c.metrics) for c in components)
        seeds = sorted(set.intersection(*(set(r.seeds) for r in replays.values())))
        n_examples = sum(len(p) for r in replays.values() for p in r.splits.values())
        d = _difference(aggregate_label(suite), "aggregate", "", seeds, n_examples, float(agg("a", observed)), float(agg("b", observed)),
                        agg("a", boot), agg("b", boot), higher)
        aggregate = S.Difference(**d, p_adjusted=d["p_value"], significant=d["p_value"] < req.alpha)

    shown = [u for units in (units_a, units_b) for per_seed in units.values() for u in per_seed.values()]
    return S.ComparisonDocument(
        generator=generator(), suite=suite.name, suite_version=suite.version, model_a=req.a, model_b=req.b,
        protocol_a=protocol_a, protocol_b=protocol_b, n_bootstrap=req.n_bootstrap, alpha=req.alpha,
        correction=req.correction, rng_seed=req.rng_seed, cards=cards_out, aggregate=aggregate,
        aggregate_name=aggregate_label(suite), skipped=skipped, notes=notes, environments=environments(shown),
    )
