/**
 * The platforms prefect-lite ships a binary for, and what each is called by Bun's cross-compiler,
 * by Python wheel tags and by npm's os/cpu fields.
 */
export interface Platform {
  /** `<os>-<arch>` as in the release file names and the npm package names. */
  id: string;
  /** `bun build --compile --target=` value. */
  bunTarget: string;
  /** npm's `os` and `cpu` (process.platform and process.arch). */
  os: "linux" | "darwin" | "win32";
  cpu: "x64" | "arm64";
  /** The executable's file name on that platform. */
  executable: string;
  /**
   * Wheel platform tag. The Linux binaries need glibc 2.17 at most and the macOS ones declare
   * macOS 13.0 as their minimum (read off Bun 1.4.5's output: `objdump -T`, LC_BUILD_VERSION).
   */
  wheelTag: string;
}

export const PLATFORMS: Platform[] = [
  { id: "linux-x64", bunTarget: "bun-linux-x64", os: "linux", cpu: "x64", executable: "prefect-lite", wheelTag: "manylinux_2_17_x86_64.manylinux2014_x86_64" },
  { id: "linux-arm64", bunTarget: "bun-linux-arm64", os: "linux", cpu: "arm64", executable: "prefect-lite", wheelTag: "manylinux_2_17_aarch64.manylinux2014_aarch64" },
  { id: "darwin-x64", bunTarget: "bun-darwin-x64", os: "darwin", cpu: "x64", executable: "prefect-lite", wheelTag: "macosx_13_0_x86_64" },
  { id: "darwin-arm64", bunTarget: "bun-darwin-arm64", os: "darwin", cpu: "arm64", executable: "prefect-lite", wheelTag: "macosx_13_0_arm64" },
  { id: "windows-x64", bunTarget: "bun-windows-x64", os: "win32", cpu: "x64", executable: "prefect-lite.exe", wheelTag: "win_amd64" },
];

/** The platform this process runs on, if prefect-lite ships for it. */
export function hostPlatform(): Platform | undefined {
  return PLATFORMS.find((p) => p.os === process.platform && p.cpu === process.arch);
}

export function platformById(id: string): Platform {
  const found = PLATFORMS.find((p) => p.id === id);
  if (!found) throw new Error(`unknown platform ${id}: one of ${PLATFORMS.map((p) => p.id).join(", ")}`);
  return found;
}

/** Release file name: prefect-lite-<id>, with .exe on Windows. */
export const releaseName = (p: Platform) => `prefect-lite-${p.id}${p.os === "win32" ? ".exe" : ""}`;
