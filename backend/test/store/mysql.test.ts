import { describe } from 'vitest';
import { contractSuite } from './contract.js';
import { mysqlHarness, mysqlReachable } from './harness.js';

// MariaDB/MySQL whenever reachable at 127.0.0.1:3306 (test/services.sh starts it; CI always does).
const reachable = await mysqlReachable();

describe.skipIf(!reachable)('mysql store (MariaDB)', () => {
  contractSuite(mysqlHarness);
});
