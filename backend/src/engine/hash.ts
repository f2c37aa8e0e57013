/** Two FNV-1a passes with different offsets: a 64-bit hash as 16 hex digits; fast, not cryptographic. */
export function hash64(text: string): string {
  return hash64Joined([text]);
}

/**
 * `hash64(parts.join('\u0000'))` without building the joined string (session ids hash several parts
 * for every session, and the concatenation cost more than the hash).
 */
export function hash64Joined(parts: readonly string[]): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let p = 0; p < parts.length; p++) {
    if (p > 0) {
      a = Math.imul(a, 0x01000193);
      b = Math.imul(b, 0x01000193) ^ (b >>> 15);
    }
    const text = parts[p]!;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
