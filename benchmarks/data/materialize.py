"""Turn a card's split roles into Arrow tables: from `--data-dir`, local files, or the Hub.

Resolution order for a role: `DIR/<suite>/<card>/<split>.{parquet,jsonl,csv,tsv,conllu,conll}`
under `--data-dir` (what `bench fetch` writes), then the card's own source. A Hub source
is read through `datasets` at the pinned revision; when the Hub cannot be reached we fail
at once with a message naming `bench fetch` and `--data-dir` instead of retrying.
"""

from __future__ import annotations

import glob
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polyglue.cards.schema import Card
from polyglue.data.confine import inside
from polyglue.data.readers import DATA_DIR_EXTENSIONS, class_label_names, read_table
from polyglue.errors import DataError, UserError

TOKEN_FORMATS = ("conllu", "conll")
#: Extensions tried for `--data-dir` files: the mirror formats, raw SQuAD-style json, treebanks.
MIRROR_EXTENSIONS = DATA_DIR_EXTENSIONS + ("json",) + TOKEN_FORMATS
#: File extension -> reader format, for hub `data_files` read as they are.
EXTENSION_FORMATS = {"parquet": "parquet", "jsonl": "jsonl", "json": "json", "csv": "csv", "tsv": "tsv", "conllu": "conllu", "conll": "conll"}


@dataclass
class SplitData:
    """The rows of one split role, where they came from, and the label names the source declares."""

    role: str
    name: str
    table: pa.Table
    origin: str
    source_label_names: list[str] | None = None
    hidden_labels: bool = False
    dropped_unlabelled: int = 0
    """Rows removed because they carry no gold label (the split's `unlabelled: drop`)."""

    def __len__(self) -> int:
        return self.table.num_rows

    def column(self, name: str | None) -> list:
        """The column's values; `None` (a role the card does not map) is reported as a missing column."""
        if name is None or name not in self.table.column_names:
            raise DataError(
                f"{self.origin}: column '{name}' is missing (columns: {', '.join(self.table.column_names)})"
            )
        return self.table.column(name).to_pylist()


def drop_unlabelled(table: pa.Table, column: str | None) -> tuple[pa.Table, int]:
    """`table` without the rows whose label `column` holds no gold label, and how many went.

    "No gold label" is what `LabelSpace` reads as hidden: null, or a negative integer (Hugging
    Face's -1, e.g. SNLI's pairs without an annotator majority). A card asks for it per split
    (`unlabelled: drop`); without that such a row is a one-line DataError.
    """
    if column is None or column not in table.column_names:
        return table, 0
    values = table.column(column)
    keep = pc.is_valid(values)
    if pa.types.is_integer(values.type):
        keep = pc.and_(keep, pc.fill_null(pc.greater_equal(values, 0), False))
    kept = table.filter(keep)
    return kept, table.num_rows - kept.num_rows


def _truthy(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


def hub_offline_reason() -> str | None:
    """Why the Hub cannot be used right now, or None. Checked once, in well under a second."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if _truthy(var):
            return f"{var}=1 is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "huggingface.co", parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return f"{host}:{port} is unreachable ({exc.__class__.__name__})"


def has_mirror(card_name: str, suite: str | None, data_dir: Path | None) -> bool:
    """Whether `--data-dir` holds a local copy of the card (`DIR/<suite>/<card>/`): then the Hub is not needed."""
    return data_dir is not None and suite is not None and (Path(data_dir) / suite / card_name).is_dir()


def fetch_hint(suite: str | None) -> str:
    """The next step when the Hub is out of reach, in every message that says so."""
    suite = suite or "<suite>"
    return f"Mirror the suite once with `bench fetch --suite {suite} --to DIR` on a connected machine, then pass --data-dir DIR"


def local_root(card_path: Path | None) -> Path:
    """The folder a card's local files must stay in: two levels above the card's folder (the project
    folder of the `<project>/cards/<suite>/<card>.yaml` layout the demo and the tests write), or the
    working directory for a card without a file."""
    if card_path is None:
        return Path.cwd().resolve()
    return Path(card_path).resolve().parent.parent.parent


class DataResolver:
    """Materialises the splits of one card; `limit` keeps a fixed random sample of each split."""

    def __init__(
        self,
        card: Card,
        card_path: Path | None,
        *,
        suite: str | None = None,
        data_dir: Path | None = None,
        limit: int | None = None,
    ):
        self.card = card
        self.card_path = Path(card_path) if card_path else None
        self.suite = suite
        self.data_dir = Path(data_dir) if data_dir else None
        self.limit = limit
        self.dropped_unlabelled: dict[str, int] = {}
        """Role -> rows removed by the split's `unlabelled: drop`, for every split read so far."""

    # ------------------------------------------------------------------ public

    def split(self, role: str) -> SplitData:
        roles = self.card.splits.roles()
        if role not in roles:
            raise UserError(f"card '{self.card.name}' has no '{role}' split (it has {', '.join(roles)})")
        spec = roles[role]
        table, origin, names = self._load(role, spec.name, spec.config)
        dropped = 0
        if spec.unlabelled == "drop":  # before sampling, so `limit` draws from rows that can be scored
            table, dropped = drop_unlabelled(table, self.card.role_column("label"))
            self.dropped_unlabelled[role] = dropped
        if self.limit is not None and table.num_rows > self.limit:
            rng = np.random.default_rng(0)
            table = table.take(np.sort(rng.choice(table.num_rows, self.limit, replace=False)))
        return SplitData(role, spec.name, table, origin, names, spec.labels == "hidden", dropped)

    def card_data_dir(self) -> Path | None:
        if self.data_dir is None or self.suite is None:
            return None
        return self.data_dir / self.suite / self.card.name

    # ------------------------------------------------------------------ sources

    def _load(self, role: str, split_name: str, config: str | None = None) -> tuple[pa.Table, str, list[str] | None]:
        mirrored = self._from_data_dir(role, f"{config}-{split_name}" if config else split_name)
        if mirrored is not None:
            return mirrored
        source = self.card.source
        if source.local is not None:
            return self._from_local(split_name)
        if source.hub is not None:
            return self._from_hub(split_name, config)
        layout = source.layout.name if source.layout is not None else "no"  # schema: a card names one source
        raise UserError(
            f"card '{self.card.name}' reads the '{layout}' layout, which the "
            f"{self.card.modality} runner loads itself; give --data-dir"
        )

    def _label_column(self) -> str | None:
        return self.card.role_column("label") or self.card.role_column("tags")

    def _with_names(self, table: pa.Table, origin: str):
        col = self._label_column()
        return table, origin, (class_label_names(table, col) if col else None)

    def _token_columns(self) -> list[str]:
        return [self.card.role_column("tokens") or "tokens", self.card.role_column("tags") or "tags"]

    def _reader_columns(self, fmt: str) -> list[str] | None:
        """Column names a header-less file needs: CoNLL token/tag columns, or the card's csv/tsv columns."""
        if fmt == "conll":
            return self._token_columns()
        if fmt in ("csv", "tsv"):
            source = self.card.source
            return (source.hub.columns if source.hub else None) or (source.local.columns if source.local else None)
        return None

    def _from_data_dir(self, role: str, split_name: str):
        root = self.card_data_dir()
        if root is None or not root.is_dir():
            return None
        from polyglue.data.mirror import verify_mirror

        hub = self.card.source.hub
        manifest = verify_mirror(root, expected_revision=hub.revision if hub is not None and hub.pinned else None)
        listed = set((manifest or {}).get("files", {}))
        for stem in dict.fromkeys((split_name, role)):
            for ext in MIRROR_EXTENSIONS:
                path = root / f"{stem}.{ext}"
                if not path.exists():
                    continue
                if manifest is not None and path.name not in listed:
                    # A file the manifest does not list is not part of the verified mirror: never read it.
                    raise DataError(
                        f"mirror {root}: {path.name} is not listed in its manifest ({', '.join(sorted(listed)) or 'no files'}); "
                        f"remove it or re-run `bench fetch`"
                    )
                if not inside(root, path):
                    raise DataError(f"mirror {root}: {path.name} is a symlink that points outside the mirror; refused")
                return self._with_names(read_table(path, ext, self._reader_columns(ext)), str(path))
        return None

    def _from_local(self, split_name: str):
        local = self.card.source.local
        if local is None:  # called only when source.local is set
            raise UserError(f"card '{self.card.name}' has no source.local to read split '{split_name}' from")
        base = self.card_path.parent if self.card_path else Path.cwd()
        pattern = str(base / local.files[split_name])
        paths = sorted(glob.glob(pattern)) if any(ch in pattern for ch in "*?[") else [pattern]
        if not paths or not Path(paths[0]).exists():
            raise DataError(f"card '{self.card.name}': no file matches {pattern} (split '{split_name}')")
        root = local_root(self.card_path)
        for p in paths:
            # A data file may not be a symlink to somewhere other than where the card says it is,
            # nor lie outside the card's project folder (`../../../../etc/passwd`).
            lexical = Path(os.path.normpath(p))
            if not inside(lexical.parent, lexical):
                raise DataError(f"card '{self.card.name}': source.local.files.{split_name}: {lexical} is a symlink that points elsewhere; refused")
            if not inside(root, lexical):
                raise DataError(
                    f"card '{self.card.name}': source.local.files.{split_name}: {lexical} is outside {root}; "
                    f"local data must stay within the card's project folder (two levels above the card's folder)"
                )
        columns = local.columns
        if local.format == "conll" and columns is None:
            columns = self._token_columns()
        tables = [read_table(Path(p), local.format, columns) for p in paths]
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        return self._with_names(table, paths[0] if len(paths) == 1 else pattern)

    def _from_hub(self, split_name: str, config: str | None = None):
        hub = self.card.source.hub
        if hub is None:  # called only when source.hub is set
            raise UserError(f"card '{self.card.name}' has no source.hub to load split '{split_name}' from")
        config = config or hub.config
        where = f"{hub.path}{'/' + config if config else ''}@{hub.revision or 'unpinned'}"
        reason = hub_offline_reason()
        if reason is not None:
            raise UserError(
                f"card '{self.card.name}' needs {where} from the Hugging Face Hub, but {reason}. {fetch_hint(self.suite)} "
                f"(DIR/{self.suite or '<suite>'}/{self.card.name}/{split_name}.parquet)"
            )
        if hub.data_files:
            return self._from_hub_files(split_name, where)
        import datasets

        kwargs = {"revision": hub.revision} if hub.revision else {}
        try:
            ds = datasets.load_dataset(hub.path, config, split=split_name, **kwargs)
        except Exception as exc:  # datasets raises many types; the message is what users need
            raise DataError(f"card '{self.card.name}': loading {where} split '{split_name}' failed: {exc}") from None
        col = self._label_column()
        names = None
        if col and col in ds.features:
            feature = ds.features[col]
            names = getattr(feature, "names", None) or getattr(getattr(feature, "feature", None), "names", None)
        return ds.data.table.combine_chunks(), f"{where}:{split_name}", names

    def _from_hub_files(self, split_name: str, where: str):
        """Download the split's `data_files` as they are (pinned revision) and read them by extension."""
        from fnmatch import fnmatch

        import huggingface_hub

        hub = self.card.source.hub
        if hub is None or hub.data_files is None:  # called only when source.hub.data_files is set
            raise UserError(f"card '{self.card.name}' has no source.hub.data_files to download split '{split_name}' from")
        patterns = hub.data_files.get(split_name)
        if patterns is None:
            raise DataError(f"card '{self.card.name}': source.hub.data_files has no '{split_name}' entry ({', '.join(hub.data_files)})")
        files: list[str] = []
        try:
            listing = None
            for pattern in [patterns] if isinstance(patterns, str) else patterns:
                if any(ch in pattern for ch in "*?["):
                    listing = listing or huggingface_hub.list_repo_files(hub.path, repo_type="dataset", revision=hub.revision)
                    files += sorted(f for f in listing if fnmatch(f, pattern))
                else:
                    files.append(pattern)
            local = [huggingface_hub.hf_hub_download(hub.path, f, repo_type="dataset", revision=hub.revision) for f in files]
        except Exception as exc:  # hub errors come in many types; one line is what users need
            raise DataError(f"card '{self.card.name}': downloading {where} {split_name} files failed: {str(exc).splitlines()[0]}") from None
        if not files:
            raise DataError(f"card '{self.card.name}': no file in {where} matches {patterns}")
        tables = []
        for name, path in zip(files, local):
            fmt = EXTENSION_FORMATS.get(name.rsplit(".", 1)[-1].lower())
            if fmt is None:
                raise DataError(f"card '{self.card.name}': cannot tell the format of {name} (known: {', '.join(EXTENSION_FORMATS)})")
            tables.append(read_table(Path(path), fmt, self._reader_columns(fmt)))
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        return self._with_names(table, f"{where}:{files[0] if len(files) == 1 else patterns}")
