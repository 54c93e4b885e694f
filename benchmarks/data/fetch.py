"""`bench fetch`: mirror a suite's Hub data into the `--data-dir` layout, with a checksummed manifest.

For each Hub card of the suite: resolve the revision to a commit (the card's pin, or what
its branch points at now), read every declared split at that commit through `datasets`,
and write `DIR/<suite>/<card>/<split>.parquet` keeping the Hugging Face features metadata
(so ClassLabel names survive and indices resolve by name). Audio columns become files
under `audio/<split>/` and the table holds their paths, relative to the card's mirror
folder. `manifest.json` records the resolved commit, row counts and the sha256 of every
file; `bench run --data-dir` refuses a mirror that no longer matches it.

A card is written to a temporary folder and renamed into place, so an interrupted fetch
never leaves a half mirror that looks complete. Cards that read local files or a named
layout (Kathbath) have nothing on the Hub to mirror and are skipped with a note.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from polyglue.cards.registry import CardEntry, Registry
from polyglue.data.materialize import hub_offline_reason
from polyglue.data.mirror import MANIFEST, file_entry, read_manifest, verify_mirror, write_manifest
from polyglue.errors import DataError, UserError

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus")


@dataclass
class FetchOutcome:
    """What happened to one card: `fetched`, `up-to-date` or `skipped`, with a one-line detail."""

    card: str
    status: str
    detail: str
    path: Path | None = None


def fetch_suite(
    registry: Registry,
    suite: str,
    to: Path,
    *,
    tasks: list[str] | None = None,
    force: bool = False,
    report: Callable[[FetchOutcome], None] = lambda outcome: None,
) -> list[FetchOutcome]:
    """Mirror every Hub card of `suite` (or only `tasks`) under `to/<suite>/`."""
    entries = registry.suite_cards(suite)
    if tasks:
        names = {e.card.name for e in entries}
        unknown = [t for t in tasks if t not in names]
        if unknown:
            raise UserError(f"--tasks: {', '.join(unknown)} not in suite '{suite}' (cards: {', '.join(sorted(names))})")
        entries = [e for e in entries if e.card.name in tasks]
    # zero-shot cards train on another card (`train_from`), maybe of another suite: its data goes in this suite's mirror too
    named = {e.card.name for e in entries}
    for e in list(entries):
        if e.card.train_from and e.card.train_from not in named and e.card.train_from in registry.cards:
            entries.append(registry.card(e.card.train_from))
            named.add(e.card.train_from)
    if any(e.card.source.hub is not None for e in entries):
        reason = hub_offline_reason()
        if reason is not None:
            raise UserError(f"`bench fetch` reads the Hugging Face Hub, but {reason}; run it on a machine with network access")
    outcomes = []
    for entry in entries:
        outcome = fetch_card(entry, suite, Path(to), force=force)
        report(outcome)
        outcomes.append(outcome)
    return outcomes


def resolve_revision(path: str, revision: str | None) -> str:
    """The commit SHA that `revision` (a SHA, branch or tag; None = default branch) points at now."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        sha = HfApi().dataset_info(path, revision=revision).sha
        if sha is None:
            raise DataError(f"{path}: the Hub did not say which commit '{revision}' is")
        return sha
    except RevisionNotFoundError:
        raise DataError(f"{path}: revision '{revision}' does not exist on the Hub") from None
    except RepositoryNotFoundError:
        raise DataError(f"{path}: no such dataset on the Hub (or it is private/gated: log in with `hf auth login`)") from None
    except HfHubHTTPError as exc:
        raise DataError(f"{path}: the Hub answered {exc}") from None


def fetch_card(entry: CardEntry, suite: str, to: Path, *, force: bool = False) -> FetchOutcome:
    card = entry.card
    if card.source.hub is None:
        layout = card.source.layout
        why = "reads local files next to the card" if card.source.local or layout is None else f"reads the '{layout.name}' layout from --data-dir"
        return FetchOutcome(card.name, "skipped", f"{why}; nothing to mirror")
    hub = card.source.hub
    dest = to / suite / card.name
    if not force and dest.is_dir() and not (dest / MANIFEST).exists() and any(dest.iterdir()):
        raise UserError(f"{dest} exists and is not a polyglue mirror (no {MANIFEST}); move it away, or pass --force to replace it")
    resolved = resolve_revision(hub.path, hub.revision)
    source = {"hub": hub.path, "config": hub.config, "revision": hub.revision, "data_files": hub.data_files}
    specs = list({s.mirror_stem: s for s in card.splits.roles().values()}.values())
    splits = [s.mirror_stem for s in specs]
    if not force and _up_to_date(dest, resolved, source, splits):
        return FetchOutcome(card.name, "up-to-date", f"{hub.path}@{resolved[:12]} already mirrored and verified", dest)
    tmp = dest.parent / f".{card.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict[str, dict] = {}
    by_config: dict[str | None, list] = {}
    for spec in specs:  # the card's own config first, then e.g. GLUE's `ax` split of the MNLI card
        by_config.setdefault(spec.config, []).append(spec)
    for config, group in by_config.items():
        for spec, ds in zip(group, _load_splits(card, resolved, [g.name for g in group], config)):
            files.update(_write_split(card, ds, spec.mirror_stem, tmp, resolved))
    write_manifest(
        tmp,
        {
            "suite": suite,
            "card": card.name,
            "card_version": card.version,
            "source": source,
            "splits": splits,
            "resolved_revision": resolved,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "tool": _tool_versions(),
            "files": files,
        },
    )
    _swap_into_place(tmp, dest)
    rows = {name: meta["rows"] for name, meta in files.items() if "rows" in meta}
    shown = ", ".join(f"{Path(n).stem} {r}" for n, r in rows.items())
    return FetchOutcome(card.name, "fetched", f"{hub.path}@{resolved[:12]}: {shown} rows, {len(files)} file(s)", dest)


def _up_to_date(dest: Path, resolved: str, source: dict, splits: list[str]) -> bool:
    """The mirror holds this commit of this source, with these splits, and still matches its checksums."""
    try:
        manifest = read_manifest(dest) if dest.is_dir() else None
        if manifest is None:
            return False
        if (manifest.get("resolved_revision"), manifest.get("source"), manifest.get("splits")) != (resolved, source, splits):
            return False
        verify_mirror(dest)
        return True
    except UserError:
        return False  # unreadable or tampered: fetch again


def _swap_into_place(tmp: Path, dest: Path) -> None:
    old = dest.parent / f".{dest.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def _tool_versions() -> dict:
    import datasets
    import huggingface_hub

    import polyglue

    return {"polyglue": polyglue.__version__, "datasets": datasets.__version__, "huggingface_hub": huggingface_hub.__version__}


def _load_splits(card, revision: str, splits: list[str], config: str | None = None) -> list:
    """The card's splits at `revision`, in one `load_dataset` call per config (the repository is resolved once)."""
    import datasets

    hub = card.source.hub
    kwargs = {"data_files": hub.data_files} if hub.data_files else {}
    try:
        return datasets.load_dataset(hub.path, config or hub.config, split=splits, revision=revision, **kwargs)
    except Exception as exc:  # datasets raises many types; the message is what users need
        raise DataError(f"card '{card.name}': loading {hub.path}@{revision[:12]} splits {', '.join(splits)} failed: {exc}") from None


def _write_split(card, ds, split_name: str, folder: Path, revision: str) -> dict[str, dict]:
    """Write one split as parquet (+ audio files); return the manifest entries of what was written."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    ds = ds.flatten_indices()
    features = ds.features.copy()
    table = ds.data.table
    written: dict[str, dict] = {}
    audio_col = card.role_column("audio")
    if audio_col is not None and audio_col in features:
        paths, audio_files = _write_audio(card, ds, audio_col, split_name, revision, folder)
        written.update(audio_files)
        table = table.set_column(table.column_names.index(audio_col), audio_col, pa.array(paths, pa.string()))
        features[audio_col] = datasets.Value("string")
    table = table.replace_schema_metadata(features.arrow_schema.metadata)
    path = folder / f"{split_name}.parquet"
    pq.write_table(table, path)
    written[path.name] = file_entry(path, rows=table.num_rows)
    return written


def _write_audio(card, ds, column: str, split_name: str, revision: str, folder: Path) -> tuple[list[str], dict[str, dict]]:
    """Audio of one split as files under `audio/<split>/`; returns their relative paths and manifest entries."""
    import datasets

    feature = ds.features[column]
    out_dir = folder / "audio" / split_name
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, entries = [], {}
    if isinstance(feature, datasets.Audio):
        values = ds.cast_column(column, datasets.Audio(decode=False))[column]
        for i, value in enumerate(values):
            suffix = Path(value.get("path") or "").suffix.lower()
            target = out_dir / f"{i:06d}{suffix if suffix in AUDIO_SUFFIXES else '.wav'}"
            if value.get("bytes") is not None:
                target.write_bytes(value["bytes"])
            elif value.get("path") and Path(value["path"]).exists():
                shutil.copyfile(value["path"], target)
            else:
                raise DataError(f"card '{card.name}': split '{split_name}' row {i + 1}: audio has neither bytes nor a readable path")
            rel = target.relative_to(folder).as_posix()
            paths.append(rel)
            entries[rel] = file_entry(target)
    else:  # a column of paths to audio files inside the dataset repository
        from huggingface_hub import hf_hub_download

        for i, repo_path in enumerate(ds[column]):
            if not isinstance(repo_path, str) or not repo_path:
                raise DataError(f"card '{card.name}': split '{split_name}' row {i + 1}: audio column '{column}' holds {repo_path!r}, not a path")
            cached = hf_hub_download(card.source.hub.path, repo_path, repo_type="dataset", revision=revision)
            target = out_dir / Path(repo_path).name
            if target.exists():
                target = out_dir / f"{i:06d}-{Path(repo_path).name}"
            shutil.copyfile(cached, target)
            rel = target.relative_to(folder).as_posix()
            paths.append(rel)
            entries[rel] = file_entry(target)
    return paths, entries
