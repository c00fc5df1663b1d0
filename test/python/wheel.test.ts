/**
 * The Python package as a user gets it: builds the wheel for this machine (python/build_wheel.py
 * around dist/prefect-lite), installs it into a fresh venv and runs python/tests with pytest,
 * real @flow/@task code against the `prefect_lite` fixture. Prefect 3.9.1 itself is not
 * downloaded again: the fresh venv sees .venv-sdk's site-packages through a .pth file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostPlatform } from "../../scripts/release/platforms";
import { ensureBinary } from "../support/binary";
import { ensureVenv, repoRoot, venvPython } from "../support/python-env";

const pythonDir = join(repoRoot, "python");

async function run(command: string[], env: Record<string, string | undefined> = process.env) {
  const child = Bun.spawn(command, { cwd: tmpdir(), env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const exitCode = await child.exited;
  return { exitCode, stdout, stderr, output: `${stdout}${stderr}` };
}

async function check(command: string[]): Promise<string> {
  const result = await run(command);
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} exited ${result.exitCode}:\n${result.output}`);
  return result.stdout.trim();
}

let work: string;
let wheel: string;
let python: string;
let scriptsDir: string;

beforeAll(async () => {
  const sdkPython = process.env.PREFECT_SDK_PYTHON ?? (await ensureVenv(".venv-sdk", join(repoRoot, "test/sdk/requirements.txt")));
  const binary = await ensureBinary();
  work = mkdtempSync(join(tmpdir(), "prefect-lite-wheel-"));
  wheel = await check([sdkPython, join(pythonDir, "build_wheel.py"), "--binary", binary, "--out", join(work, "wheels")]);
  // A venv made from inside a venv is based on the same interpreter, so .venv-sdk's packages fit it.
  const venv = join(work, "venv");
  await check([sdkPython, "-m", "venv", venv]);
  python = venvPython(venv);
  const sdkSitePackages = await check([sdkPython, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]);
  const sitePackages = await check([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]);
  writeFileSync(join(sitePackages, "prefect-sdk.pth"), `${sdkSitePackages}\n`);
  await check([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, "-r", join(pythonDir, "tests/requirements.txt")]);
  scriptsDir = await check([python, "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"]);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("python package", () => {
  test("the wheel is py3-none for this platform and installs prefect-lite into the scripts directory", async () => {
    expect(wheel.endsWith(`-py3-none-${hostPlatform()!.wheelTag}.whl`)).toBe(true);
    const executable = readdirSync(scriptsDir).find((f) => f === hostPlatform()!.executable);
    expect(executable).toBeDefined();
    const version = await run([hostPlatform()!.executable, "--version"], { ...process.env, PATH: scriptsDir });
    expect(version.stdout.trim()).toBe(`prefect-lite ${(await Bun.file(join(repoRoot, "package.json")).json()).version}`);
  });

  test("python -m prefect_lite runs the same executable", async () => {
    const npmVersion = (await Bun.file(join(repoRoot, "package.json")).json()).version;
    expect(await check([python, "-m", "prefect_lite", "--version"])).toBe(`prefect-lite ${npmVersion}`);
  });

  test("python package, pyproject and npm package agree on the version", async () => {
    const npmVersion = (await Bun.file(join(repoRoot, "package.json")).json()).version;
    expect(await check([python, "-c", "import prefect_lite; print(prefect_lite.__version__)"])).toBe(npmVersion);
    expect(await Bun.file(join(pythonDir, "pyproject.toml")).text()).toContain(`version = "${npmVersion}"`);
  });

  test(
    "pytest with the prefect_lite fixture runs real flows and tasks",
    async () => {
      const home = join(work, "prefect-home");
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PREFECT_")));
      const result = await run([python, "-m", "pytest", join(pythonDir, "tests"), "-p", "no:cacheprovider", "-q"], {
        ...env,
        PREFECT_HOME: home,
        DO_NOT_TRACK: "1",
        PYTHONDONTWRITEBYTECODE: "1",
      });
      if (result.exitCode !== 0) throw new Error(`pytest exited ${result.exitCode}:\n${result.output}`);
      expect(result.stdout).toMatch(/\b7 passed\b/);
    },
    180_000,
  );
});
