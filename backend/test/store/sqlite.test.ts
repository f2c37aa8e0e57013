import { describe } from 'vitest';
import { contractSuite } from './contract.js';
import { sqliteHarness } from './harness.js';

describe('sqlite store', () => {
  contractSuite(sqliteHarness);
});
