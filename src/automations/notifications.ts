/**
 * The HTTP side of `call-webhook` and `send-notification`: what Prefect's blocks do when
 * called (prefect/blocks/webhook.py, prefect/blocks/notifications.py). Slack, Microsoft Teams
 * and Discord go through Apprise in Prefect; here each gets the JSON body its incoming-webhook
 * API documents, with the subject as the title. Block types whose notify needs a client
 * library (email, PagerDuty, Twilio, ...) are reported as failed with that reason.
 */
import { isIP } from "node:net";
import type { JsonObject, JsonValue } from "../lib/json";
import { isJsonObject } from "../lib/json";
import { truncatedTo } from "../events/model";

/** How long one webhook or notification request may take (httpx's default is 5 s; Prefect's CustomWebhook 10 s). */
const REQUEST_TIMEOUT_MS = 10_000;

/** Header names whose values never go into an event (utilities/http.py should_redact_header). */
const REDACTED_HEADERS = /^(authorization|cookie|set-cookie|proxy-authorization|x-api-key|api-key)$|token|secret|key|auth|password/i;

/** validate_restricted_url, for literal hosts: private, loopback and link-local addresses are refused. */
function restrictedUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not a valid URL.`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `'${url}' is not a valid URL.  Only HTTP and HTTPS URLs are allowed.`;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const privateHost =
    host === "localhost" ||
    (isIP(host) === 4 && /^(127\.|10\.|192\.168\.|169\.254\.|0\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host)) ||
    (isIP(host) === 6 && /^(::1$|fc|fd|fe80:)/i.test(host));
  return privateHost ? `'${url}' is not a valid URL.  It resolves to a private address.` : null;
}

const secretValue = (value: JsonValue | undefined): string => (typeof value === "string" ? value : "");
const secretDict = (value: JsonValue | undefined): Record<string, string> =>
  isJsonObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])) : {};

async function request(fetcher: typeof fetch, url: string, init: RequestInit): Promise<Response> {
  return fetcher(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: "follow" });
}

/** Webhook.call with a string payload (the body as it is); the result details of the call. */
export async function callWebhook(fetcher: typeof fetch, data: JsonObject, payload: string): Promise<JsonObject> {
  const url = secretValue(data.url);
  if (data.allow_private_urls === false) {
    const restricted = restrictedUrl(url);
    if (restricted) throw new Error(restricted);
  }
  const method = typeof data.method === "string" ? data.method : "POST";
  const response = await request(fetcher, url, {
    method,
    headers: secretDict(data.headers),
    ...(method !== "GET" && payload !== "" && { body: payload }),
  });
  const text = await response.text();
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!REDACTED_HEADERS.test(name)) headers[name] = value;
  });
  return { status_code: response.status, response_body: truncatedTo(1000, text), response_headers: headers };
}

/** CustomWebhookNotificationBlock's `{{key}}` substitution (utilities/templating.py apply_values). */
function applyValues(template: JsonValue | undefined, values: Record<string, string>): JsonValue | undefined {
  if (typeof template === "string") {
    const whole = /^\{\{\s*([\w.-]+)\s*\}\}$/.exec(template);
    if (whole && whole[1]! in values) return values[whole[1]!]!;
    return template.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (match, name: string) => (name in values ? values[name]! : match));
  }
  if (Array.isArray(template)) return template.map((item) => applyValues(item, values) ?? null);
  if (isJsonObject(template)) return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, applyValues(v, values) ?? null]));
  return template;
}

/** Apprise's title/body joining for services without a title field. */
const titled = (subject: string, body: string) => (subject ? `${subject}\r\n${body}` : body);

/**
 * NotificationBlock.notify for the block types that are plain HTTP. Returns null when sent,
 * else the failure's log (the action fails with it).
 */
export async function notify(fetcher: typeof fetch, slug: string, data: JsonObject, subject: string, body: string, name: string | null): Promise<string | null> {
  let url: string;
  let init: RequestInit;
  const json = (payload: JsonValue): RequestInit => ({ method: "POST", headers: { "content-type": "application/json", "user-agent": "Prefect Notifications" }, body: JSON.stringify(payload) });
  switch (slug) {
    case "slack-webhook":
      url = secretValue(data.url);
      init = json({ text: subject ? `*${subject}*\n${body}` : body, mrkdwn: true });
      break;
    case "discord-webhook": {
      const id = secretValue(data.webhook_id);
      const token = secretValue(data.webhook_token);
      url = id.startsWith("http") ? id : `https://discord.com/api/webhooks/${id}/${token}`;
      init = json({
        content: titled(subject, body),
        tts: data.tts === true,
        ...(typeof data.username === "string" && data.username && { username: data.username }),
        ...(typeof data.avatar_url === "string" && data.avatar_url && { avatar_url: data.avatar_url }),
      });
      break;
    }
    case "ms-teams-webhook":
    case "microsoft-teams-webhook":
      url = secretValue(data.url);
      init = json({
        type: "message",
        attachments: [
          {
            contentType: "application/vnd.microsoft.card.adaptive",
            content: {
              $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
              type: "AdaptiveCard",
              version: "1.4",
              body: [
                ...(subject ? [{ type: "TextBlock", text: subject, weight: "bolder", size: "medium", wrap: true }] : []),
                { type: "TextBlock", text: body, wrap: true },
              ],
            },
          },
        ],
      });
      break;
    case "custom-webhook": {
      if (data.form_data != null && data.json_data != null) return "both `Form Data` and `JSON Data` provided";
      const values = { ...secretDict(data.secrets), subject: subject ?? "null", body, name: name ?? "" };
      url = String(applyValues(data.url, values) ?? "");
      const params = applyValues(data.params ?? null, values);
      if (isJsonObject(params)) {
        const target = new URL(url);
        for (const [k, v] of Object.entries(params)) target.searchParams.append(k, String(v));
        url = target.toString();
      }
      const headers: Record<string, string> = { "user-agent": "Prefect Notifications", ...secretDict(applyValues(data.headers ?? null, values) ?? undefined) };
      const cookies = secretDict(applyValues(data.cookies ?? null, values) ?? undefined);
      if (Object.keys(cookies).length > 0) headers.cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join("; ");
      let payload: string | undefined;
      const form = applyValues(data.form_data ?? null, values);
      const jsonData = applyValues(data.json_data ?? null, values);
      if (typeof form === "string") payload = form;
      else if (isJsonObject(form)) {
        payload = new URLSearchParams(Object.entries(form).map(([k, v]): [string, string] => [k, String(v)])).toString();
        headers["content-type"] = "application/x-www-form-urlencoded";
      } else if (jsonData != null) {
        payload = JSON.stringify(jsonData);
        headers["content-type"] = "application/json";
      }
      init = { method: typeof data.method === "string" ? data.method : "POST", headers, ...(payload !== undefined && { body: payload }) };
      break;
    }
    default:
      return `The referenced block type '${slug}' cannot send notifications from prefect-lite (only slack-webhook, ms-teams-webhook, discord-webhook and custom-webhook are sent over HTTP)`;
  }
  if (data.allow_private_urls === false) {
    const restricted = restrictedUrl(url);
    if (restricted) return restricted;
  }
  try {
    const response = await request(fetcher, url, init);
    if (!response.ok) return `${slug} answered ${response.status}: ${truncatedTo(1000, await response.text())}`;
    return null;
  } catch (error) {
    return `${slug} request failed: ${(error as Error).message}`;
  }
}
