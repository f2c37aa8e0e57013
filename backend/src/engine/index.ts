export { Engine, newCounters } from './engine.js';
export { Replay, replayLines, type ReplayResult, type ReplaySummary, type ReplayOptions, type LineError } from './replay.js';
export { MemorySessions } from './memory.js';
export { parseEventTime, readPath } from './time.js';
export { matchStep } from './normalise.js';
export type { EngineSnapshot } from './snapshot.js';
export * from './types.js';
