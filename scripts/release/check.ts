/**
 * Checks dist/release/ as `npm run build -- --all` left it: SHA256SUMS matches, every file is an
 * executable for the OS and CPU its name says (read from its ELF, Mach-O or PE header), the one
 * for this machine starts and answers /api/health, and the linux-arm64 one does too under
 * qemu-user-static when it is installed (`apt-get install qemu-user-static libc6-arm64-cross`).
 *
 *   npm run release       (build --all, then this)
 *   bun scripts/release/check.ts [dist/release]
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServerProcess } from "../../test/support/server-process";
import { hostPlatform, PLATFORMS, releaseName, type Platform } from "./platforms";

const releaseDir = resolve(process.argv[2] ?? join(import.meta.dir, "../../dist/release"));

/** "<os>-<cpu>" as the executable's own header declares it. */
export function headerPlatform(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) === 0x7f454c46) {
    const machine = view.getUint16(18, true);
    return `linux-${({ 0x3e: "x64", 0xb7: "arm64" } as Record<number, string>)[machine] ?? `machine 0x${machine.toString(16)}`}`;
  }
  if (view.getUint32(0, true) === 0xfeedfacf) {
    const cpu = view.getUint32(4, true);
    return `darwin-${({ 0x01000007: "x64", 0x0100000c: "arm64" } as Record<number, string>)[cpu] ?? `cputype 0x${cpu.toString(16)}`}`;
  }
  if (view.getUint16(0, true) === 0x5a4d) {
    const pe = view.getUint32(0x3c, true);
    if (view.getUint32(pe) !== 0x50450000) return "MZ file without a PE header";
    const machine = view.getUint16(pe + 4, true);
    return `windows-${({ 0x8664: "x64", 0xaa64: "arm64" } as Record<number, string>)[machine] ?? `machine 0x${machine.toString(16)}`}`;
  }
  return "not an executable";
}

/** Whether a Mach-O file carries a code signature (LC_CODE_SIGNATURE): Apple Silicon refuses to run one without. */
export function hasCodeSignature(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(16, true);
  let offset = 32; // after the 64-bit header
  for (let i = 0; i < count; i++) {
    if (view.getUint32(offset, true) === 0x1d) return true;
    offset += view.getUint32(offset + 4, true);
  }
  return false;
}

/** How to run `platform`'s binary here, or undefined when this machine cannot. */
function runner(platform: Platform): { prefix: string[]; how: string } | undefined {
  if (platform === hostPlatform()) return { prefix: [], how: "natively" };
  const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
  const sysroot = "/usr/aarch64-linux-gnu"; // libc6-arm64-cross: the arm64 dynamic loader and libc
  if (platform.id === "linux-arm64" && process.platform === "linux" && qemu && existsSync(sysroot)) {
    return { prefix: [qemu, "-L", sysroot], how: "under qemu-user" };
  }
  return undefined;
}

async function answersHealth(command: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "prefect-lite-release-"));
  try {
    const server = await startServerProcess(command, { dbPath: join(dir, "check.db"), timeoutMs: 90_000 });
    const health = await (await fetch(`${server.apiUrl}/health`)).json();
    const { exitCode } = await server.stop();
    if (health !== true) throw new Error(`/api/health answered ${JSON.stringify(health)}`);
    if (exitCode !== 0) throw new Error(`exit code ${exitCode} after SIGTERM`);
    return `healthy after ${server.readyMs.toFixed(0)} ms, exit 0 on SIGTERM`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const sumsFile = join(releaseDir, "SHA256SUMS");
  if (!existsSync(sumsFile)) {
    console.error(`no ${sumsFile}: run npm run build -- --all first`);
    process.exit(1);
  }
  const sums = new Map(
    readFileSync(sumsFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(/\s+/) as [string, string])
      .map(([hash, name]) => [name, hash]),
  );
  let failures = 0;
  for (const platform of PLATFORMS) {
    const name = releaseName(platform);
    const file = join(releaseDir, name);
    const problems: string[] = [];
    const notes: string[] = [];
    if (!existsSync(file)) {
      console.log(`${name.padEnd(30)} MISSING`);
      failures++;
      continue;
    }
    const bytes = readFileSync(file);
    if (createHash("sha256").update(bytes).digest("hex") !== sums.get(name)) problems.push("SHA256SUMS does not match");
    const declared = headerPlatform(bytes);
    if (declared !== platform.id) problems.push(`header says ${declared}`);
    else notes.push(`${declared} header`);
    if (platform.os === "darwin") {
      if (hasCodeSignature(bytes)) notes.push("code-signed");
      else problems.push("no code signature");
    }
    const how = runner(platform);
    if (how) {
      try {
        notes.push(`${how.how}: ${await answersHealth([...how.prefix, file])}`);
      } catch (error) {
        problems.push(`${how.how}: ${error instanceof Error ? error.message : String(error)}`);
      }
    } else notes.push("not run here");
    const size = `${(bytes.length / 2 ** 20).toFixed(1)} MiB`;
    console.log(`${name.padEnd(30)} ${size.padStart(10)}  ${problems.length ? `FAILED: ${problems.join("; ")}` : `ok: ${notes.join("; ")}`}`);
    if (problems.length) failures++;
  }
  if (failures) process.exit(1);
}
