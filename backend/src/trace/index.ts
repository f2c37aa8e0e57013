export { sessionSpans, missingSteps, fieldAttributeName, hrTime, ROOT_ATTRIBUTES, MISSING_STEP_EVENT, SCOPE } from './mapping.js';
export { traceIdOf, sessionIdOfTrace, rootSpanIdOf, recordSpanIdOf, TRACE_ID } from './ids.js';
export { flattenRecord, attributeValue, MAX_ATTRIBUTES } from './attributes.js';
export { otlpJson, otlpProtobuf, otlpResourceSpansJson, tempoTraceByIdEnvelope, tempoTraceByIdProtobuf, type OtlpJsonTrace } from './otlp.js';
export { SessionTraceExporter, type SessionExporterOptions, type ExporterCounters } from './exporter.js';
