export { parseTemplate, loadTemplateFile } from './load.js';
export { compileTemplate } from './compile.js';
export { TemplateError, formatIssue, issueMessage, type TemplateIssue } from './errors.js';
export { parseDuration, formatDuration } from './duration.js';
export { toPlain, celErrorMessage, STEP_MAPS, type CompiledExpression } from './cel.js';
export type { Presence } from './presence.js';
export { FAIL, UNSURE, compileRecordFast, compileSessionFast, type RecordProgram, type SessionProgram, type SessionScope } from './fastcel.js';
export * from './types.js';
