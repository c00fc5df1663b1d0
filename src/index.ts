export { startServer, type RunningServer, type ServerOptions } from "./server";
export { createApp } from "./app";
export { ManualClock, SystemClock, type Clock } from "./clock";
export type { Config } from "./config";
