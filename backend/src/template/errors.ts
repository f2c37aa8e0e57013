/** One problem found in a template, located by the file and the path inside the document. */
export interface TemplateIssue {
  readonly file: string;
  readonly path: string;
  readonly message: string;
  /** 1-based line in the file, when the document was YAML/JSON text. */
  readonly line?: number;
}

export class TemplateError extends Error {
  constructor(readonly issues: readonly TemplateIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'TemplateError';
  }
}

export function formatIssue(issue: TemplateIssue): string {
  return `${issue.file}${issue.line ? `:${issue.line}` : ''}: ${issue.path || '(document)'}: ${issue.message}`;
}
