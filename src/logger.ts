import type { LogLevel } from "./config";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warning(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

export function createLogger(level: LogLevel): Logger {
  const emit = (at: LogLevel) => (message: string, ...details: unknown[]) => {
    if (RANK[at] >= RANK[level]) console.error(`${new Date().toISOString()} ${at.toUpperCase().padEnd(7)} ${message}`, ...details);
  };
  return { debug: emit("debug"), info: emit("info"), warning: emit("warning"), error: emit("error") };
}
