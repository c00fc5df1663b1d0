"""
Writes src/blocks/registry-blocks.json: the block types a Prefect server registers at start
from the client block registry (notification webhooks, file systems, Secret, ...), taken from
an installed Prefect so they match it exactly. The collection block types (prefect-aws, ...)
come from the wheel's collection_blocks_data.json instead (scripts/fetch-prefect-ui.ts).

Usage: /path/to/venv-with-prefect/bin/python scripts/gen-registry-blocks.py
"""

import json
from pathlib import Path

import prefect
import prefect.plugins
import prefect.server.api.server  # noqa: F401  what the server process imports, and so registers
from prefect.blocks.core import Block
from prefect.utilities.dispatch import get_registry_for_type

TYPE_KEYS = ["name", "slug", "logo_url", "documentation_url", "description", "code_example"]

prefect.plugins.load_prefect_collections()


def entry(block):
    block_type = block._to_block_type().model_dump(mode="json")
    block_schema = block._to_block_schema(block_type_id=block._to_block_type().id).model_dump(mode="json")
    return {
        "block_type": {key: block_type[key] for key in TYPE_KEYS},
        "block_schema": {key: block_schema[key] for key in ["checksum", "fields", "capabilities", "version"]},
    }


registry = get_registry_for_type(Block) or {}
blocks = {"prefect_version": prefect.__version__, "blocks": [entry(registry[slug]) for slug in sorted(registry)]}
target = Path(__file__).resolve().parent.parent / "src" / "blocks" / "registry-blocks.json"
target.write_text(json.dumps(blocks, indent=2, ensure_ascii=False) + "\n")
print(f"wrote {target}")
