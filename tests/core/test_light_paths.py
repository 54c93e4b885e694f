"""`bench list`, `bench validate` and `bench schema` never import torch, transformers or datasets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "datasets", "torchaudio", "sklearn")

SCRIPT = """
import json, sys
from polyglue.cli import main
code = main({args!r})
print(json.dumps({{"code": code, "loaded": sorted(m for m in {heavy!r} if m in sys.modules)}}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [["list"], ["list", "cards"], ["list", "models"], ["validate"], ["schema", "card"], ["show", "glue"]],
    ids=lambda a: " ".join(a),
)
def test_light_commands_leave_heavy_libraries_unimported(args):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(args=args, heavy=HEAVY)], capture_output=True, text=True, timeout=120
    )
    status = json.loads(proc.stderr.strip().splitlines()[-1])
    assert status["code"] == 0, proc.stderr
    assert status["loaded"] == []
