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

interface ZodLikeIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * A zod issue's message, except that a value that is simply absent reads "missing (required)":
 * zod's default ("Invalid input: expected object, received undefined", or "Invalid input" for a
 * union) does not say that nothing was given. `input` is what was parsed.
 */
export function issueMessage(issue: ZodLikeIssue, input: unknown): string {
  const absent = (issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.message.startsWith('Invalid input') && valueAt(input, issue.path) === undefined;
  return absent ? 'missing (required)' : issue.message;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}
