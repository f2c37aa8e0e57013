/**
 * Engine state as plain JSON-able data, so a runtime can checkpoint it and restore it after a
 * restart. Steps are named, not numbered, so a snapshot survives a template edit that reorders steps.
 */
import type { SessionStatus } from './types.js';

export interface SessionSnapshot {
  id: string;
  key: string;
  start: number;
  end: number;
  version: number;
  status: SessionStatus;
  splitOf: string | null;
  completeFired: boolean;
  dirty: boolean;
  events: Array<{ step: string; time: number; id: string; value: unknown }>;
}

export interface PastSnapshot {
  id: string;
  start: number;
  end: number;
}

export interface WaitingSnapshot {
  template: string;
  step: string;
  source: string;
  time: number;
  id: string;
  key: string;
  value: unknown;
}

export interface CorrelatorSnapshot {
  template: string;
  watermark: number;
  now: number | null;
  progressAt: number | null;
  idleFiredAt: number;
  sources: Record<string, { maxTime: number; lastSeenAt: number | undefined }>;
  sessions: SessionSnapshot[];
  past: Array<[string, PastSnapshot]>;
  waiting: WaitingSnapshot[];
  closed: Array<{ step: string; value: string; past: PastSnapshot }>;
}

export interface EngineSnapshot {
  version: 1;
  correlators: CorrelatorSnapshot[];
}
