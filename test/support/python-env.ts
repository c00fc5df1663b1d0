/**
 * The Python virtual environments the tests drive the executable with (.venv for the shared
 * acceptance suite, .venv-sdk for the real Prefect SDK). The first test that needs one creates
 * it from its pinned requirements file; later runs reuse it until that file changes, so a fresh
 * clone's `npm test` needs nothing but python3 on the PATH.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

export const repoRoot = join(import.meta.dir, "../..");

/** Where a venv keeps its interpreter: bin/python, or Scripts\python.exe on Windows. */
export function venvPython(venvDir: string): string {
  return process.platform === "win32" ? join(venvDir, "Scripts", "python.exe") : join(venvDir, "bin", "python");
}

/** The interpreter venvs are made from: $PYTHON3, else python3 (python on Windows) on the PATH. */
export function basePython(): string {
  const found = process.env.PYTHON3 ?? Bun.which("python3") ?? (process.platform === "win32" ? Bun.which("python") : null);
  if (!found) throw new Error("python3 is not on the PATH: the conformance and SDK tests need Python 3.10+ (set PYTHON3 to use another).");
  return found;
}

async function run(command: string[], what: string): Promise<void> {
  const child = Bun.spawn(command, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if ((await child.exited) !== 0) throw new Error(`${what} failed (exit ${child.exitCode}): ${command.join(" ")}\n${out}${err}`);
}

/**
 * The python of `<repo>/<name>` with `requirements` installed, creating or refreshing the venv
 * when its recorded requirements hash differs. Returns the interpreter path.
 */
export async function ensureVenv(name: string, requirements: string): Promise<string> {
  const dir = join(repoRoot, name);
  const python = venvPython(dir);
  const stamp = join(dir, ".requirements.sha256");
  const wanted = createHash("sha256").update(readFileSync(requirements)).digest("hex");
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === wanted) return python;

  const base = basePython();
  const source = relative(repoRoot, requirements);
  console.log(`prefect-lite tests: setting up ${name} from ${source} (once; later runs reuse it) ...`);
  const started = performance.now();
  await run([base, "-m", "venv", "--clear", dir], `creating ${name}`);
  await run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements], `installing ${source} into ${name}`);
  writeFileSync(stamp, `${wanted}\n`);
  console.log(`prefect-lite tests: ${name} ready in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return python;
}
