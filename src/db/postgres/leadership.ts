/**
 * Leadership on PostgreSQL: a service is led by the process whose session holds its advisory
 * lock. The locks are held on one dedicated connection, apart from the pool, because a session
 * lock lives exactly as long as its session: when the connection drops (the process stopped or
 * crashed, or the backend was terminated) PostgreSQL releases the lock, and the next check of
 * a standby takes it.
 *
 * Every check asks PostgreSQL, in one statement, whether this session still holds the lock and
 * otherwise tries to take it. So a holder whose connection was lost (postgres.js reconnects
 * with a new session on the next query) notices at its next check instead of trusting a flag.
 */
import { createHash } from "node:crypto";
import postgres, { type Sql } from "postgres";
import type { Leadership } from "../leadership";
import { isConnectionError } from "./errors";
import type { PostgresSettings } from "./client";
import { normalisePostgresUrl } from "./url";

/** A stable signed 32-bit key for a text (the same in every replica and every release). */
function lockKey(text: string): number {
  return createHash("sha256").update(text).digest().readInt32BE(0);
}

/**
 * The first half of every leadership lock's two-part key. Two-part keys (objsubid 2 in
 * pg_locks) are a space of their own, apart from one-part keys such as the migration lock
 * (src/db/postgres/client.ts); this half keeps prefect-lite's services apart from anyone
 * else's two-part locks on the same database.
 */
const NAMESPACE = lockKey("prefect-lite service leadership");

/**
 * The server drops a silent client after about 5 + 3 × 5 s (a host that vanished without
 * closing its connection), so its locks do not outlive it by the kernel's two hours.
 */
const KEEPALIVE = { tcp_keepalives_idle: 5, tcp_keepalives_interval: 5, tcp_keepalives_count: 3 };

export class PgLeadership implements Leadership {
  private closed = false;

  private constructor(private readonly session: Sql) {}

  /** Opens nothing yet: the connection is made on the first check. */
  static open(settings: PostgresSettings): PgLeadership {
    return new PgLeadership(
      postgres(normalisePostgresUrl(settings.url), {
        max: 1,
        connect_timeout: settings.connectTimeoutSeconds,
        // a recycled or idle-closed connection would silently give the locks up
        max_lifetime: null,
        idle_timeout: 0,
        backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
        onnotice: () => {},
        connection: {
          statement_timeout: Math.round(settings.statementTimeoutSeconds * 1000),
          application_name: "prefect-lite leadership",
          ...KEEPALIVE,
        },
      }),
    );
  }

  async isLeader(name: string): Promise<boolean> {
    if (this.closed) return false;
    const key = lockKey(name);
    try {
      // CASE evaluates its ELSE only when needed: a lock already held is not taken a second time.
      const [row] = await this.session<{ leader: boolean }[]>`
        SELECT CASE
          WHEN EXISTS (
            SELECT 1 FROM pg_locks
            WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
              AND objsubid = 2 AND classid = ${NAMESPACE}::int4::oid AND objid = ${key}::int4::oid
          ) THEN true
          ELSE pg_try_advisory_lock(${NAMESPACE}::int4, ${key}::int4)
        END AS leader`;
      return row!.leader;
    } catch (error) {
      if (isConnectionError(error)) return false;
      throw error;
    }
  }

  /** Ends the session, so every lock it holds is released at once and a standby takes over at its next check. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.end({ timeout: 5 });
  }
}
