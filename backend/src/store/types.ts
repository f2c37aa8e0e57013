import type { Lookup, OrphanDoc, SessionDoc } from '../engine/types.js';

/**
 * Where fired sessions live (DESIGN.md "Store"). The engine's sink and its late path both go through
 * this interface; `sqlite` (embedded default) and `mysql` (TiDB / MySQL / MariaDB) implement it and
 * pass one contract suite.
 */
export interface Store {
  /** Runs pending schema migrations; safe to call twice and from two processes at once. */
  migrate(): Promise<void>;
  /**
   * Upserts fired sessions in one transaction: a row is replaced only by a higher version, fields
   * (EAV rows) and verdict rollups move with it. Re-delivering the same fire changes nothing.
   */
  upsertSessions(sessions: readonly SessionDoc[]): Promise<void>;
  recordOrphans(orphans: readonly OrphanDoc[]): Promise<void>;
  /** Stored sessions a late record may belong to: by anchor key, or by a field value. */
  lookup(lookup: Lookup): Promise<SessionDoc[]>;
  getSession(id: string): Promise<SessionDoc | undefined>;
  close(): Promise<void>;
}
