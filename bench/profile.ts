#!/usr/bin/env bun
/**
 * `npm run bench:profile [-- SECONDS CLIENTS]`: prefect-lite from source under
 * `bun --cpu-prof`, pinned to core 0, driven by the benchmark's flow-run lifecycle load
 * (default 20 s at 8 clients) from core 1; prints the functions with the most self time
 * and keeps the profile (open it in Chrome DevTools or speedscope) in bench/results/.
 * `bun bench/profile.ts --analyze FILE` prints the summary of an existing profile.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { cpus } from "node:os";
import { join, relative } from "node:path";
import { closedLoop, lifecycle, post } from "./lib/load";
import { CLIENT_CORE, hasTaskset, newHome, removeHome, repoRoot, startServer } from "./lib/proc";

/** `--analyze FILE`: only print the summary of an existing .cpuprofile. */
const analyzeOnly = process.argv[2] === "--analyze" ? process.argv[3] : undefined;
const [seconds = 20, clients = 8] = analyzeOnly ? [] : process.argv.slice(2).map(Number);

if (!analyzeOnly && process.env.PREFECT_BENCH_PINNED !== "1" && hasTaskset() && cpus().length >= 2) {
  const child = Bun.spawnSync(["taskset", "-c", CLIENT_CORE, process.execPath, import.meta.path, ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, PREFECT_BENCH_PINNED: "1" },
  });
  process.exit(child.exitCode ?? 1);
}

let profilePath = analyzeOnly ?? "";
let home = "";
if (!analyzeOnly) {
  home = newHome("profile");
  const profDir = join(home, "prof");
  mkdirSync(profDir);
  const server = await startServer("lite", home, { bunFlags: ["--cpu-prof", `--cpu-prof-dir=${profDir}`] });
  let result;
  try {
    const flow = await post(server.apiUrl, "/flows/", { name: "bench-profile" });
    result = await closedLoop(clients, seconds, 2, (n) => lifecycle(server.apiUrl, flow.id, n));
  } finally {
    await server.stop(); // the profile is written when the process exits
  }
  console.log(
    `lifecycle x${clients} for ${seconds} s under --cpu-prof: ${result.opsPerSec.toFixed(1)} runs/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ${result.errors} errors`,
  );
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) {
    console.error(`no .cpuprofile in ${profDir}`);
    process.exit(1);
  }
  profilePath = join(profDir, file);
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
const profile = JSON.parse(readFileSync(profilePath, "utf8")) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
};
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) => {
  const f = n.callFrame;
  const path = f.url.replace(/^file:\/\//, "");
  const where = path ? `${path.startsWith("/") ? relative(repoRoot, path) : path}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"}${where ? `  ${where}` : ""}`;
};
const isOwn = (n: Node) => n.callFrame.url.includes("/src/") && !n.callFrame.url.includes("node_modules");

const self = new Map<string, number>();
/** inclusive time of the project's own functions (each counted once per sample) */
const inclusive = new Map<string, number>();
/** time in native SQLite calls (bun:sqlite's run/values/get/all), by the nearest src/ caller */
const sqliteBy = new Map<string, number>();
const bump = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
let total = 0;
let sqliteTotal = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time runs until the next one
  const leaf = byId.get(id)!;
  bump(self, label(leaf), dt);
  total += dt;
  const seen = new Set<string>();
  const nativeSqlite = !leaf.callFrame.url && ["run", "values", "get", "all"].includes(leaf.callFrame.functionName);
  let sqliteCharged = !nativeSqlite;
  if (nativeSqlite) sqliteTotal += dt;
  for (let n: Node | undefined = leaf; n; n = parent.has(n.id) ? byId.get(parent.get(n.id)!) : undefined) {
    if (!isOwn(n)) continue;
    const k = label(n);
    if (!seen.has(k)) bump(inclusive, k, dt);
    seen.add(k);
    if (!sqliteCharged) {
      bump(sqliteBy, k, dt);
      sqliteCharged = true;
    }
  }
});
const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${(v / 1000).toFixed(0).padStart(8)} ms ${pct(v)}  ${k}`);
};
console.log(`\n${(total / 1e6).toFixed(1)} s sampled (1 ms interval) on the server's only JS thread; native bun:sqlite calls: ${pct(sqliteTotal)}`);
print("self time, top 25 (native functions have no location):", self, 25);
print("native SQLite time by the src/ function that issued it, top 10:", sqliteBy, 10);
print("inclusive time of src/ functions, top 20:", inclusive, 20);

if (!analyzeOnly) {
  const outDir = join(repoRoot, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const kept = join(outDir, "lite-lifecycle.cpuprofile");
  renameSync(profilePath, kept);
  if (existsSync(home)) removeHome(home);
  console.log(`\nprofile: ${relative(process.cwd(), kept)} (summary again: bun bench/profile.ts --analyze ${relative(process.cwd(), kept)})`);
}
