"""The full-size generator's label noise: a stated fraction of labels disagrees with the text; 0 keeps the tests' fixtures."""

from __future__ import annotations

import re

import pyarrow.parquet as pq

from tests.fixtures.text_corpus import KEYWORDS
from tests.fixtures.text_mirrors import write_mirror


def _disagreeing(folder, n: int) -> float:
    table = pq.read_table(folder / "glue" / "sst2" / "train.parquet").to_pylist()
    assert len(table) == n
    wrong = sum(KEYWORDS["eng"][row["label"]] not in re.findall(r"\w+", row["sentence"]) for row in table)
    return wrong / n


def test_label_noise_redraws_the_stated_fraction_and_zero_leaves_the_fixture_as_it_was(tmp_path):
    n = 2000
    plain = write_mirror(tmp_path / "plain", "glue", ["sst2"], n=n, manifest=False)
    zero = write_mirror(tmp_path / "zero", "glue", ["sst2"], n=n, manifest=False, label_noise=0.0)
    noisy = write_mirror(tmp_path / "noisy", "glue", ["sst2"], n=n, manifest=False, label_noise=0.4)
    files = ("train.parquet", "validation.parquet", "test.parquet")
    for name in files:
        assert (plain / "glue" / "sst2" / name).read_bytes() == (zero / "glue" / "sst2" / name).read_bytes()
    assert _disagreeing(plain, n) == 0.0
    # 40% redrawn uniformly over 2 classes: about 20% disagree with the keyword in the text.
    assert 0.16 < _disagreeing(noisy, n) < 0.24
