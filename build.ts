/**
 * `npm run build`: regenerates the embedded migration list, then compiles
 * src/main.ts and the Bun runtime into one self-contained executable.
 */
import { statSync } from "node:fs";
import { basename, join } from "node:path";
import { ensurePrefectUiPack } from "./scripts/fetch-prefect-ui";

const root = import.meta.dir;
const outfile = join(root, "dist/prefect-lite");

function run(args: string[]): void {
  console.log(`$ bun ${args.join(" ")}`);
  // process.execPath is the bun running this script, so the build needs no bun on PATH.
  const { exitCode } = Bun.spawnSync([process.execPath, ...args], { cwd: root, stdio: ["inherit", "inherit", "inherit"] });
  if (exitCode !== 0) process.exit(exitCode ?? 1);
}

// A migration added to drizzle/ but missing from the generated imports would not be in the binary.
run(["scripts/gen-migrations.ts"]);
// Prefect's UI bundles from the pinned wheel, embedded as one file (src/ui/sources.ts finds it by name).
const uiPack = ensurePrefectUiPack();
// --bytecode precompiles the bundle so startup skips parsing; it defaults to CommonJS
// output, which cannot hold main.ts's top-level await, hence --format=esm.
run(["build", "--compile", "--minify", "--bytecode", "--format=esm", "src/main.ts", uiPack, `--asset-naming=${basename(uiPack)}`, "--outfile", outfile]);

console.log(`built ${outfile} (${(statSync(outfile).size / 2 ** 20).toFixed(1)} MiB)`);
