import { describe } from 'vitest';
import { privateMysqlDatabase } from '../store/harness.js';
import { apiContract } from './contract.js';

describe('API over MariaDB filled by weft replay', () => {
  apiContract(() => privateMysqlDatabase('weft_api_test'));
});
