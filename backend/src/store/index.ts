import { MysqlStore, parseMysqlUrl } from './mysql.js';
import { SqliteStore } from './sqlite.js';
import type { Store, StoreOptions } from './types.js';

export * from './types.js';
export { MysqlStore, parseMysqlUrl, type MysqlTarget } from './mysql.js';
export { SqliteStore } from './sqlite.js';

/** The store used when none is configured. */
export const DEFAULT_STORE_URL = 'sqlite:./weft.db';

/**
 * Opens the store named by `url` and (unless `options.migrate === false`) brings its schema up to
 * date:
 * - `sqlite:./weft.db` (a file, relative to the working directory; the default), `sqlite::memory:`;
 * - `mysql://user:pass@host:port/db[?pool=8]` (TiDB, MySQL 8, MariaDB 10.11).
 */
export async function openStore(url: string = DEFAULT_STORE_URL, options: StoreOptions = {}): Promise<Store> {
  let store: Store;
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    const path = rest.startsWith('//') ? rest.slice(2) : rest;
    if (path === '') throw new Error(`sqlite store needs a path: ${url}`);
    store = new SqliteStore(path, options);
  } else if (url.startsWith('mysql:') || url.startsWith('tidb:')) {
    store = new MysqlStore(parseMysqlUrl(url.replace(/^tidb:/, 'mysql:')), options);
  } else {
    throw new Error(`unknown store URL ${JSON.stringify(url)}: use sqlite:<path> or mysql://user:pass@host:port/db`);
  }
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
  }
  return store;
}
