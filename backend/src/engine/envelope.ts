/**
 * The replay input's common layout, read without parsing the envelope:
 * `{"source":"<a known source>","value":<value>}` or `…,"at":<digits>}`, as `weft generate` and
 * JSON.stringify of such an object write it. The value is parsed from its own text, which is kept
 * (`raw`): a final session's records can then be held as the text they were read as.
 *
 * Sound by construction: the line is the prefix, then text that JSON.parse takes as one value, then
 * the suffix, so it is valid JSON with exactly these members. Any other line (other key order,
 * whitespace, escapes in the source name, a fractional "at", duplicate keys) is not taken here and
 * goes through JSON.parse as a whole, with the same outcome as before.
 */
export class Envelope {
  source = '';
  value: unknown = undefined;
  at: number | undefined = undefined;
  raw = '';
  /**
   * The sources' prefixes (`{"source":"<name>","value":`), bucketed by the first character of the
   * name: a line is compared with the one or two prefixes it can have, not with every source's.
   */
  private readonly buckets: ReadonlyArray<readonly Prefix[]>;

  constructor(sources: Iterable<string>) {
    const buckets: Prefix[][] = Array.from({ length: BUCKETS }, () => []);
    for (const source of new Set(sources)) {
      const text = `{"source":${JSON.stringify(source)},"value":`;
      buckets[bucketOf(text)]!.push({ source, text });
    }
    this.buckets = buckets;
  }

  /** True when `line` has the common layout; its parts are then in `source`, `value`, `at` and `raw`. */
  read(line: string): boolean {
    const prefixes = this.buckets[bucketOf(line)]!;
    for (let i = 0; i < prefixes.length; i++) {
      const prefix = prefixes[i]!;
      if (line.startsWith(prefix.text)) return this.readValue(line, prefix.source, prefix.text.length);
    }
    return false;
  }

  private readValue(line: string, source: string, start: number): boolean {
    let end = line.length - 1;
    if (line.charCodeAt(end) !== CLOSE_BRACE) return false;
    let at: number | undefined;
    const atMember = line.lastIndexOf(',"at":', end);
    if (atMember > start) {
      at = digitsAt(line, atMember + AT_MEMBER_LENGTH, end);
      if (at !== undefined) end = atMember;
    }
    const raw = line.slice(start, end);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return false;
    }
    this.source = source;
    this.value = value;
    this.at = at;
    this.raw = raw;
    return true;
  }
}

interface Prefix {
  readonly source: string;
  readonly text: string;
}

const NAME_AT = '{"source":"'.length;
const BUCKETS = 64;

/** The bucket of the source name's first character (NaN, for a shorter line, is bucket 0). */
function bucketOf(text: string): number {
  return text.charCodeAt(NAME_AT) & (BUCKETS - 1);
}

const CLOSE_BRACE = 0x7d;
const AT_MEMBER_LENGTH = ',"at":'.length;

/** The integer written as decimal digits in `text[from, to)` (JSON's grammar: no leading zero), else undefined. */
function digitsAt(text: string, from: number, to: number): number | undefined {
  if (to <= from || to - from > 15) return undefined;
  if (text.charCodeAt(from) === 0x30 && to - from > 1) return undefined;
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return n;
}
