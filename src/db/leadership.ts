/**
 * Leadership of the background services that must run on one replica at a time
 * (src/services/placement.ts says which). Each backend's store hands out its own.
 */
export interface Leadership {
  /**
   * Whether this process leads `name` now: takes the leadership when no process holds it and
   * keeps it while held. False once it was lost (the connection holding it dropped) until it is
   * taken again, and false while the database cannot be asked.
   */
  isLeader(name: string): Promise<boolean>;
}

/**
 * SQLite: one process owns the database file, so it leads every service. Two processes on one
 * file both lead; their writes are serialised by the file's lock and each service's writes are
 * compare-and-set, so neither undoes the other's.
 */
export const soleLeadership: Leadership = {
  isLeader: () => Promise.resolve(true),
};
