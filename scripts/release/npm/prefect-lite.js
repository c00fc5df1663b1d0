#!/usr/bin/env node
// `npx prefect-lite` / `bunx prefect-lite`: runs the executable that npm installed for this machine
// as the optional dependency @prefect-lite/<os>-<arch> (the esbuild layout), passing arguments,
// signals and the exit status through.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const id = `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
const platformPackage = `@prefect-lite/${id}`;
const executable = process.platform === "win32" ? "prefect-lite.exe" : "prefect-lite";

function binaryPath() {
  if (process.env.PREFECT_LITE_BINARY) return process.env.PREFECT_LITE_BINARY;
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${platformPackage}/package.json`)), "bin", executable);
  } catch {
    console.error(
      `prefect-lite: ${platformPackage} is not installed; it carries the executable for ${process.platform} ${process.arch}. ` +
        "Reinstall without --omit=optional (or --no-optional), or download a binary from the release page.",
    );
    process.exit(1);
  }
}

const child = spawn(binaryPath(), process.argv.slice(2), { stdio: "inherit" });
// Ctrl-C in a terminal reaches both processes; the server treats a repeat within a second as one.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("error", (error) => {
  console.error(`prefect-lite: cannot run ${binaryPath()}: ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGINT" ? 130 : 143)));
