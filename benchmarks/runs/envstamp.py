"""The environment stamp stored with every run: what produced these numbers."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "polyglue", "torch", "torchaudio", "transformers", "tokenizers", "datasets", "numpy", "scipy",
    "scikit-learn", "pyarrow", "seqeval", "jiwer", "soundfile", "s3prl", "ray",
)


def _git_hash(path: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        if out.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_name(device: str = "cpu") -> str:
    """Readable device; asks torch only if a run already imported it (bow-only runs never do)."""
    torch = sys.modules.get("torch")
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({_cpu_name()}, {os.cpu_count()} cores)"


def environment_stamp() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    package_dir = Path(__file__).resolve().parents[2]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "polyglue_git": _git_hash(package_dir),
        "cwd_git": _git_hash(Path.cwd()),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
    }
