import { css, cx } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Icon, Tooltip, useStyles2 } from '@grafana/ui';
import { useRef } from 'react';
import type { TemplateIssue } from '../api/types';

interface Props {
  readonly value: string;
  readonly onChange: (text: string) => void;
  /** Problems to show: located ones at their line (gutter marker, highlighted line), all in the list below. */
  readonly issues: readonly TemplateIssue[];
  readonly label: string;
  readonly readOnly?: boolean;
}

const LINE_HEIGHT = 20;

/**
 * A plain-text YAML editor with line numbers whose lines carry the validation issues: a marker in
 * the gutter, the line highlighted, and the message under the editor with a jump to the line.
 * (Grafana's Monaco CodeEditor loads Monaco from Grafana's own bundle at run time; a textarea works
 * the same in Grafana, in tests and in the browser harness.)
 */
export function YamlEditor({ value, onChange, issues, label, readOnly }: Props) {
  const s = useStyles2(getStyles);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const lines = value.split('\n');
  const byLine = new Map<number, TemplateIssue[]>();
  for (const issue of issues) if (issue.line !== undefined) byLine.set(issue.line, [...(byLine.get(issue.line) ?? []), issue]);

  const jumpTo = (line: number) => {
    const el = textarea.current;
    if (!el) return;
    const offset = lines.slice(0, line - 1).reduce((acc, l) => acc + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(offset, offset + (lines[line - 1]?.length ?? 0));
    const frame = el.parentElement?.parentElement;
    if (frame) frame.scrollTop = Math.max(0, (line - 5) * LINE_HEIGHT);
  };

  return (
    <div>
      <div className={s.frame}>
        <div className={s.gutter} aria-hidden>
          {lines.map((_, i) => {
            const lineIssues = byLine.get(i + 1);
            return (
              <div key={i} className={cx(s.gutterLine, lineIssues && s.gutterError)} data-line={i + 1} data-error={lineIssues ? 'true' : undefined}>
                {lineIssues ? (
                  <Tooltip content={lineIssues.map((x) => x.message).join('\n')}>
                    <span>
                      <Icon name="exclamation-triangle" size="xs" /> {i + 1}
                    </span>
                  </Tooltip>
                ) : (
                  i + 1
                )}
              </div>
            );
          })}
        </div>
        <div className={s.area}>
          <div className={s.backdrop} aria-hidden>
            {lines.map((line, i) => (
              <div key={i} className={cx(s.line, byLine.has(i + 1) && s.lineError)}>
                {line === '' ? ' ' : line}
              </div>
            ))}
          </div>
          <textarea
            ref={textarea}
            aria-label={label}
            className={s.textarea}
            spellCheck={false}
            wrap="off"
            readOnly={readOnly}
            value={value}
            rows={lines.length}
            style={{ height: lines.length * LINE_HEIGHT + 16 }}
            onChange={(e) => onChange(e.currentTarget.value)}
            onKeyDown={(e) => {
              // Tab indents (two spaces, as YAML wants) instead of leaving the editor.
              if (e.key !== 'Tab' || e.shiftKey) return;
              e.preventDefault();
              const el = e.currentTarget;
              const { selectionStart: start, selectionEnd: end } = el;
              onChange(`${value.slice(0, start)}  ${value.slice(end)}`);
              requestAnimationFrame(() => el.setSelectionRange(start + 2, start + 2));
            }}
          />
        </div>
      </div>
      {issues.length > 0 && (
        <ul className={s.issues} aria-label="Template problems">
          {issues.map((issue, i) => (
            <li key={i} className={s.issue}>
              <Icon name="exclamation-triangle" />{' '}
              {issue.line !== undefined ? (
                <button type="button" className={s.jump} onClick={() => jumpTo(issue.line!)}>
                  Line {issue.line}
                </button>
              ) : (
                <span>Document</span>
              )}
              {issue.path ? <code className={s.path}>{issue.path}</code> : null}
              <span>{issue.message}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => {
  const text = {
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: 13,
    lineHeight: `${LINE_HEIGHT}px`,
    whiteSpace: 'pre' as const,
  };
  return {
    frame: css({
      display: 'flex',
      maxHeight: 560,
      overflow: 'auto',
      border: `1px solid ${theme.components.input.borderColor}`,
      borderRadius: theme.shape.radius.default,
      background: theme.components.input.background,
    }),
    gutter: css({ ...text, padding: theme.spacing(1, 1, 1, 0), minWidth: 56, textAlign: 'right', color: theme.colors.text.disabled, borderRight: `1px solid ${theme.colors.border.weak}`, userSelect: 'none', flexShrink: 0 }),
    gutterLine: css({ height: LINE_HEIGHT, paddingLeft: theme.spacing(0.5) }),
    gutterError: css({ color: theme.colors.error.text, background: theme.colors.error.transparent }),
    area: css({ position: 'relative', flexGrow: 1, minWidth: 0 }),
    backdrop: css({ ...text, position: 'absolute', inset: 0, padding: theme.spacing(1), color: 'transparent', pointerEvents: 'none' }),
    line: css({ height: LINE_HEIGHT }),
    lineError: css({ background: theme.colors.error.transparent, textDecoration: `underline wavy ${theme.colors.error.main}`, textDecorationSkipInk: 'none' }),
    textarea: css({
      ...text,
      position: 'relative',
      display: 'block',
      width: '100%',
      minWidth: '100%',
      padding: theme.spacing(1),
      border: 'none',
      outline: 'none',
      resize: 'none',
      overflow: 'hidden',
      background: 'transparent',
      color: theme.colors.text.primary,
      caretColor: theme.colors.text.primary,
    }),
    issues: css({ listStyle: 'none', margin: theme.spacing(1, 0, 0), padding: 0 }),
    issue: css({ color: theme.colors.error.text, display: 'flex', gap: theme.spacing(1), alignItems: 'baseline', padding: theme.spacing(0.25, 0) }),
    jump: css({ background: 'none', border: 'none', padding: 0, color: theme.colors.text.link, cursor: 'pointer', fontWeight: theme.typography.fontWeightMedium }),
    path: css({ color: theme.colors.text.secondary }),
  };
};
