"""
Writes src/ui/prefect-settings.json: Prefect's default settings tree, as its
`GET /admin/settings` returns it (secrets obfuscated), from an installed Prefect run with
no PREFECT_* variables and no profile. prefect-lite answers this tree with its own values
put in (src/ui/settings-tree.ts); the UI's Settings page shows it.

Usage: env -i HOME=$(mktemp -d) /path/to/venv-with-prefect/bin/python scripts/gen-prefect-settings.py
"""

import json
import os
from pathlib import Path

import prefect.settings

settings = prefect.settings.Settings().model_dump(mode="json")
home = str(prefect.settings.Settings().home)


def relative_to_home(value):
    """Paths under the home become `$PREFECT_HOME/...`, filled in at run time."""
    if isinstance(value, dict):
        return {key: relative_to_home(item) for key, item in value.items()}
    if isinstance(value, list):
        return [relative_to_home(item) for item in value]
    if isinstance(value, str) and value.startswith(home):
        return "$PREFECT_HOME" + value[len(home):]
    return value


target = Path(__file__).resolve().parent.parent / "src" / "ui" / "prefect-settings.json"
target.write_text(json.dumps({"prefect_version": prefect.__version__, "settings": relative_to_home(settings)}, indent=2) + "\n")
print(f"wrote {target}")
