import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/**
 * OTLP encodings of spans, through the OpenTelemetry serialisers (never hand-built): an
 * `ExportTraceServiceRequest`, which is wire-identical to OTLP `TracesData` and to Tempo's
 * `tempopb.Trace` (all three: field 1 = repeated ResourceSpans).
 */
export function otlpProtobuf(spans: ReadableSpan[]): Uint8Array {
  return ProtobufTraceSerializer.serializeRequest(spans)!;
}

export interface OtlpJsonTrace {
  readonly resourceSpans: unknown[];
}

/** OTLP/JSON (hex ids, nanosecond times as strings), as an object. */
export function otlpJson(spans: ReadableSpan[]): OtlpJsonTrace {
  const bytes = JsonTraceSerializer.serializeRequest(spans)!;
  const parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Partial<OtlpJsonTrace>;
  return { resourceSpans: parsed.resourceSpans ?? [] };
}

/**
 * The `resourceSpans` array of the OTLP/JSON encoding, as JSON text: what the JSON trace bodies
 * (`{"resourceSpans": …}`, Tempo's `{"trace": {"resourceSpans": …}}` and `{"batches": …}`) embed.
 */
export function otlpResourceSpansJson(spans: ReadableSpan[]): string {
  return JSON.stringify(otlpJson(spans).resourceSpans);
}

/**
 * Tempo's v2 trace-by-id protobuf body, `TraceByIDResponse { Trace trace = 1; … }` (Tempo 2.x
 * `pkg/tempopb/tempo.proto`): the serialiser's bytes are the `Trace` message; this adds only the
 * envelope's field-1 key and length (status COMPLETE is proto3's default and stays implicit).
 */
export function tempoTraceByIdProtobuf(spans: ReadableSpan[]): Uint8Array {
  return tempoTraceByIdEnvelope(otlpProtobuf(spans));
}

/** {@link tempoTraceByIdProtobuf} from the serialised `Trace` message. */
export function tempoTraceByIdEnvelope(trace: Uint8Array): Uint8Array {
  const header: number[] = [0x0a];
  let n = trace.length;
  while (n > 0x7f) {
    header.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  header.push(n);
  const out = new Uint8Array(header.length + trace.length);
  out.set(header, 0);
  out.set(trace, header.length);
  return out;
}
