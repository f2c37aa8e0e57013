import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { describe } from 'vitest';
import { MYSQL_ADMIN } from '../store/harness.js';
import { apiContract } from './contract.js';

describe('API over MariaDB filled by weft replay', () => {
  apiContract(async () => {
    const database = `weft_api_test_${randomBytes(4).toString('hex')}`;
    const admin = await mysql.createConnection(MYSQL_ADMIN);
    await admin.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    return {
      url: `mysql://root@127.0.0.1:3306/${database}`,
      cleanup: async () => {
        await admin.query(`DROP DATABASE IF EXISTS ${database}`);
        await admin.end();
      },
    };
  });
});
