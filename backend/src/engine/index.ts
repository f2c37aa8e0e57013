export { Engine, newCounters } from './engine.js';
export { Replay, replayLines, type ReplayResult, type ReplaySummary, type ReplayOptions, type LineError } from './replay.js';
export { MemorySessions } from './memory.js';
export { parseEventTime } from './time.js';
export type { EngineSnapshot } from './snapshot.js';
export * from './types.js';
