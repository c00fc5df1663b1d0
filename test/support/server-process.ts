/**
 * Runs a prefect-lite executable as a child process on a free port, the way a
 * user would, and waits until /api/health answers. Used by the conformance
 * test and by scripts/startup-time.ts.
 *
 * With PREFECT_LITE_TEST_BACKEND=postgres each server gets a fresh PostgreSQL
 * database instead of its SQLite file (dropped when it stops): how CI runs the
 * acceptance suite and the SDK scenarios on both backends.
 */
import type { Subprocess } from "bun";
import { createTestDatabase, type TestDatabase } from "./postgres";

/** Which backend test servers use. */
export const TEST_BACKEND: "sqlite" | "postgres" = process.env.PREFECT_LITE_TEST_BACKEND === "postgres" ? "postgres" : "sqlite";

export interface ServerProcess {
  apiUrl: string;
  pid: number;
  /** Milliseconds from spawn to the first 200 from /api/health. */
  readyMs: number;
  /** Sends SIGTERM and resolves with the exit code and everything the server printed. */
  stop(): Promise<{ exitCode: number | null; stdout: string; stderr: string }>;
}

/** A port the kernel just handed out; free unless another process grabs it in the next moment. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

export async function startServerProcess(
  command: string[],
  options: { dbPath: string; timeoutMs?: number; env?: Record<string, string | undefined> },
): Promise<ServerProcess> {
  const port = freePort();
  const apiUrl = `http://127.0.0.1:${port}/api`;
  // a PostgreSQL URL given is used as it is (replicas share one database)
  const database: TestDatabase | null = TEST_BACKEND === "postgres" && !/^postgres/.test(options.dbPath) ? await createTestDatabase() : null;
  const started = performance.now();
  const child: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(
    [...command, "--host", "127.0.0.1", "--port", String(port), "--db", database?.url ?? options.dbPath],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: options.env ?? process.env },
  );
  // Drained from the start: a full pipe would block the server's writes.
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    child.kill("SIGTERM");
    const exitCode = await child.exited;
    await database?.drop();
    return { exitCode, stdout: await stdout, stderr: await stderr };
  };

  const deadline = started + (options.timeoutMs ?? 10_000);
  while (performance.now() < deadline) {
    if (child.exitCode !== null) {
      const { exitCode, stderr: output } = await stop();
      throw new Error(`${command.join(" ")} exited with ${exitCode} before it was healthy:\n${output}`);
    }
    const healthy = await fetch(`${apiUrl}/health`).then(
      (res) => res.ok,
      () => false, // not listening yet
    );
    if (healthy) return { apiUrl, pid: child.pid, readyMs: performance.now() - started, stop };
    await Bun.sleep(1);
  }
  const { stderr: output } = await stop();
  throw new Error(`${command.join(" ")} was not healthy after ${options.timeoutMs ?? 10_000} ms:\n${output}`);
}
