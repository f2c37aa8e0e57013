import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

/**
 * Type-checks dashboard JSON against {@link import('./dashboard-types.js').WeftDashboard} with the
 * TypeScript compiler: each JSON text becomes `export const dashboard = <json> satisfies
 * WeftDashboard;` in an in-memory file next to dashboard-types.ts (so `@grafana/schema` resolves
 * from node_modules), and the compiler's diagnostics are mapped back to the JSON's lines.
 */

const HERE = import.meta.dirname;
const HEADER = "import type { WeftDashboard } from './dashboard-types.js';\nexport const dashboard = ";
const HEADER_LINES = HEADER.split('\n').length - 1;

export interface SchemaProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export function checkDashboards(dashboards: ReadonlyArray<{ file: string; text: string }>): SchemaProblem[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const virtual = new Map<string, { file: string; text: string }>();
  dashboards.forEach((d, i) => {
    virtual.set(resolve(HERE, `__dashboard_check_${i}.ts`), { file: d.file, text: `${HEADER}${d.text.trimEnd()} satisfies WeftDashboard;\n` });
  });
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => virtual.get(resolve(name))?.text ?? readFile(name);
  host.fileExists = (name) => virtual.has(resolve(name)) || fileExists(name);
  host.getSourceFile = (name, language, onError, create) => {
    const v = virtual.get(resolve(name));
    return v ? ts.createSourceFile(name, v.text, language, true) : getSourceFile(name, language, onError, create);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  const problems: SchemaProblem[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const source = diagnostic.file && virtual.get(resolve(diagnostic.file.fileName));
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!source || diagnostic.start === undefined) {
      problems.push({ file: diagnostic.file?.fileName ?? '(compiler)', line: 0, message });
      continue;
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start);
    problems.push({ file: source.file, line: line + 1 - HEADER_LINES, message });
  }
  return problems;
}

export const DASHBOARD_DIR = join(dirname(dirname(dirname(HERE))), 'dashboards');
