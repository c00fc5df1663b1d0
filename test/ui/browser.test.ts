/**
 * Prefect's own UI in a real browser (Debian's chromium through playwright-core) against the
 * compiled executable, with data made by the real SDK (test/ui/seed/seed_ui_data.py). Each page
 * of v2 and v1 must show its data with no API call answered 4xx/5xx while it loads; a screenshot
 * of each goes to test-results/ui/. "Run deployment" clicked in the UI must create a flow run.
 *
 * Needs /usr/bin/chromium (.ci/run installs it) and the SDK python of test/sdk (PREFECT_SDK_PYTHON
 * or .venv-sdk); fails with instructions without them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ensureBinary } from "../support/binary";
import { ensureVenv, repoRoot } from "../support/python-env";
import { startServerProcess, type ServerProcess } from "../support/server-process";

const screenshots = join(repoRoot, "test-results/ui");
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** How long the page's API traffic must have been quiet before it counts as loaded. */
const QUIET_MS = 400;
const PAGE_TIMEOUT_MS = 20_000;

interface Seeded {
  flow_id: string;
  flow_run_id: string;
  flow_run_name: string;
  task_run_id: string;
  deployment_id: string;
  work_pool: string;
  block_document_id: string;
  artifact_key: string;
  concurrency_limit_id: string;
  automation_id: string;
}

let server: ServerProcess;
let origin: string;
let browser: Browser;
let seeded: Seeded;
let home: string;

const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PREFECT_")));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
  // The same pinned SDK environment and executable the SDK scenarios use, set up on first use.
  const python = process.env.PREFECT_SDK_PYTHON ?? (await ensureVenv(".venv-sdk", join(repoRoot, "test/sdk/requirements.txt")));
  const binary = await ensureBinary();
  home = mkdtempSync(join(tmpdir(), "prefect-lite-ui-"));
  server = await startServerProcess([binary], { dbPath: join(home, "ui.db"), env: { ...cleanEnv(), PREFECT_HOME: join(home, "server") } });
  origin = server.apiUrl.replace(/\/api$/, "");
  const seed = Bun.spawn([python, join(import.meta.dir, "seed/seed_ui_data.py")], {
    env: { ...cleanEnv(), PREFECT_API_URL: server.apiUrl, PREFECT_HOME: join(home, "client"), PYTHONDONTWRITEBYTECODE: "1", DO_NOT_TRACK: "1" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 120_000,
  });
  const [out, err] = await Promise.all([new Response(seed.stdout).text(), new Response(seed.stderr).text()]);
  if ((await seed.exited) !== 0) throw new Error(`seeding with the SDK failed:\n${out}\n${err}`);
  seeded = JSON.parse(out.trim().split("\n").at(-1)!) as Seeded;
  mkdirSync(screenshots, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}, 600_000); // creating .venv-sdk on a fresh clone downloads Prefect

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

interface Visit {
  apiErrors: string[];
  page: Page;
  /** Resolves once the page's API calls have been quiet for QUIET_MS. */
  quiet(): Promise<void>;
}

/** One browser context per UI, so its bundle is fetched once and then served from the cache. */
const contexts = new Map<string, BrowserContext>();

async function contextFor(ui: string): Promise<BrowserContext> {
  let context = contexts.get(ui);
  if (!context) {
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    contexts.set(ui, context);
  }
  return context;
}

/** Opens a page and waits until its API calls have gone quiet; every API answer >= 400 is kept. */
async function visit(path: string): Promise<Visit> {
  const page = await (await contextFor(path.startsWith("/v2") ? "v2" : "v1")).newPage();
  const apiErrors: string[] = [];
  let inflight = 0;
  let lastActivity = performance.now();
  const isApi = (url: string) => new URL(url).pathname.startsWith("/api/");
  page.on("request", (request) => {
    if (!isApi(request.url())) return;
    inflight++;
    lastActivity = performance.now();
  });
  const settle = (url: string) => {
    if (!isApi(url)) return;
    inflight--;
    lastActivity = performance.now();
  };
  page.on("requestfinished", (request) => settle(request.url()));
  page.on("requestfailed", (request) => {
    settle(request.url());
    if (isApi(request.url()) && !request.url().includes("/events/")) apiErrors.push(`${request.method()} ${request.url()} failed: ${request.failure()?.errorText}`);
  });
  page.on("response", (response) => {
    if (isApi(response.url()) && response.status() >= 400) apiErrors.push(`${response.request().method()} ${new URL(response.url()).pathname} -> ${response.status()}`);
  });
  const quiet = async () => {
    const deadline = performance.now() + PAGE_TIMEOUT_MS;
    while (performance.now() < deadline && (inflight > 0 || performance.now() - lastActivity < QUIET_MS)) await Bun.sleep(100);
  };
  await page.goto(`${origin}${path}`, { waitUntil: "load", timeout: PAGE_TIMEOUT_MS });
  await quiet();
  return { apiErrors, page, quiet };
}

interface PageCase {
  name: string;
  path: (s: Seeded) => string;
  /** Text the page shows only when it rendered the seeded data. */
  shows: (s: Seeded) => string | RegExp;
  /** A tab of the page to open first. */
  tab?: string;
}

const PAGES: PageCase[] = [
  // The dashboard's window ends at the start of the current minute, so the run just made may not
  // count yet; the late run the seed scheduled an hour ago does, and so does the work pool.
  { name: "dashboard", path: () => "/dashboard", shows: (s) => s.work_pool },
  { name: "runs", path: () => "/runs", shows: (s) => s.flow_run_name },
  { name: "flow-run-logs", path: (s) => `/runs/flow-run/${s.flow_run_id}`, shows: () => "starting the etl with size 3" },
  { name: "flow-run-task-runs", path: (s) => `/runs/flow-run/${s.flow_run_id}`, tab: "Task Runs", shows: () => /load-/ },
  { name: "flow-run-artifacts", path: (s) => `/runs/flow-run/${s.flow_run_id}`, tab: "Artifacts", shows: () => "the report" },
  { name: "task-run", path: (s) => `/runs/task-run/${s.task_run_id}`, shows: () => /transform-/ },
  { name: "flows", path: () => "/flows", shows: () => "ui-etl" },
  { name: "deployments", path: () => "/deployments", shows: () => "ui-deployment" },
  { name: "deployment", path: (s) => `/deployments/deployment/${s.deployment_id}`, shows: () => "ui-deployment" },
  { name: "work-pools", path: () => "/work-pools", shows: (s) => s.work_pool },
  { name: "work-pool", path: (s) => `/work-pools/work-pool/${s.work_pool}`, shows: (s) => `worker start --pool "${s.work_pool}"` },
  { name: "blocks", path: () => "/blocks", shows: () => "ui-webhook" },
  { name: "blocks-catalog", path: () => "/blocks/catalog", shows: () => "AWS Credentials" },
  { name: "block-create", path: () => "/blocks/catalog/aws-credentials/create", shows: () => "AWS Access Key ID" },
  { name: "variables", path: () => "/variables", shows: () => "ui_greeting" },
  { name: "artifacts", path: () => "/artifacts", shows: (s) => s.artifact_key },
  { name: "events", path: () => "/events", shows: () => /prefect\.flow-run|Flow run|ui\.seed\.happened|ui-seed/i },
  { name: "automations", path: () => "/automations", shows: () => "ui-automation" },
  { name: "concurrency-limits", path: () => "/concurrency-limits", shows: () => "ui-limit" },
  { name: "settings", path: () => "/settings", shows: () => /3\.9\.1/ },
];

/** What an error page says, in either UI. */
const ERROR_PAGE = /Something went wrong|Page not found|An error occurred|Unexpected Application Error/i;

for (const ui of ["v2", "v1"] as const) {
  describe(`UI ${ui}`, () => {
    for (const pageCase of PAGES) {
      test(`${pageCase.name} renders its data with no API error`, async () => {
        const path = pageCase.path(seeded);
        const { apiErrors, page, quiet } = await visit(`${ui === "v2" ? "/v2" : ""}${path}`);
        try {
          if (pageCase.tab) {
            // v2's tabs have the tab role; v1's are the list items of a tablist.
            const tab = page.getByRole("tab", { name: pageCase.tab }).or(page.locator(".p-tab", { hasText: pageCase.tab }));
            await tab.first().click({ timeout: 10_000 });
            await quiet();
          }
          const expected = pageCase.shows(seeded);
          const shown = await page
            .getByText(expected)
            .first()
            .waitFor({ state: "visible", timeout: 10_000 })
            .then(() => true, () => false);
          await page.screenshot({ path: join(screenshots, `${ui}-${pageCase.name}.png`) });
          const body = (await page.textContent("body")) ?? "";
          expect({ page: path, shown, apiErrors, errorPage: ERROR_PAGE.exec(body)?.[0] ?? null }).toEqual({
            page: path,
            shown: true,
            apiErrors: [],
            errorPage: null,
          });
        } finally {
          await page.close();
        }
      }, 60_000);
    }
  });
}

async function deploymentRunCount(): Promise<number> {
  const res = await fetch(`${server.apiUrl}/flow_runs/count`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ deployments: { id: { any_: [seeded.deployment_id] } } }),
  });
  return (await res.json()) as number;
}

describe("Run deployment from the UI", () => {
  test("v2: Run, then Quick run, creates a flow run of the deployment", async () => {
    const before = await deploymentRunCount();
    const { apiErrors, page, quiet } = await visit(`/v2/deployments/deployment/${seeded.deployment_id}`);
    try {
      await page.getByRole("button", { name: "Run", exact: true }).click({ timeout: 10_000 });
      await page.getByText("Quick run").click({ timeout: 10_000 });
      await page.getByText(/Flow run created|created/i).first().waitFor({ timeout: 10_000 });
      await quiet();
      await page.screenshot({ path: join(screenshots, "v2-quick-run.png") });
      expect({ runs: await deploymentRunCount(), apiErrors }).toEqual({ runs: before + 1, apiErrors: [] });
    } finally {
      await page.close();
    }
  }, 60_000);

  test("v1: the custom run form is validated (/ui/schemas/validate) and submitted", async () => {
    const before = await deploymentRunCount();
    const { apiErrors, page, quiet } = await visit(`/deployments/deployment/${seeded.deployment_id}/run`);
    const validated = page.waitForResponse((r) => r.url().endsWith("/api/ui/schemas/validate"), { timeout: 15_000 });
    try {
      await page.getByRole("button", { name: "Submit" }).click({ timeout: 10_000 });
      expect(await (await validated).json()).toEqual({ errors: [], valid: true });
      await quiet();
      await page.screenshot({ path: join(screenshots, "v1-custom-run.png") });
      expect({ runs: await deploymentRunCount(), apiErrors }).toEqual({ runs: before + 1, apiErrors: [] });
    } finally {
      await page.close();
    }
  }, 60_000);
});
