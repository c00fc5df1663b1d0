/** Prefect's SizedParameters: the bound on flow-run and deployment parameters (PREFECT_SERVER_API_MAX_PARAMETER_SIZE). */
import { InvalidInput } from "../domain/errors";
import type { JsonObject } from "../lib/json";

/** Python's `json.dumps(..., separators=(",", ":"))` byte length, close enough for the size guard. */
const serializedSize = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** Throws Prefect's 422 when `parameters` serialise to more than `maxBytes` (0: no bound). */
export function checkParameterSize(parameters: JsonObject | null | undefined, maxBytes: number, requestBody: unknown): void {
  if (maxBytes <= 0 || !parameters || Object.keys(parameters).length === 0) return;
  const size = serializedSize(parameters);
  if (size <= maxBytes) return;
  const msg = `Value error, Flow run parameters must be less than ${maxBytes.toLocaleString("en-US")} bytes when serialized (got ${size.toLocaleString("en-US")} bytes).`;
  throw new InvalidInput([{ type: "value_error", loc: ["body", "parameters"], msg, input: parameters }], requestBody);
}
