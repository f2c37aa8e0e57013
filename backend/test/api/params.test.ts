import { describe, expect, it } from 'vitest';
import { searchQueryOf } from '../../src/api/search.js';

describe('query parameters: whole numbers', () => {
  it('reads decimal digits only: 0x10, 1e3 and 16.0 are refused with the parameter named', () => {
    expect(searchQueryOf({ limit: '16' }).limit).toBe(16);
    for (const bad of ['0x10', '1e3', '16.0', ' 16', '-1']) {
      expect(() => searchQueryOf({ limit: bad }), bad).toThrow(/query\.limit: expected a whole number \(decimal digits\)/);
    }
  });

  it('an empty value is absent, as Tempo reads its parameters; out of range is refused', () => {
    expect(searchQueryOf({ limit: '' }).limit).toBeUndefined();
    expect(() => searchQueryOf({ limit: '0' })).toThrow(/query\.limit/);
    expect(() => searchQueryOf({ limit: '1001' })).toThrow(/query\.limit/);
  });
});
