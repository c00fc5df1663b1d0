/**
 * Prefect stores block type descriptions and code examples HTML-escaped
 * (`html.escape(quote=False)`) and unescapes both sides before comparing them.
 */

export const htmlEscape = (text: string | null | undefined): string | null =>
  text == null ? null : text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** The common subset of `html.unescape`: the named entities escaping produces, and numeric ones. */
export const htmlUnescape = (text: string): string =>
  text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, body: string) => {
    if (body[0] !== "#") return ENTITIES[body.toLowerCase()] ?? entity;
    const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : Number(body.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
