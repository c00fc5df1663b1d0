/**
 * The data layer: every repository over one database. Routes and services talk
 * to a Store and never see SQL; a PostgreSQL Store would offer the same shape.
 */
import { openSqlite, type SqliteDb } from "./client";
import { FlowRepository } from "./repos/flows";

export class Store {
  readonly flows: FlowRepository;

  constructor(readonly db: SqliteDb) {
    this.flows = new FlowRepository(db);
  }

  static open(path: string): Store {
    return new Store(openSqlite(path));
  }

  /** True when the database answers a trivial query (for /ready). */
  isReachable(): boolean {
    try {
      this.db.$client.query("SELECT 1").get();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.db.$client.close();
  }
}
