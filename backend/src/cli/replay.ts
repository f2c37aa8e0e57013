import { parseArgs } from 'node:util';
import { Replay, type ReplaySummary } from '../engine/index.js';
import { plainEvent, rawOf, type EventDoc, type OrphanDoc, type SessionDoc } from '../engine/types.js';
import type { Store } from '../store/index.js';
import { loadTemplateFile, TemplateError, type CompiledTemplate } from '../template/index.js';
import { InputError, inputLines } from './input.js';
import { writeLines } from './output.js';
import { Progress } from './progress.js';

export const REPLAY_USAGE = `weft replay --template T.yaml [--template U.yaml] --input events.ndjson [--out sessions.ndjson] [--store URL]

Runs the engine over a file (line order = arrival order), ends the input, and writes one line per
final session and per orphan (to --out, or stdout). --input - reads stdin; gzip-compressed input is
recognised and decompressed. Bad lines are reported on stderr and skipped.
With --store (sqlite:./weft.db, mysql://user:pass@host:port/db) the final sessions and orphans are
also upserted into that store, where the API and Grafana read them. --show-errors N prints only the
first N bad lines (all are counted in the summary).`;

/** `onSummary` receives the run's summary once it is complete (the demo prints its own report from it). */
export async function replayCommand(argv: string[], onSummary?: (summary: ReplaySummary) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      template: { type: 'string', multiple: true },
      input: { type: 'string' },
      out: { type: 'string' },
      store: { type: 'string' },
      'show-errors': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(REPLAY_USAGE + '\n');
    return 0;
  }
  if (!values.template?.length || !values.input) {
    process.stderr.write(`weft replay: --template and --input are required\n\n${REPLAY_USAGE}\n`);
    return 2;
  }
  let templates;
  try {
    templates = values.template.map(loadTemplateFile);
  } catch (error) {
    if (error instanceof TemplateError) {
      process.stderr.write(`weft replay: invalid template\n${error.message}\n`);
      return 2;
    }
    throw error;
  }
  // Opened (and migrated) before the input is read: a store URL or database that does not work fails
  // the command at once, not after a replay of the whole input.
  // The store's drivers load only when a store is asked for (most replays write a file).
  const store = values.store === undefined ? undefined : await (await import('../store/index.js')).openStore(values.store);
  try {
    return await replayInto(store, { ...values, input: values.input }, templates, onSummary);
  } finally {
    await store?.close();
  }
}

/** The replay itself; `store` is open when `--store` was given. */
async function replayInto(
  store: Store | undefined,
  values: { input: string; out?: string | undefined; store?: string | undefined; 'show-errors'?: string | undefined; quiet: boolean },
  templates: CompiledTemplate[],
  onSummary: ((summary: ReplaySummary) => void) | undefined,
): Promise<number> {
  const progress = new Progress('replay', values.quiet);
  const showErrors = values['show-errors'] === undefined ? Infinity : Number(values['show-errors']);
  let shown = 0;
  // Templates that enrich read dimension tables from the store's database (or their own `from`).
  const enricher = templates.some((t) => t.enrich.length > 0)
    ? new (await import('../enrich/index.js')).Enricher({ templates, database: values.store, onResolved: (request) => replay.enriched(request) })
    : undefined;
  const replay: Replay = new Replay(templates, {
    ...(enricher ? { enrichment: { view: enricher, onEnrich: (request) => enricher.request(request) } } : {}),
    onError: (e) => {
      if (shown < showErrors) process.stderr.write(`line ${e.line}: ${e.reason}\n`);
      else if (shown === showErrors) process.stderr.write(`… further bad lines are only counted in the summary (--show-errors ${showErrors})\n`);
      shown++;
    },
  });
  let lines = 0;
  // An input that breaks part-way (a truncated .gz) keeps what was read before the break: the
  // sessions are written as for a complete input, and the exit status says the input was not.
  let broken: InputError | undefined;
  try {
    for await (const batch of inputLines(values.input)) {
      for (const line of batch) {
        replay.line(line);
        if (++lines % 50_000 === 0) progress.update(`${lines.toLocaleString('en')} lines, ${replay.engine.stats().openSessions.toLocaleString('en')} open sessions`);
      }
    }
  } catch (error) {
    if (!(error instanceof InputError) || lines === 0) throw error;
    broken = error;
  }
  replay.endInput();
  if (enricher) {
    progress.update(`waiting for ${enricher.pending.toLocaleString('en')} enrichment lookups`);
    await enricher.settled();
    await enricher.close();
  }
  const result = replay.result();
  progress.done();
  const elapsedMs = progress.elapsedMs();
  if (values.store === undefined || values.out !== undefined) await writeOutput(values.out, result.sessions, result.orphans);
  process.stderr.write(formatSummary(result.summary, elapsedMs));
  if (enricher) {
    const c = enricher.counters;
    const reads = c.cacheHits + c.cacheMisses;
    process.stderr.write(`enrichment: ${c.lookups} lookups (${c.keysLookedUp} keys), cache hit ratio ${reads ? (c.cacheHits / reads).toFixed(3) : '-'}, ${c.failures} failed attempts, ${c.failed} keys given up\n`);
  }
  if (store !== undefined) await writeStore(store, values.store!, result.sessions, result.orphans, values.quiet);
  onSummary?.(result.summary);
  if (broken) {
    process.stderr.write(`weft replay: ${broken.message}; the output holds the sessions of the ${lines.toLocaleString('en')} lines read before it\n`);
    return 1;
  }
  return 0;
}

const STORE_BATCH = 500;

/** Upserts the final sessions and orphans in batches (idempotent: replaying twice changes nothing). */
async function writeStore(store: Store, url: string, sessions: readonly SessionDoc[], orphans: readonly OrphanDoc[], quiet: boolean): Promise<void> {
  const progress = new Progress('store', quiet);
  for (let i = 0; i < sessions.length; i += STORE_BATCH) {
    await store.upsertSessions(sessions.slice(i, i + STORE_BATCH));
    progress.update(`${Math.min(i + STORE_BATCH, sessions.length).toLocaleString('en')} / ${sessions.length.toLocaleString('en')} sessions`);
  }
  for (let i = 0; i < orphans.length; i += STORE_BATCH) await store.recordOrphans(orphans.slice(i, i + STORE_BATCH));
  progress.done();
  const seconds = (progress.elapsedMs() / 1000).toFixed(1);
  process.stderr.write(`stored            ${sessions.length.toLocaleString('en')} sessions and ${orphans.length.toLocaleString('en')} orphans in ${redact(url)} (${seconds} s)\n`);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

export function sessionLine(s: SessionDoc): string {
  const head = JSON.stringify({
    kind: 'session', id: s.id, template: s.template, key: s.key, start: s.start, end: s.end, status: s.status,
    version: s.version, verdict: s.verdict, severity: s.severity, explain: s.explain, splitOf: s.splitOf,
    mergedInto: s.mergedInto, fields: s.fields,
  });
  let line = `${head.slice(0, -1)},"events":[`;
  const events = s.events;
  for (let i = 0; i < events.length; i++) line += (i === 0 ? '' : ',') + eventJson(events[i]!);
  return line + ']}';
}

/** A record whose text is known is written as that text (exactly as read, and no re-serialising). */
function eventJson(e: EventDoc): string {
  const raw = rawOf(e);
  if (raw !== undefined) return `${eventHead(e.step, e.source)}${e.time},"value":${raw}}`;
  return JSON.stringify(plainEvent(e));
}

/** `{"step":…,"source":…,"time":` by source and step: a template has few, and every record repeats one. */
const eventHeads = new Map<string, Map<string, string>>();

function eventHead(step: string, source: string): string {
  let ofSource = eventHeads.get(source);
  if (ofSource === undefined) eventHeads.set(source, (ofSource = new Map()));
  let head = ofSource.get(step);
  if (head === undefined) ofSource.set(step, (head = `{"step":${JSON.stringify(step)},"source":${JSON.stringify(source)},"time":`));
  return head;
}

export function orphanLine(o: OrphanDoc): string {
  return JSON.stringify({ kind: 'orphan', template: o.template, step: o.step, source: o.source, value: o.value, reason: o.reason });
}

function writeOutput(path: string | undefined, sessions: readonly SessionDoc[], orphans: readonly OrphanDoc[]): Promise<void> {
  const lines = function* () {
    for (const s of sessions) yield sessionLine(s);
    for (const o of orphans) yield orphanLine(o);
  };
  return writeLines(lines(), path && path !== '-' ? path : process.stdout);
}

export function formatSummary(s: ReplaySummary, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? Math.round((s.records / elapsedMs) * 1000) : 0;
  const lines = [
    `records read      ${s.records.toLocaleString('en')} (${s.lines.toLocaleString('en')} lines, ${rate.toLocaleString('en')} records/s)`,
    `skipped           ${s.skipped.toLocaleString('en')}${Object.keys(s.skippedByReason).length ? '  ' + Object.entries(s.skippedByReason).map(([k, v]) => `${k}: ${v}`).join(', ') : ''}`,
    `sessions          ${s.sessions.toLocaleString('en')} (${s.merged} merged away, ${s.splits} linked splits)`,
    ...Object.entries(s.verdicts).sort((a, b) => b[1] - a[1]).map(([v, n]) => `  ${v.padEnd(24)}${n.toLocaleString('en')}`),
    `orphans           ${s.orphans.toLocaleString('en')}`,
    `late re-applied   ${s.lateReapplied.toLocaleString('en')}`,
    `late dropped      ${s.lateDropped.toLocaleString('en')}`,
    `duplicates        ${s.duplicates.toLocaleString('en')}`,
    `noise (no step)   ${s.unmatched.toLocaleString('en')}`,
    `fires             ${Object.entries(s.fires).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  ];
  return lines.join('\n') + '\n';
}
