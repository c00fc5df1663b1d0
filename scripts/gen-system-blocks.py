"""
Writes src/blocks/system-blocks.json: the block types and schemas Prefect's
`POST /block_types/install_system_block_types` registers (Webhook, Secret,
LocalFileSystem), taken from an installed Prefect so they match it exactly.

Usage: /path/to/venv-with-prefect/bin/python scripts/gen-system-blocks.py
"""

import json
from pathlib import Path

import prefect
from prefect.blocks.system import Secret
from prefect.blocks.webhook import Webhook
from prefect.filesystems import LocalFileSystem

TYPE_KEYS = ["name", "slug", "logo_url", "documentation_url", "description", "code_example"]


def entry(block):
    block_type = block._to_block_type().model_dump(mode="json")
    block_schema = block._to_block_schema(block_type_id=block._to_block_type().id).model_dump(mode="json")
    return {
        "block_type": {key: block_type[key] for key in TYPE_KEYS},
        "block_schema": {key: block_schema[key] for key in ["checksum", "fields", "capabilities", "version"]},
    }


blocks = {"prefect_version": prefect.__version__, "blocks": [entry(b) for b in [Webhook, Secret, LocalFileSystem]]}
target = Path(__file__).resolve().parent.parent / "src" / "blocks" / "system-blocks.json"
target.write_text(json.dumps(blocks, indent=2, ensure_ascii=False) + "\n")
print(f"wrote {target}")
