/** Prints a benchmark's table with what it ran on, and writes it with the raw figures as JSON. */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { PREFECT_VERSION, repoRoot } from "./proc";

export interface Report {
  argv: string[];
  /** performance.now() and the 1-minute load average when the benchmark began */
  t0: number;
  loadStart: number;
  outPath: string;
  mode: object;
  table: string;
  rows: object[];
  notes: string[];
  raw: object;
}

export function writeReport(r: Report): void {
  const notes = [
    ...r.notes,
    `load average (1 min) at start ${r.loadStart.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)}: the figures are only as steady as the machine was`,
  ];
  const cpuModel = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  const freeH = spawnSync("free", ["-h"], { encoding: "utf8" }).stdout ?? "";
  const machine = { nproc: cpus().length, cpu: cpuModel, memory: freeH.match(/^Mem:\s+(\S+)/m)?.[1] ?? "?", freeH: freeH.trim() };
  const command = `npm run bench${r.argv.length ? ` -- ${r.argv.join(" ")}` : ""}`;
  const git = (...args: string[]) => spawnSync("git", args, { cwd: repoRoot, encoding: "utf8" });
  const head = git("rev-parse", "--short", "HEAD");
  const commit =
    head.status === 0 ? `${head.stdout.trim()}${git("status", "--porcelain", "--untracked-files=no", "--", "src").stdout.trim() ? " + local changes in src/" : ""}` : null;
  const seconds = (performance.now() - r.t0) / 1000;
  console.log(`\n${command}  (${new Date().toISOString()}, ${seconds.toFixed(0)} s${commit ? `, prefect-lite at ${commit}` : ""})`);
  console.log(`machine: ${machine.nproc} cores (${machine.cpu}), ${machine.memory} RAM`);
  console.log(`\n${r.table}\n`);
  for (const n of notes) console.log(`- ${n}`);

  mkdirSync(dirname(r.outPath), { recursive: true });
  writeFileSync(
    r.outPath,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        command,
        commit,
        mode: r.mode,
        machine,
        seconds,
        versions: { prefectLite: JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version, prefect: PREFECT_VERSION, bun: Bun.version },
        table: r.table,
        rows: r.rows,
        notes,
        raw: r.raw,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nwrote ${r.outPath}`);
}
