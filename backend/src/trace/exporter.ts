import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SessionDoc } from '../engine/types.js';
import type { CompiledTemplate } from '../template/index.js';
import { sessionSpans } from './mapping.js';

export interface SessionExporterOptions {
  /** The collector's traces URL, e.g. `http://localhost:4318/v1/traces`. */
  readonly url: string;
  /** OTLP/HTTP body: `protobuf` (default, what collectors expect first) or `json`. */
  readonly encoding?: 'protobuf' | 'json';
  readonly headers?: Record<string, string>;
  /** Per export request (default 10 s). */
  readonly timeoutMs?: number;
  /** The compiled template of a session's `template` id (for the behaviour tree); absent: time order. */
  readonly templates?: (id: string) => CompiledTemplate | undefined | Promise<CompiledTemplate | undefined>;
}

export interface ExporterCounters {
  /** Sessions in batches the collector accepted. */
  sessions: number;
  spans: number;
  batches: number;
  /** Batches that failed (after the exporter's own retries). */
  failures: number;
}

/**
 * Exports fired sessions as OTLP/HTTP traces through the OpenTelemetry JS exporter. The trace id
 * comes from the session id, so every fire of a session (complete, idle, late repair, merge)
 * re-exports the whole session under the same trace id, and span ids stay put for the records it
 * already had; a trace backend that keeps the latest span per id shows the current state.
 */
export class SessionTraceExporter {
  readonly counters: ExporterCounters = { sessions: 0, spans: 0, batches: 0, failures: 0 };
  private readonly exporter: OTLPExporterBase<ReadableSpan[]>;

  constructor(private readonly options: SessionExporterOptions) {
    const config = { url: options.url, headers: options.headers ?? {}, timeoutMillis: options.timeoutMs ?? 10_000 };
    this.exporter = options.encoding === 'json'
      ? new OTLPTraceExporter(config)
      : new OTLPExporterBase(
          createOtlpHttpExportDelegate(
            convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
            ProtobufTraceSerializer,
            'otlp_http_span_exporter',
            TraceExporterMetricsHelper,
            undefined,
          ),
        );
  }

  /** Resolves once the collector accepted the batch; rejects with the exporter's error otherwise. */
  async export(sessions: readonly SessionDoc[]): Promise<void> {
    if (sessions.length === 0) return;
    const spans: ReadableSpan[] = [];
    for (const session of sessions) {
      const template = await this.options.templates?.(session.template);
      spans.push(...sessionSpans(session, template));
    }
    const result = await new Promise<ExportResult>((resolve) => this.exporter.export(spans, resolve));
    if (result.code !== ExportResultCode.SUCCESS) {
      this.counters.failures++;
      throw result.error ?? new Error('OTLP export failed');
    }
    this.counters.batches++;
    this.counters.sessions += sessions.length;
    this.counters.spans += spans.length;
  }

  async shutdown(): Promise<void> {
    await this.exporter.shutdown();
  }
}
