/**
 * Starting and stopping the two servers as child processes pinned to core 0,
 * and reading their memory from /proc.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "../..");
export const liteBinary = join(repoRoot, "dist/prefect-lite");
export const venvDir = join(repoRoot, "bench/.venv");
export const venvPython = join(venvDir, "bin/python");
export const PREFECT_VERSION = "3.9.1";

export type ServerKey = "lite" | "python";
/** Each server's database file inside its PREFECT_HOME. */
export const DB_FILE: Record<ServerKey, string> = { lite: "prefect-lite.db", python: "prefect.db" };
export const LABEL: Record<ServerKey, string> = { lite: "prefect-lite", python: `Prefect ${PREFECT_VERSION}` };

/** The core the servers (and the in-process scheduler ticks) run on; the load generator has the other. */
export const SERVER_CORE = "0";
export const CLIENT_CORE = "1";

export function hasTaskset(): boolean {
  return existsSync("/usr/bin/taskset") || existsSync("/bin/taskset");
}

export const pinned = (core: string, cmd: string[]) => (hasTaskset() ? ["taskset", "-c", core, ...cmd] : cmd);

/** The environment without any PREFECT_* variable of the caller's, so neither server sees a stray setting. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PREFECT_")) env[k] = v;
  return { ...env, ...extra };
}

export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

export const newHome = (tag: string) => mkdtempSync(join(tmpdir(), `prefect-bench-${tag}-`));
export const removeHome = (dir: string) => rmSync(dir, { recursive: true, force: true });

export interface Running {
  key: ServerKey;
  pid: number;
  port: number;
  apiUrl: string;
  home: string;
  /** Milliseconds from spawn to the first 200 from /api/health. */
  readyMs: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  services?: boolean;
  timeoutMs?: number;
  /** Run prefect-lite from source with these extra bun flags (profiling) instead of the binary. */
  bunFlags?: string[];
  /** A postgresql:// URL to serve from instead of SQLite in the home. */
  postgresUrl?: string;
}

/** The command and environment that start one server, the way a user would start it. */
function command(key: ServerKey, port: number, home: string, opts: StartOptions): { cmd: string[]; env: Record<string, string> } {
  const services = opts.services ?? true;
  if (key === "lite") {
    const exe = opts.bunFlags ? [process.execPath, ...opts.bunFlags, join(repoRoot, "src/main.ts")] : [liteBinary];
    const cmd = [...exe, "--host", "127.0.0.1", "--port", String(port), "--db", opts.postgresUrl ?? join(home, DB_FILE.lite)];
    if (!services) cmd.push("--no-services");
    return { cmd, env: cleanEnv({ PREFECT_HOME: home }) };
  }
  const cmd = [join(venvDir, "bin/prefect"), "server", "start", "--host", "127.0.0.1", "--port", String(port)];
  if (!services) cmd.push("--no-services");
  return {
    cmd,
    env: cleanEnv({
      PREFECT_HOME: home,
      // No phoning home, and no UI: prefect-lite serves none, and the Python server would copy
      // and serve its static bundle at start (leaving it on would only slow the Python side).
      PREFECT_SERVER_ANALYTICS_ENABLED: "false",
      PREFECT_SERVER_UI_ENABLED: "false",
      PYTHONDONTWRITEBYTECODE: "1",
      ...(opts.postgresUrl ? { PREFECT_API_DATABASE_CONNECTION_URL: opts.postgresUrl.replace(/^postgres(ql)?:/, "postgresql+asyncpg:") } : {}),
    }),
  };
}

export async function startServer(key: ServerKey, home: string, opts: StartOptions = {}): Promise<Running> {
  const port = freePort();
  const apiUrl = `http://127.0.0.1:${port}/api`;
  const { cmd, env } = command(key, port, home, opts);
  const logPath = join(home, `server-${Date.now()}.log`);
  const started = performance.now();
  const child = Bun.spawn(pinned(SERVER_CORE, cmd), {
    cwd: home,
    env,
    stdin: "ignore",
    stdout: Bun.file(logPath),
    stderr: Bun.file(logPath + ".err"),
  });
  const pid = child.pid;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const tree = descendants(pid);
    child.kill("SIGTERM");
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
    if (!exited) {
      console.error(`  ${LABEL[key]} (pid ${pid}) ignored SIGTERM for 20 s: SIGKILL`);
      child.kill("SIGKILL");
      await child.exited;
    }
    // A child process of the server's that outlived it (none expected): end it by its pid.
    for (const p of tree) if (p !== pid && alive(p)) process.kill(p, "SIGKILL");
  };
  const deadline = started + (opts.timeoutMs ?? 60_000);
  while (performance.now() < deadline) {
    if (child.exitCode !== null) {
      const err = existsSync(logPath + ".err") ? readFileSync(logPath + ".err", "utf8") : "";
      throw new Error(`${LABEL[key]} exited with ${child.exitCode} before it was healthy:\n${err.slice(-3000)}`);
    }
    const healthy = await fetch(`${apiUrl}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) return { key, pid, port, apiUrl, home, readyMs: performance.now() - started, stop };
    await Bun.sleep(1);
  }
  await stop();
  throw new Error(`${LABEL[key]} was not healthy after ${opts.timeoutMs ?? 60_000} ms (log: ${logPath})`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** pid and all its descendants, from the ppid field of /proc/<pid>/stat. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

export interface Memory {
  /** Sum of VmRSS over the process and its descendants, MiB. */
  rssMiB: number;
  /** Sum of VmHWM (peak RSS) over the process and its descendants, MiB. */
  hwmMiB: number;
  processes: number;
}

export function memory(pid: number): Memory {
  let rss = 0;
  let hwm = 0;
  let processes = 0;
  for (const p of descendants(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      const kb = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0);
      rss += kb("VmRSS");
      hwm += kb("VmHWM");
      processes++;
    } catch {
      // exited meanwhile
    }
  }
  return { rssMiB: rss / 1024, hwmMiB: hwm / 1024, processes };
}

/** Samples the tree's RSS every `everyMs` until stopped; returns the largest sum seen. */
export function rssSampler(pid: number, everyMs = 100): { stop(): number } {
  let peak = memory(pid).rssMiB;
  const timer = setInterval(() => {
    peak = Math.max(peak, memory(pid).rssMiB);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, memory(pid).rssMiB);
    },
  };
}
