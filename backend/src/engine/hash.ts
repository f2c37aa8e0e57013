import * as crypto from 'node:crypto';

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
  return hex16(a >>> 0, b >>> 0);
}

const HEX_DIGITS = '0123456789abcdef';
const hexCode = (n: number, shift: number) => HEX_DIGITS.charCodeAt((n >>> shift) & 15);

/**
 * Two unsigned 32-bit words as 16 lower-case hex digits, built as one flat string (toString,
 * padStart and `+` made four strings and a rope for every session id).
 */
function hex16(a: number, b: number): string {
  return String.fromCharCode(
    hexCode(a, 28), hexCode(a, 24), hexCode(a, 20), hexCode(a, 16), hexCode(a, 12), hexCode(a, 8), hexCode(a, 4), hexCode(a, 0),
    hexCode(b, 28), hexCode(b, 24), hexCode(b, 20), hexCode(b, 16), hexCode(b, 12), hexCode(b, 8), hexCode(b, 4), hexCode(b, 0),
  );
}

const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/**
 * A cryptographic digest of `text` (ids the API derives, store field hashes, token comparison).
 * `crypto.hash` (Node ≥ 20.12) is the one-shot form, about twice as fast as a Hash object per call;
 * `engines` admits earlier Node 20 releases, which lack it, hence the fallback.
 */
export function digest(algorithm: 'sha1' | 'sha256', text: string, encoding: 'hex' | 'base64url'): string {
  return oneShot ? oneShot(algorithm, text, encoding) : crypto.createHash(algorithm).update(text).digest(encoding);
}

/** {@link digest} as bytes. */
export function digestBytes(algorithm: 'sha1' | 'sha256', text: string): Buffer {
  return oneShot ? (oneShot(algorithm, text, 'buffer') as unknown as Buffer) : crypto.createHash(algorithm).update(text).digest();
}
