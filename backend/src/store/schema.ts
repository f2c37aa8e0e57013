/**
 * Versioned schema. Each migration is applied once, recorded in `schema_migrations`, under a lock
 * (MySQL: GET_LOCK; SQLite: BEGIN IMMEDIATE), and its statements are idempotent (IF NOT EXISTS) so
 * a migration cut short by a crash can run again. Append new migrations; never edit applied ones.
 *
 * MySQL-protocol DDL keeps to the subset shared by TiDB 7+, MySQL 8 and MariaDB 10.11:
 * indexes are declared inside CREATE TABLE (MySQL 8 has no CREATE INDEX IF NOT EXISTS), primary
 * keys are natural (hash ids, composite keys; no AUTO_INCREMENT on hot tables), and TiDB-only
 * syntax is in `/*T![feature] … *\/` comments that the others ignore.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: readonly string[];
  readonly mysql: readonly string[];
}

const MYSQL_TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';
const CLUSTERED = '/*T![clustered_index] CLUSTERED */';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, session_fields, session_numbers, verdict_rollups, orphans, templates',
    sqlite: [
      `CREATE TABLE IF NOT EXISTS sessions (
        id TEXT NOT NULL PRIMARY KEY,
        template TEXT NOT NULL,
        anchor_key TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        verdict TEXT,
        severity TEXT,
        explain_text TEXT,
        split_of TEXT,
        merged_into TEXT,
        event_count INTEGER NOT NULL,
        fields_hash TEXT NOT NULL,
        notes TEXT,
        updated_ms INTEGER NOT NULL,
        key_full TEXT,
        fields_json TEXT NOT NULL,
        events_json TEXT NOT NULL
      )`,
      'CREATE INDEX IF NOT EXISTS ix_sessions_key ON sessions (template, anchor_key, start_ms, id)',
      'CREATE INDEX IF NOT EXISTS ix_sessions_start ON sessions (start_ms, id)',
      'CREATE INDEX IF NOT EXISTS ix_sessions_tpl_start ON sessions (template, start_ms, id)',
      'CREATE INDEX IF NOT EXISTS ix_sessions_verdict ON sessions (verdict, start_ms, id)',
      'CREATE INDEX IF NOT EXISTS ix_sessions_severity ON sessions (severity, start_ms, id)',
      // One row per distinct value of a field: the key is the search order (name, value, start,
      // session), so a field search reads the rows it returns and nothing else.
      `CREATE TABLE IF NOT EXISTS session_fields (
        name TEXT NOT NULL,
        str_value TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        template TEXT NOT NULL,
        PRIMARY KEY (name, str_value, start_ms, session_id)
      ) WITHOUT ROWID`,
      `CREATE TABLE IF NOT EXISTS session_numbers (
        name TEXT NOT NULL,
        num_value REAL NOT NULL,
        start_ms INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        template TEXT NOT NULL,
        PRIMARY KEY (name, num_value, start_ms, session_id)
      ) WITHOUT ROWID`,
      `CREATE TABLE IF NOT EXISTS verdict_rollups (
        grain TEXT NOT NULL,
        template TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        severity TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (grain, template, bucket, verdict, severity)
      ) WITHOUT ROWID`,
      'CREATE INDEX IF NOT EXISTS ix_rollups_bucket ON verdict_rollups (grain, bucket)',
      `CREATE TABLE IF NOT EXISTS orphans (
        id TEXT NOT NULL PRIMARY KEY,
        template TEXT NOT NULL,
        step TEXT NOT NULL,
        source TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        reason TEXT NOT NULL,
        join_field TEXT,
        join_value TEXT,
        notes TEXT,
        recorded_ms INTEGER NOT NULL,
        value_json TEXT NOT NULL
      )`,
      'CREATE INDEX IF NOT EXISTS ix_orphans_time ON orphans (time_ms, id)',
      'CREATE INDEX IF NOT EXISTS ix_orphans_tpl_time ON orphans (template, time_ms, id)',
      'CREATE INDEX IF NOT EXISTS ix_orphans_join ON orphans (template, join_field, join_value)',
      `CREATE TABLE IF NOT EXISTS templates (
        id TEXT NOT NULL PRIMARY KEY,
        body TEXT NOT NULL,
        revision INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
      )`,
    ],
    mysql: [
      `CREATE TABLE IF NOT EXISTS sessions (
        id VARCHAR(128) NOT NULL,
        template VARCHAR(64) NOT NULL,
        anchor_key VARCHAR(512) NOT NULL,
        start_ms BIGINT NOT NULL,
        end_ms BIGINT NOT NULL,
        status VARCHAR(16) NOT NULL,
        version BIGINT NOT NULL,
        verdict VARCHAR(128) NULL,
        severity VARCHAR(16) NULL,
        explain_text TEXT NULL,
        split_of VARCHAR(128) NULL,
        merged_into VARCHAR(128) NULL,
        event_count INT NOT NULL,
        fields_hash VARCHAR(32) NOT NULL,
        notes MEDIUMTEXT NULL,
        updated_ms BIGINT NOT NULL,
        key_full MEDIUMTEXT NULL,
        fields_json MEDIUMTEXT NOT NULL,
        events_json LONGTEXT NOT NULL,
        PRIMARY KEY (id) ${CLUSTERED},
        KEY ix_sessions_key (template, anchor_key, start_ms, id),
        KEY ix_sessions_start (start_ms, id),
        KEY ix_sessions_tpl_start (template, start_ms, id),
        KEY ix_sessions_verdict (verdict, start_ms, id),
        KEY ix_sessions_severity (severity, start_ms, id)
      ) ${MYSQL_TABLE}`,
      // Clustered on the search order (name, value, start, session): a field search is one range
      // read, an insert touches one B-tree. Rows are deleted by their full key (the store knows the
      // old values from the session row it replaces).
      `CREATE TABLE IF NOT EXISTS session_fields (
        name VARCHAR(64) NOT NULL,
        str_value VARCHAR(512) NOT NULL,
        start_ms BIGINT NOT NULL,
        session_id VARCHAR(128) NOT NULL,
        template VARCHAR(64) NOT NULL,
        PRIMARY KEY (name, str_value, start_ms, session_id) ${CLUSTERED}
      ) ${MYSQL_TABLE}`,
      `CREATE TABLE IF NOT EXISTS session_numbers (
        name VARCHAR(64) NOT NULL,
        num_value DOUBLE NOT NULL,
        start_ms BIGINT NOT NULL,
        session_id VARCHAR(128) NOT NULL,
        template VARCHAR(64) NOT NULL,
        PRIMARY KEY (name, num_value, start_ms, session_id) ${CLUSTERED}
      ) ${MYSQL_TABLE}`,
      `CREATE TABLE IF NOT EXISTS verdict_rollups (
        grain CHAR(1) NOT NULL,
        template VARCHAR(64) NOT NULL,
        bucket BIGINT NOT NULL,
        verdict VARCHAR(128) NOT NULL,
        severity VARCHAR(16) NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (grain, template, bucket, verdict, severity) ${CLUSTERED},
        KEY ix_rollups_bucket (grain, bucket)
      ) ${MYSQL_TABLE}`,
      `CREATE TABLE IF NOT EXISTS orphans (
        id VARCHAR(128) NOT NULL,
        template VARCHAR(64) NOT NULL,
        step VARCHAR(128) NOT NULL,
        source VARCHAR(128) NOT NULL,
        time_ms BIGINT NOT NULL,
        reason VARCHAR(512) NOT NULL,
        join_field VARCHAR(64) NULL,
        join_value VARCHAR(512) NULL,
        notes MEDIUMTEXT NULL,
        recorded_ms BIGINT NOT NULL,
        value_json LONGTEXT NOT NULL,
        PRIMARY KEY (id) ${CLUSTERED},
        KEY ix_orphans_time (time_ms, id),
        KEY ix_orphans_tpl_time (template, time_ms, id),
        KEY ix_orphans_join (template, join_field, join_value)
      ) ${MYSQL_TABLE}`,
      `CREATE TABLE IF NOT EXISTS templates (
        id VARCHAR(64) NOT NULL,
        body MEDIUMTEXT NOT NULL,
        revision INT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (id) ${CLUSTERED}
      ) ${MYSQL_TABLE}`,
    ],
  },
  {
    version: 2,
    name: 'session_versions (history of written versions), operator_merges (operator merges, for unmerge)',
    sqlite: [
      `CREATE TABLE IF NOT EXISTS session_versions (
        session_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        verdict TEXT,
        severity TEXT,
        event_count INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        written_ms INTEGER NOT NULL,
        PRIMARY KEY (session_id, version)
      ) WITHOUT ROWID`,
      `CREATE TABLE IF NOT EXISTS operator_merges (
        absorbed_id TEXT NOT NULL PRIMARY KEY,
        survivor_id TEXT NOT NULL,
        absorbed_json TEXT NOT NULL,
        merged_ms INTEGER NOT NULL
      )`,
      'CREATE INDEX IF NOT EXISTS ix_operator_merges_survivor ON operator_merges (survivor_id)',
    ],
    mysql: [
      `CREATE TABLE IF NOT EXISTS session_versions (
        session_id VARCHAR(128) NOT NULL,
        version BIGINT NOT NULL,
        status VARCHAR(16) NOT NULL,
        verdict VARCHAR(128) NULL,
        severity VARCHAR(16) NULL,
        event_count INT NOT NULL,
        start_ms BIGINT NOT NULL,
        end_ms BIGINT NOT NULL,
        written_ms BIGINT NOT NULL,
        PRIMARY KEY (session_id, version) ${CLUSTERED}
      ) ${MYSQL_TABLE}`,
      `CREATE TABLE IF NOT EXISTS operator_merges (
        absorbed_id VARCHAR(128) NOT NULL,
        survivor_id VARCHAR(128) NOT NULL,
        absorbed_json LONGTEXT NOT NULL,
        merged_ms BIGINT NOT NULL,
        PRIMARY KEY (absorbed_id) ${CLUSTERED},
        KEY ix_operator_merges_survivor (survivor_id)
      ) ${MYSQL_TABLE}`,
    ],
  },
  {
    version: 3,
    name: 'sessions by anchor key alone (key search without a template read the whole table)',
    sqlite: ['CREATE INDEX IF NOT EXISTS ix_sessions_anchor ON sessions (anchor_key, start_ms, id)'],
    // MySQL 8 has no ADD INDEX IF NOT EXISTS: the runner takes "duplicate key name" as done (a
    // migration cut short after this statement runs again).
    mysql: ['ALTER TABLE sessions ADD INDEX ix_sessions_anchor (anchor_key, start_ms, id)'],
  },
];

export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

export const MIGRATIONS_TABLE_SQLITE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  applied_ms INTEGER NOT NULL
)`;

export const MIGRATIONS_TABLE_MYSQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT NOT NULL,
  name VARCHAR(255) NOT NULL,
  applied_ms BIGINT NOT NULL,
  PRIMARY KEY (version)
) ${MYSQL_TABLE}`;

/** Tables that macro queries scan: given a TiFlash replica on TiDB. */
export const TIFLASH_TABLES: readonly string[] = ['sessions', 'verdict_rollups'];
