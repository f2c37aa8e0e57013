export { Enricher, type EnricherOptions, type EnrichCounters } from './enricher.js';
export { openLookup, type DimensionLookup, type Row } from './lookup.js';
