"""Secret and JSON blocks saved and loaded; Variable.set/get.

Prefect 3.9 dropped the `JSON` system block, so the JSON block is a user-defined block type
holding any JSON value (plus a secret field, obfuscated like the Secret block's). The server must hold the block types, schemas and documents the SDK registers (a second save
without overwrite is refused, with overwrite=True it replaces the value), keep the secret
obfuscated unless include_secrets is asked for, and store variables of any JSON type.
"""

from _common import check, check_equal, client, fail, main, suffix
from prefect import flow
from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from prefect.variables import Variable
from pydantic import JsonValue, SecretStr


class JSON(Block):
    """A JSON value, as the removed prefect.blocks.system.JSON held."""

    _block_type_name = "S07 JSON"
    value: JsonValue
    token: SecretStr = SecretStr("t0ken")


@flow(name="s07-uses-config")
def uses_config(secret_name: str, json_name: str, var_name: str) -> dict:
    # Blocks and variables are loaded inside a flow run as well as outside.
    return {
        "secret": Secret.load(secret_name).get(),
        "json": JSON.load(json_name).value,
        "var": Variable.get(var_name),
    }


def scenario() -> None:
    tag = suffix()
    secret_name, json_name, var_name = f"s07-secret-{tag}", f"s07-json-{tag}", f"s07_var_{tag}"

    Secret(value="s3cr3t-1").save(secret_name)
    JSON(value={"rows": [1, 2, 3], "nested": {"ok": True}}).save(json_name)
    try:
        Secret(value="other").save(secret_name)
    except ValueError:
        pass  # the server said 409: the block document exists
    else:
        fail("saving an existing block without overwrite=True should fail (the server must answer 409)")
    Secret(value="s3cr3t-2").save(secret_name, overwrite=True)

    check_equal(Secret.load(secret_name).get(), "s3cr3t-2", "the secret after overwrite")
    check_equal(JSON.load(json_name).value, {"rows": [1, 2, 3], "nested": {"ok": True}}, "the JSON block's value")

    Variable.set(var_name, {"threshold": 42, "labels": ["a", "b"]})
    check_equal(Variable.get(var_name), {"threshold": 42, "labels": ["a", "b"]}, "Variable.get of a JSON object")
    try:
        Variable.set(var_name, 1)
    except ValueError:
        pass
    else:
        fail("Variable.set on an existing name without overwrite=True should fail")
    Variable.set(var_name, 7, overwrite=True)
    check_equal(Variable.get(var_name), 7, "Variable.get after overwrite")
    check_equal(Variable.get(f"s07_missing_{tag}", default="fallback"), "fallback", "Variable.get of a missing name")
    Variable.set(f"{var_name}_text", "plain string", tags=["s07"])

    state = uses_config(secret_name, json_name, var_name, return_state=True)
    check(state.is_completed(), f"the flow loading blocks and variables should complete: {state!r}")
    check_equal(
        state.result(),
        {"secret": "s3cr3t-2", "json": {"rows": [1, 2, 3], "nested": {"ok": True}}, "var": 7},
        "values loaded inside a flow run",
    )

    with client() as c:
        secret_doc = c.read_block_document_by_name(secret_name, "secret", include_secrets=False)
        check_equal(secret_doc.block_type.slug, "secret", "block type of the secret")
        check(secret_doc.data.get("value") != "s3cr3t-2", f"the secret must be obfuscated by default: {secret_doc.data}")
        check_equal(
            c.read_block_document_by_name(secret_name, "secret", include_secrets=True).data["value"],
            "s3cr3t-2",
            "the secret with include_secrets",
        )
        json_doc = c.read_block_document_by_name(json_name, "s07-json", include_secrets=True)
        check_equal(
            json_doc.data, {"value": {"rows": [1, 2, 3], "nested": {"ok": True}}, "token": "t0ken"}, "the JSON block's data"
        )
        hidden = c.read_block_document_by_name(json_name, "s07-json", include_secrets=False)
        check(hidden.data.get("token") != "t0ken", f"the JSON block's secret field must be obfuscated: {hidden.data}")
        check_equal(hidden.data.get("value"), {"rows": [1, 2, 3], "nested": {"ok": True}}, "non-secret data stays visible")
        check_equal(json_doc.block_schema.fields.get("secret_fields"), ["token"], "the JSON block schema's secret_fields")
        names = {d.name for d in c.read_block_documents()}
        check({secret_name, json_name} <= names, f"both documents should be listed: {sorted(names)}")

        var = c.read_variable_by_name(var_name)
        check_equal(var.value, 7, "the variable's stored value")
        text_var = c.read_variable_by_name(f"{var_name}_text")
        check_equal((text_var.value, text_var.tags), ("plain string", ["s07"]), "the string variable and its tags")
        listed = {v.name for v in c.read_variables()}
        check({var_name, f"{var_name}_text"} <= listed, f"variables should be listed: {sorted(listed)}")

    Variable.unset(f"{var_name}_text")
    check_equal(Variable.get(f"{var_name}_text"), None, "a variable after unset")


if __name__ == "__main__":
    main(scenario)
