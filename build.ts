/**
 * `npm run build`: regenerates the embedded migration list, then compiles
 * src/main.ts and the Bun runtime into one self-contained executable.
 *
 *   npm run build                       -> dist/prefect-lite (this machine)
 *   npm run build -- --all              -> dist/release/prefect-lite-<os>-<arch>[.exe] for every platform, + SHA256SUMS
 *   npm run build -- --target linux-arm64 [--target ...]   -> only those, into dist/release/
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { PLATFORMS, platformById, releaseName, type Platform } from "./scripts/release/platforms";
import { ensurePrefectUiPack } from "./scripts/fetch-prefect-ui";
import { startServerProcess } from "./test/support/server-process";

const root = import.meta.dir;
/** Multiplies JavaScriptCore's tier-up thresholds during start-up (see Bun.unsafe.setJITPolicy). */
const JIT_POLICY_AT_START = 50;

function run(args: string[]): void {
  console.log(`$ bun ${args.join(" ")}`);
  // process.execPath is the bun running this script, so the build needs no bun on PATH.
  const { exitCode } = Bun.spawnSync([process.execPath, ...args], { cwd: root, stdio: ["inherit", "inherit", "inherit"] });
  if (exitCode !== 0) process.exit(exitCode ?? 1);
}

/** Compiles for `platform` (Bun fetches that target's runtime from npm once), or for this machine. */
function compile(outfile: string, platform?: Platform, bytecodeOrder: string[] = []): void {
  // --bytecode precompiles the bundle so startup skips parsing; it defaults to CommonJS
  // output, which cannot hold main.ts's top-level await, hence --format=esm.
  // --compile-jit-policy raises the JIT's tier-up thresholds until main.ts resets them once the
  // server listens: start-up code runs once, and compiling it cost ~10 ms and ~5 MiB of idle RSS.
  const target = platform ? [`--target=${platform.bunTarget}`] : [];
  // --bytecode-order puts the bytecode a start-up uses first in the file (fewer pages read, less RSS).
  const order = bytecodeOrder.length > 0 ? [`--bytecode-order=${bytecodeOrder.join(",")}`] : [];
  run(["build", "--compile", "--minify", "--bytecode", "--format=esm", `--compile-jit-policy=${JIT_POLICY_AT_START}`, ...order, ...target,
    "src/main.ts", uiPack, `--asset-naming=${basename(uiPack)}`, "--outfile", outfile]);
  console.log(`built ${outfile} (${(statSync(outfile).size / 2 ** 20).toFixed(1)} MiB)`);
}

const { values } = parseArgs({ options: { all: { type: "boolean" }, target: { type: "string", multiple: true } } });
const targets = values.all ? PLATFORMS : (values.target ?? []).map(platformById);

// A migration added to drizzle/ but missing from the generated imports would not be in the binary.
run(["scripts/gen-migrations.ts"]);
// Prefect's UI bundles from the pinned wheel, embedded as one file (src/ui/sources.ts finds it by name).
const uiPack = ensurePrefectUiPack();

/**
 * Which functions the two usual start-ups run (on a new database, then on that database again,
 * each until /api/health answers), recorded by an executable for this machine: the layout
 * --bytecode-order takes, which applies to every target's build of the same code.
 */
async function recordStartupOrder(binary: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "prefect-lite-bytecode-order-"));
  const files = ["new-database", "existing-database"].map((name) => join(dir, `${name}.order`));
  for (const file of files) {
    const env = { ...process.env, PREFECT_HOME: dir, BUN_BYTECODE_ORDER_OUT: file };
    const server = await startServerProcess([binary], { dbPath: join(dir, "order.db"), env });
    if ((await server.stop()).exitCode !== 0) throw new Error(`${binary} did not stop cleanly while recording the bytecode order`);
  }
  return files;
}

/** Removes the recorded order files' directory. */
const removeOrder = (files: string[]) => files[0] && rmSync(dirname(files[0]), { recursive: true, force: true });

const hostBinary = join(root, "dist", process.platform === "win32" ? "prefect-lite.exe" : "prefect-lite");
compile(hostBinary);
const bytecodeOrder = await recordStartupOrder(hostBinary);
if (targets.length === 0) {
  compile(hostBinary, undefined, bytecodeOrder);
} else {
  const releaseDir = join(root, "dist/release");
  mkdirSync(releaseDir, { recursive: true });
  const sums = targets.map((platform) => {
    const outfile = join(releaseDir, releaseName(platform));
    compile(outfile, platform, bytecodeOrder);
    // `sha256sum -c SHA256SUMS` format: hash, two spaces, file name.
    return `${createHash("sha256").update(readFileSync(outfile)).digest("hex")}  ${basename(outfile)}`;
  });
  writeFileSync(join(releaseDir, "SHA256SUMS"), `${sums.join("\n")}\n`);
  console.log(`wrote ${join(releaseDir, "SHA256SUMS")}`);
}
removeOrder(bytecodeOrder);
