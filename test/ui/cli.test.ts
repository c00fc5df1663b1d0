import { expect, test } from "bun:test";
import { parseCli, type CliCommand } from "../../src/cli";

const config = (command: CliCommand) => {
  if (command.kind !== "serve") throw new Error(`expected serve, got ${command.kind}`);
  return command.config;
};

test("the UI is on by default; --no-ui and PREFECT_SERVER_UI_ENABLED=false (or PREFECT_UI_ENABLED) turn it off", () => {
  expect(config(parseCli([], {})).ui.enabled).toBe(true);
  expect(config(parseCli(["--no-ui"], {})).ui.enabled).toBe(false);
  expect(config(parseCli([], { PREFECT_SERVER_UI_ENABLED: "false" })).ui.enabled).toBe(false);
  expect(config(parseCli([], { PREFECT_UI_ENABLED: "0" })).ui.enabled).toBe(false);
});

test("--ui-dir wins over PREFECT_UI_STATIC_DIRECTORY", () => {
  expect(config(parseCli([], { PREFECT_UI_STATIC_DIRECTORY: "/a" })).ui.staticDirectory).toBe("/a");
  expect(config(parseCli(["--ui-dir", "/b"], { PREFECT_UI_STATIC_DIRECTORY: "/a" })).ui.staticDirectory).toBe("/b");
});

test("the CORS lists are comma-separated, '*' by default", () => {
  expect(config(parseCli([], {})).cors).toEqual({ allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"] });
  expect(config(parseCli([], { PREFECT_SERVER_CORS_ALLOWED_METHODS: "GET,POST" })).cors.allowMethods).toEqual(["GET", "POST"]);
});
