import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { compileTemplate } from './compile.js';
import { TemplateError, type TemplateIssue } from './errors.js';
import type { CompiledTemplate } from './types.js';

/** Parses YAML (JSON is YAML) and compiles it; every problem carries the line it is on. */
export function parseTemplate(text: string, file = '<template>'): CompiledTemplate {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new TemplateError(doc.errors.map((e) => ({
      file,
      path: '',
      message: e.message.split('\n')[0]!,
      line: lines.linePos(e.pos[0]).line,
    })));
  }
  let value: unknown;
  try {
    value = doc.toJSON();
  } catch (error) {
    // The YAML library refuses to expand an alias bomb ("billion laughs": anchors of anchors) with a
    // ReferenceError of its own, thrown while the document becomes a value: the text's fault, so
    // an issue of the template like any other, not a crash of whoever loads it.
    if (error instanceof ReferenceError && /alias/i.test(error.message)) throw new TemplateError([{ file, path: '', message: error.message }]);
    throw error;
  }
  try {
    return compileTemplate(value, file);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    throw new TemplateError(error.issues.map((issue) => withLine(issue, doc, lines)));
  }
}

/** The line of the deepest node of `issue.path` that exists in the document. */
function withLine(issue: TemplateIssue, doc: Document, lines: LineCounter): TemplateIssue {
  const path = issue.path === '' ? [] : issue.path.split('.');
  for (let n = path.length; n >= 0; n--) {
    const keys = path.slice(0, n).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    const node = n === 0 ? doc.contents : doc.getIn(keys, true);
    if (isNode(node) && node.range) return { ...issue, line: lines.linePos(node.range[0]).line };
  }
  return issue;
}

export function loadTemplateFile(path: string): CompiledTemplate {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TemplateError([{ file: path, path: '', message: `cannot read: ${(error as Error).message}` }]);
  }
  return parseTemplate(text, path);
}
