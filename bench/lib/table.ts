/** The benchmark's tables: figures formatted alike, and a Markdown table padded to be read as text. */

export type Better = "lower" | "higher";

export const fmt = (v: number | null, unit: string) => {
  if (v === null) return "–";
  if (Number.isInteger(v) && !unit) return String(v);
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
};

/** How many times better `ours` is than `theirs` (> 1: better, < 1: worse). */
export const advantage = (better: Better, ours: number | null, theirs: number | null) => {
  if (ours === null || theirs === null || ours === 0 || theirs === 0) return null;
  return better === "lower" ? theirs / ours : ours / theirs;
};

export const ratioText = (a: number | null) => (a === null ? "–" : `${a >= 10 ? a.toFixed(0) : a.toFixed(1)}×${a < 1 ? " (worse)" : ""}`);

export interface TableColumn {
  header: string;
  /** Figures are right-aligned, text (the figure's name, a target) left-aligned. */
  align: "left" | "right";
}

export function markdownTable(columns: TableColumn[], body: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (columns[i]!.align === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(" | ")} |`;
  const rule = `|${columns.map((c, i) => (c.align === "right" ? `${"-".repeat(widths[i]! + 1)}:` : "-".repeat(widths[i]! + 2))).join("|")}|`;
  return [line(columns.map((c) => c.header)), rule, ...body.map(line)].join("\n");
}
