import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { compileTemplate } from './compile.js';
import { TemplateError } from './errors.js';
import type { CompiledTemplate } from './types.js';

/** Parses YAML (JSON is YAML) and compiles it; syntax errors carry their line. */
export function parseTemplate(text: string, file = '<template>'): CompiledTemplate {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new TemplateError(doc.errors.map((e) => ({
      file,
      path: e.linePos ? `line ${e.linePos[0].line}` : '',
      message: e.message.split('\n')[0]!,
    })));
  }
  return compileTemplate(doc.toJSON(), file);
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
