import { describe } from 'vitest';
import { contractSuite } from './contract.js';
import { mysqlHarness, requireMysql } from './harness.js';

// MariaDB at 127.0.0.1:3306 (test/services.sh starts it; CI always does).
await requireMysql();

describe('mysql store (MariaDB)', () => {
  contractSuite(mysqlHarness);
});
