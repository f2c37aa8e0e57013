/** One problem found in a template, located by the file and the path inside the document. */
export interface TemplateIssue {
  readonly file: string;
  readonly path: string;
  readonly message: string;
}

export class TemplateError extends Error {
  constructor(readonly issues: readonly TemplateIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'TemplateError';
  }
}

export function formatIssue(issue: TemplateIssue): string {
  return `${issue.file}: ${issue.path || '(document)'}: ${issue.message}`;
}
