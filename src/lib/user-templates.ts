/**
 * User templates: automation actions' and `jinja` parameter placeholders'
 * (prefect/server/utilities/user_templates.py and events/jinja_filters.py), rendered with
 * nunjucks, a Jinja2-compatible engine, in its Jinja compatibility mode (`True`/`None`, `dict.items()`, slices). Prefect renders in Jinja's
 * immutable sandbox; here the sandbox is:
 * - no loader, so `include`/`import`/`extends` cannot reach a file;
 * - member lookups of `constructor`, `prototype` and dunder names answer undefined, so no
 *   template reaches `Function` (nunjucks alone lets `"".constructor.constructor(...)` run);
 * - `range` is capped at MAX_TEMPLATE_RANGE items, loops are limited when the action is
 *   saved (src/lib/jinja-syntax.ts), and the output is cut at MAX_OUTPUT_CHARS.
 * The context holds plain data only; objects carry their Prefect kind so `ui_url` can link them.
 */
import nunjucks from "nunjucks";
import { pythonRepr } from "./python-repr";

/** user_templates.MAX_TEMPLATE_RANGE */
const MAX_TEMPLATE_RANGE = 100;
/** A rendered template longer than this is cut (an event payload cannot be larger anyway). */
const MAX_OUTPUT_CHARS = 1_000_000;

const BLOCKED_MEMBERS = new Set(["constructor", "prototype", "caller", "callee", "arguments"]);

type Runtime = {
  memberLookup: (obj: unknown, val: unknown) => unknown;
  suppressValue: (val: unknown, autoescape: boolean) => unknown;
  SafeString: new (value: string) => object;
};
const runtime = (nunjucks as unknown as { runtime: Runtime }).runtime;
const memberLookup = runtime.memberLookup;
runtime.memberLookup = (obj, val) => {
  if (typeof val === "string" && (BLOCKED_MEMBERS.has(val) || val.startsWith("__"))) return undefined;
  return memberLookup(obj, val);
};
// Output as Jinja prints Python values: None, True/False, and lists and dicts as their repr.
runtime.suppressValue = (val) => (val === undefined || val instanceof runtime.SafeString ? (val ?? "") : pythonStr(val));
nunjucks.installJinjaCompat();

/** Python's repr() of a JSON-like value. */
function pythonValueRepr(value: unknown): string {
  if (typeof value === "string") return pythonRepr(value);
  if (Array.isArray(value)) return `[${value.map(pythonValueRepr).join(", ")}]`;
  if (value && typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${pythonRepr(k)}: ${pythonValueRepr(v)}`).join(", ")}}`;
  return pythonStr(value);
}

/** Python's str() of a JSON-like value. */
function pythonStr(value: unknown): string {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "object" || Array.isArray(value)) return pythonValueRepr(value);
  return String(value);
}

/** Jinja's `tojson` (htmlsafe_json_dumps with sort_keys): Python's json.dumps separators, ASCII only, <>&' escaped. */
export function jinjaToJson(value: unknown, indent?: number): string {
  const dump = (v: unknown, level: number): string => {
    if (v === undefined || v === null) return "null";
    if (typeof v === "string") return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    if (typeof v !== "object") return JSON.stringify(v);
    const items = Array.isArray(v) ? v.map((x) => dump(x, level + 1)) : Object.keys(v).sort().map((k) => `${dump(k, level + 1)}: ${dump((v as Record<string, unknown>)[k], level + 1)}`);
    const [open, close] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
    if (items.length === 0) return `${open}${close}`;
    if (indent === undefined) return `${open}${items.join(", ")}${close}`;
    const pad = " ".repeat(indent * (level + 1));
    return `${open}\n${pad}${items.join(`,\n${pad}`)}\n${" ".repeat(indent * level)}${close}`;
  };
  return dump(value, 0).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026").replace(/'/g, "\\u0027");
}

/** The Prefect object kind (e.g. `prefect.flow-run`) of each context object, for `ui_url`. */
const kinds = new WeakMap<object, string>();

export function tagKind<T extends object>(obj: T, kind: string): T {
  kinds.set(obj, kind);
  return obj;
}

/** utilities/urls.py UI_URL_FORMATS, by resource kind. */
const UI_PATHS: Record<string, string> = {
  "prefect.flow": "flows/flow/",
  "prefect.flow-run": "runs/flow-run/",
  "prefect.task-run": "runs/task-run/",
  "prefect.deployment": "deployments/deployment/",
  "prefect.work-pool": "work-pools/work-pool/",
  "prefect.work-queue": "work-queues/work-queue/",
  "prefect.automation": "automations/automation/",
  "prefect.block-document": "blocks/block/",
  "prefect.concurrency-limit": "concurrency-limits/concurrency-limit/",
};

export class TemplateRenderError extends Error {
  constructor(
    readonly error: Error,
    readonly template: string,
  ) {
    super(error.message);
  }
}

/** user_templates.maybe_template */
export const maybeTemplate = (value: string) => value.includes("{{") || value.includes("{%");

export class TemplateRenderer {
  private readonly env: nunjucks.Environment;

  /** `uiUrl` is PREFECT_UI_URL (without a trailing slash), or null when there is none. */
  constructor(private readonly uiUrl: string | null) {
    this.env = new nunjucks.Environment([], { autoescape: false });
    this.env.addGlobal("range", (...args: number[]) => {
      const [start, stop, step] = args.length === 1 ? [0, args[0]!, 1] : [args[0]!, args[1]!, args[2] ?? 1];
      const size = step === 0 ? Infinity : Math.max(0, Math.ceil((stop - start) / step));
      if (size > MAX_TEMPLATE_RANGE) throw new Error(`Range too big. The sandbox blocks ranges larger than MAX_TEMPLATE_RANGE=${MAX_TEMPLATE_RANGE}.`);
      return Array.from({ length: size }, (_, i) => start + i * step);
    });
    this.env.addFilter("tojson", (value: unknown, indent?: number) => new nunjucks.runtime.SafeString(jinjaToJson(value, indent)));
    this.env.addFilter("ui_url", (obj: unknown) => this.objectUrl(obj));
    this.env.addFilter("ui_resource_events_url", (obj: unknown) => this.resourceEventsUrl(obj));
    this.env.addFilter("flow_run_id", (text: unknown) => {
      if (typeof text !== "string" || !text) return null;
      return /flow-run\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(text)?.[1] ?? null;
    });
  }

  /** render_user_template: a string without template syntax is returned as it is. */
  render(template: string, context: Record<string, unknown>): string {
    if (!maybeTemplate(template)) return template;
    try {
      const output = this.env.renderString(template, context);
      return output.length > MAX_OUTPUT_CHARS ? output.slice(0, MAX_OUTPUT_CHARS) : output;
    } catch (error) {
      throw new TemplateRenderError(error instanceof Error ? error : new Error(String(error)), template);
    }
  }

  private objectUrl(obj: unknown): string | null {
    if (!obj || typeof obj !== "object" || !this.uiUrl) return null;
    const kind = kinds.get(obj);
    const path = kind ? UI_PATHS[kind] : undefined;
    if (!path) return null;
    const record = obj as Record<string, unknown>;
    const id = kind === "prefect.work-pool" ? record.name : record.id;
    return typeof id === "string" ? `${this.uiUrl}/${path}${encodeURIComponent(id)}` : null;
  }

  private resourceEventsUrl(obj: unknown): string | null {
    if (!obj || typeof obj !== "object" || !this.uiUrl) return null;
    const kind = kinds.get(obj);
    const record = obj as Record<string, unknown>;
    let resourceId: string | null = null;
    if (kind === "resource" && typeof record["prefect.resource.id"] === "string") resourceId = record["prefect.resource.id"];
    else if (kind && kind !== "resource" && kind !== "prefect.work-pool" && typeof record.id === "string") resourceId = `${kind}.${record.id}`;
    return resourceId ? `${this.uiUrl}/events?resource=${resourceId}` : null;
  }
}

/** user_templates.matching_types_in_templates, approximately: the names a template loads. */
export function namesInTemplates(templates: string[], names: string[]): string[] {
  return names.filter((name) => templates.some((template) => new RegExp(`(?<![\\w.])${name}\\b`).test(template)));
}
