"""Writes the prefect-lite wheel for one platform: ``prefect_lite-<v>-py3-none-<tag>.whl`` holding
the Python package and the executable in ``<name>.data/scripts/``, which pip installs into the
environment's scripts directory (bin/ or Scripts\\), as ruff and uv ship theirs.

    python build_wheel.py --binary ../dist/prefect-lite --platform-tag manylinux_2_17_x86_64 --out DIR

It is also this folder's PEP 517 backend: ``pip wheel ./python`` builds for the running machine
from $PREFECT_LITE_BINARY or ../dist/prefect-lite (``npm run build``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import platform
import re
import stat
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "prefect_lite"

# The platform tags of the wheels `npm run release` builds (scripts/release/platforms.ts), by
# (sys.platform, machine), for building on the machine itself.
HOST_TAGS = {
    ("linux", "x86_64"): "manylinux_2_17_x86_64.manylinux2014_x86_64",
    ("linux", "aarch64"): "manylinux_2_17_aarch64.manylinux2014_aarch64",
    ("darwin", "x86_64"): "macosx_13_0_x86_64",
    ("darwin", "arm64"): "macosx_13_0_arm64",
    ("win32", "AMD64"): "win_amd64",
}


def _project() -> dict:
    text = (HERE / "pyproject.toml").read_text()
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)["project"]
    # Only the fields read below, for Pythons without tomllib.
    fields = dict(re.findall(r'^(name|version|description|requires-python) = "(.*)"$', text, re.M))
    return {**fields, "entry-points": {"pytest11": {"prefect_lite": "prefect_lite.pytest_plugin"}}}


def _metadata(project: dict) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
    ]
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + (HERE / "README.md").read_text()


def _entry_points(project: dict) -> str:
    out = []
    for group, entries in project.get("entry-points", {}).items():
        out.append(f"[{group}]")
        out += [f"{k} = {v}" for k, v in entries.items()]
    return "\n".join(out) + "\n"


def build(binary: Path, platform_tag: str, out_dir: Path) -> Path:
    project = _project()
    version = project["version"]
    dist_info = f"{NAME}-{version}.dist-info"
    executable = "prefect-lite.exe" if platform_tag.startswith("win") else "prefect-lite"
    wheel_tag = f"py3-none-{platform_tag}"
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel_path = out_dir / f"{NAME}-{version}-{wheel_tag}.whl"

    files: list[tuple[str, bytes, int]] = []  # (path in the wheel, content, unix mode)
    for source in sorted((HERE / "src" / NAME).rglob("*")):
        if source.is_file() and "__pycache__" not in source.parts:
            files.append((f"{NAME}/{source.relative_to(HERE / 'src' / NAME).as_posix()}", source.read_bytes(), 0o644))
    files.append((f"{NAME}-{version}.data/scripts/{executable}", binary.read_bytes(), 0o755))
    files.append((f"{dist_info}/METADATA", _metadata(project).encode(), 0o644))
    wheel_file = f"Wheel-Version: 1.0\nGenerator: prefect-lite build_wheel.py\nRoot-Is-Purelib: false\nTag: {wheel_tag}\n"
    files.append((f"{dist_info}/WHEEL", wheel_file.encode(), 0o644))
    files.append((f"{dist_info}/entry_points.txt", _entry_points(project).encode(), 0o644))

    record = []
    for path, content, _ in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(content)}")
    record.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644))

    with zipfile.ZipFile(wheel_path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for path, content, mode in files:
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, content)
    return wheel_path


def host_tag() -> str:
    key = (sys.platform, platform.machine())
    if key not in HOST_TAGS:
        raise RuntimeError(f"prefect-lite ships no binary for {key}")
    return HOST_TAGS[key]


# PEP 517 hooks.
def build_wheel(wheel_directory: str, config_settings: dict | None = None, metadata_directory: str | None = None) -> str:
    default = HERE.parent / "dist" / ("prefect-lite.exe" if os.name == "nt" else "prefect-lite")
    binary = Path(os.environ.get("PREFECT_LITE_BINARY", default))
    if not binary.is_file():
        raise RuntimeError(f"no executable at {binary}: run `npm run build` first or set PREFECT_LITE_BINARY")
    return build(binary, host_tag(), Path(wheel_directory)).name


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--platform-tag", default=None, help="wheel platform tag (default: this machine's)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(build(args.binary, args.platform_tag or host_tag(), args.out))
