"""Plan a run: suite cards × encoders × seeds -> unit tasks, before anything executes.

Everything that can be wrong with the request (unknown suite or task, a model folder
that does not exist, a protocol with no runner) is found here and reported as a user
error, so a long run never dies on its tenth unit for a typo.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from polyglue.cards.registry import Registry
from polyglue.encoders import EncoderSpec, parse_encoder
from polyglue.errors import UserError
from polyglue.runs import protocol as protocols
from polyglue.runs.comparability import assess
from polyglue.runs.dispatch import has_runner
from polyglue.runs.units import Unit, UnitTask
from polyglue.cards.kitnames import find_user_kit, kit_file_hash


#: Bounds that keep an impossible request from hanging planning (`--seeds 1000000000000`).
MAX_SEEDS = 1000
MAX_COUNT = 10**9


@dataclass
class RunRequest:
    """What `bench run` was asked for (flags already parsed)."""

    suite: str
    models: list[str]
    tasks: list[str] | None = None
    protocol: str | None = None
    seeds: int | None = None
    """Seeds per (card, encoder); None: the suite's own default (`seeds` in suite.yaml, else 1)."""
    data_seeds: list[int] | None = None
    """`--data-seeds`: data-order seeds crossed with the init seeds (an init × data grid); None: the
    data order follows each unit's seed and no `data_seed` enters the protocol config."""
    data_dir: Path | None = None
    cache_dir: Path | None = None
    device: str = "auto"
    threads: int | None = None
    """CPU threads per unit (None: the libraries' default locally, 1 per Ray worker)."""
    overrides: dict = field(default_factory=dict)
    """Protocol settings from flags (`max_steps`, `limit`, `languages`); None values are ignored."""
    allow_unverified_data: bool = False
    """`--allow-unverified-data`: read a pinned card's `--data-dir` folder that has no `manifest.json`
    (its rows are marked not comparable); without it such a folder is refused at planning."""


@dataclass
class Plan:
    tasks: list[UnitTask]
    skipped: list[str]
    suite: dict
    """The suite definition the tasks were planned from (stored with the results)."""


def plan_run(registry: Registry, req: RunRequest) -> Plan:
    if not req.models:
        raise UserError("give at least one --model (e.g. --model bow)")
    if req.seeds is not None and req.seeds < 1:
        raise UserError(f"--seeds must be at least 1 (got {req.seeds})")
    if req.seeds is not None and req.seeds > MAX_SEEDS:
        raise UserError(f"--seeds {req.seeds}: at most {MAX_SEEDS} seeds per (card, encoder)")
    if req.data_seeds is not None:
        if not req.data_seeds or any(d < 0 for d in req.data_seeds) or len(set(req.data_seeds)) != len(req.data_seeds):
            raise UserError(f"--data-seeds {','.join(map(str, req.data_seeds))}: give distinct non-negative integers, e.g. --data-seeds 0,1,2")
        if len(req.data_seeds) > MAX_SEEDS:
            raise UserError(f"--data-seeds: at most {MAX_SEEDS} data seeds")
    if req.protocol is not None:
        from polyglue.runs.dispatch import all_runners

        known = sorted({p for _, p in all_runners()})
        if req.protocol not in known:
            raise UserError(f"--protocol {req.protocol}: no runner has it (known: {', '.join(known)})")
    for key in ("limit", "max_steps"):
        value = req.overrides.get(key)
        if value is not None and value > MAX_COUNT:
            raise UserError(f"--{key.replace('_', '-')} {value}: at most {MAX_COUNT}")
    if req.data_dir is not None and not Path(req.data_dir).is_dir():
        raise UserError(f"--data-dir {req.data_dir} is not a directory")
    suite_entry = registry.suite(req.suite)
    entries = registry.suite_cards(req.suite)
    if req.tasks:
        names = {e.card.name for e in entries}
        unknown = [t for t in req.tasks if t not in names]
        if unknown:
            raise UserError(f"--tasks: {', '.join(unknown)} not in suite '{req.suite}' (cards: {', '.join(sorted(names))})")
        entries = [e for e in entries if e.card.name in req.tasks]
    encoders: list[EncoderSpec] = [parse_encoder(m) for m in req.models]
    raw_models = {e.label: m for e, m in zip(encoders, req.models)}
    labels = [e.label for e in encoders]
    if len(set(labels)) != len(labels):
        raise UserError(f"--model given twice: {', '.join(sorted({l for l in labels if labels.count(l) > 1}))}")
    identities = {e.label: e.identity() for e in encoders}
    same: dict[str, str] = {}
    for label, identity in identities.items():
        if identity in same:
            raise UserError(f"--model {same[identity]} and --model {label} are the same model (same weights); give it once")
        same[identity] = label

    suite = suite_entry.suite
    # Cards of this suite whose trained model a `train_from` card of the suite evaluates (ViquiQuAD for XQuAD-ca).
    in_suite = {e.card.name: e for e in registry.suite_cards(req.suite)}
    sources = {e.card.train_from for e in in_suite.values() if e.card.train_from in in_suite}
    n_seeds = req.seeds if req.seeds is not None else suite.seeds
    tasks: list[UnitTask] = []
    skipped: list[str] = []
    unverified: list[str] = []
    for entry in entries:
        card = entry.card
        unverified_copy = _unverified_copy(req, suite.name, card)
        if unverified_copy is not None:
            unverified.append(unverified_copy)
        train_entry = registry.card(card.train_from) if card.train_from else None
        kit_file = find_user_kit(card.langkit, entry.path)
        for enc in encoders:
            if card.modality not in enc.modalities():
                skipped.append(f"{card.name}: {enc.label} is not a {card.modality} encoder")
                continue
            config = protocols.resolve(card, enc, req.protocol, req.overrides)
            if kit_file is not None:
                # A user kit is code next to the card: editing it must make new units, not reuse old ones.
                config["langkit_sha256"] = kit_file_hash(kit_file)
            if not has_runner(card.task, config["name"]):
                raise UserError(f"card '{card.name}': no '{config['name']}' runner for {card.task} tasks")
            comparability = assess(card, config, req.overrides, default_protocol=protocols.official_protocol(card, enc),
                                   unverified_copy=unverified_copy)
            keeps = card.name in sources and _reusable(config, enc)
            source = _source_unit(suite, in_suite.get(card.train_from or ""), enc, identities[enc.label], req, config)
            if source is not None:
                config["source_model"] = source[1]
            for seed, unit_config in _seed_grid(n_seeds, req.data_seeds, config):
                unit = Unit(
                    suite=suite.name,
                    suite_version=suite.version,
                    card=card.name,
                    card_version=card.version,
                    card_hash=card.content_hash()[:16],
                    dataset_revision=card.source.revision,
                    encoder_identity=identities[enc.label],
                    protocol=config["name"],
                    protocol_hash=protocols.config_hash(unit_config),
                    seed=seed,
                )
                tasks.append(
                    UnitTask(
                        unit=unit,
                        encoder=raw_models[enc.label],
                        card=card.model_dump(mode="json"),
                        card_path=str(entry.path.resolve()),
                        protocol_config=unit_config,
                        train_card=train_entry.card.model_dump(mode="json") if train_entry else None,
                        train_card_path=str(train_entry.path.resolve()) if train_entry else None,
                        data_dir=str(Path(req.data_dir).resolve()) if req.data_dir else None,
                        cache_dir=str(Path(req.cache_dir).resolve()) if req.cache_dir else None,
                        device=req.device,
                        options={"threads": req.threads} if req.threads else {},
                        comparability=comparability,
                        trained_model=unit.key if keeps else _source_key(source[0], seed, unit_config) if source else None,
                    )
                )
    if unverified and not req.allow_unverified_data:
        raise UserError(_unverified_message(unverified, suite.name, req.data_dir))
    if not tasks:
        raise UserError(f"nothing to run: {'; '.join(skipped) or 'no cards selected'}")
    _check_data_available(registry, req, {t.unit.card for t in tasks} | {t.train_card["name"] for t in tasks if t.train_card})
    return Plan(tasks, skipped, suite.model_dump(mode="json"))


def _reusable(config: dict, enc: EncoderSpec) -> bool:
    """Whether the unit's runner keeps and reuses trained models: full fine-tuning of a model with weights."""
    return config["name"] == "finetune" and enc.has_weights


def _source_unit(suite, train_entry, enc: EncoderSpec, identity: str, req: RunRequest, config: dict) -> tuple[Unit, str] | None:
    """A `train_from` unit's source: (the training card's unit at seed 0, the hash that ties this unit to it).

    Only when the training card is in the same suite and resolves to exactly the same settings,
    so the kept model is the one this unit would have trained itself; otherwise None (it trains its own)."""
    if train_entry is None or not _reusable(config, enc):
        return None
    train_card = train_entry.card
    src_config = protocols.resolve(train_card, enc, req.protocol, req.overrides)
    kit_file = find_user_kit(train_card.langkit, train_entry.path)
    if kit_file is not None:
        src_config["langkit_sha256"] = kit_file_hash(kit_file)
    if src_config != config:
        return None
    unit = Unit(
        suite=suite.name, suite_version=suite.version, card=train_card.name, card_version=train_card.version,
        card_hash=train_card.content_hash()[:16], dataset_revision=train_card.source.revision,
        encoder_identity=identity, protocol=src_config["name"], protocol_hash=protocols.config_hash(src_config), seed=0,
    )
    tie = protocols.config_hash({"card_hash": unit.card_hash, "revision": unit.dataset_revision, "protocol_hash": unit.protocol_hash})
    return unit, tie


def _source_key(source: Unit, seed: int, unit_config: dict) -> str:
    """The key of the source unit whose kept model this unit evaluates: same seed and, under
    `--data-seeds`, the same data seed (the source's config is this unit's less `source_model`)."""
    src_config = {k: v for k, v in unit_config.items() if k != "source_model"}
    return replace(source, seed=seed, protocol_hash=protocols.config_hash(src_config)).key


def _unverified_copy(req: RunRequest, suite: str, card) -> str | None:
    """The `--data-dir` folder of a pinned Hub card when it has no manifest (a hand-made copy, or a mirror that lost it)."""
    hub = card.source.hub
    if req.data_dir is None or hub is None or not hub.pinned:
        return None
    folder = Path(req.data_dir) / suite / card.name
    return str(folder) if folder.is_dir() and not (folder / "manifest.json").exists() else None


def _unverified_message(folders: list[str], suite: str, data_dir) -> str:
    """The one line that refuses unverified copies: which folder, what is missing, the two ways out."""
    more = f" (and {len(folders) - 1} more card folder(s))" if len(folders) > 1 else ""
    return (
        f"--data-dir: {folders[0]}{more} has no manifest.json, so nothing checks it holds the revision the card pins; "
        f"mirror it with `bench fetch --suite {suite} --to {data_dir}`, or pass --allow-unverified-data to read it as is "
        f"(its rows are then marked not comparable)"
    )


def _check_data_available(registry: Registry, req: RunRequest, names: set[str]) -> None:
    """One clear error up front, instead of one failed unit per card, when data cannot be reached:
    corpus-layout cards without their folder under `--data-dir`, or Hub-backed cards with no
    local copy while the Hub is out of reach."""
    layouts = sorted(n for n in names if registry.card(n).card.source.layout is not None)
    root = Path(req.data_dir) / req.suite if req.data_dir else None
    if layouts and (root is None or not root.is_dir()):
        kinds = sorted({layout.name for n in layouts if (layout := registry.card(n).card.source.layout) is not None})
        where = f"{root} does not exist" if root is not None else "no --data-dir was given"
        raise UserError(
            f"{len(layouts)} card(s) read a corpus from disk ({', '.join(layouts)}; layout {', '.join(kinds)}), but {where}: "
            f"give --data-dir DIR with the corpus in DIR/{req.suite}/"
        )
    from polyglue.data.materialize import fetch_hint, has_mirror, hub_offline_reason

    need = [n for n in sorted(names) if registry.card(n).card.source.hub is not None and not has_mirror(n, req.suite, req.data_dir)]
    if not need:
        return

    reason = hub_offline_reason()
    if reason is not None:
        where = f"--data-dir {req.data_dir} has no {req.suite}/<card>/ folder for them" if req.data_dir else "no --data-dir was given"
        raise UserError(
            f"{len(need)} card(s) read the Hugging Face Hub ({', '.join(need)}), but {reason} and {where}. {fetch_hint(req.suite)}"
        )


def _seed_grid(n_seeds: int, data_seeds: list[int] | None, config: dict) -> list[tuple[int, dict]]:
    """(init seed, protocol config) per unit: one per seed, or init seeds × `data_seeds` with the
    data seed in the config (so in the unit key and the store). Without `--data-seeds` the config
    is untouched, so existing units keep their keys."""
    if data_seeds is None:
        return [(seed, config) for seed in range(n_seeds)]
    return [(seed, {**config, "data_seed": d}) for seed in range(n_seeds) for d in data_seeds]
