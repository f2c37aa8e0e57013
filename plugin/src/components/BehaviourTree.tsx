import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Icon, Tooltip, useStyles2 } from '@grafana/ui';
import type { EventDoc } from '../api/types';

export interface TreeNode {
  readonly step: string;
  readonly children: TreeNode[];
}

/** Parent-of map (template order) → forest. Steps whose parent is unknown become roots. */
export function buildTree(parents: Readonly<Record<string, string | null>>): TreeNode[] {
  const nodes = new Map<string, TreeNode>(Object.keys(parents).map((step) => [step, { step, children: [] }]));
  const roots: TreeNode[] = [];
  for (const [step, parent] of Object.entries(parents)) {
    const node = nodes.get(step)!;
    const parentNode = parent ? nodes.get(parent) : undefined;
    if (parentNode) parentNode.children.push(node);
    else roots.push(node);
  }
  return roots;
}

interface Props {
  /** Parent of each step (null for roots), in template order. */
  readonly tree: Readonly<Record<string, string | null>>;
  readonly events: readonly EventDoc[];
  /** Expected steps the session lacks (marked as missing). */
  readonly missing: readonly string[];
}

/**
 * The template's behaviour tree with what the session holds at each step: how many records and
 * when the first came (relative to the session start), or "missing" for an expected step it lacks.
 */
export function BehaviourTree({ tree, events, missing }: Props) {
  const s = useStyles2(getStyles);
  const start = events.length > 0 ? Math.min(...events.map((e) => e.time)) : 0;
  const byStep = new Map<string, EventDoc[]>();
  for (const e of events) byStep.set(e.step, [...(byStep.get(e.step) ?? []), e]);
  const missingSet = new Set(missing);

  const renderNode = (node: TreeNode) => {
    const held = byStep.get(node.step) ?? [];
    const isMissing = missingSet.has(node.step);
    const state = held.length > 0 ? 'present' : isMissing ? 'missing' : 'absent';
    return (
      <li key={node.step} className={s.item} data-step={node.step} data-state={state}>
        <span className={s[state]}>
          <Icon name={state === 'present' ? 'check-circle' : state === 'missing' ? 'times-circle' : 'circle'} />
          <span className={s.name}>{node.step}</span>
          {state === 'present' && (
            <Tooltip content={`${held.length} record(s); first at +${held[0]!.time - start} ms from the session start`}>
              <span className={s.meta}>
                ×{held.length} · +{formatOffset(held[0]!.time - start)} · {held[0]!.source}
              </span>
            </Tooltip>
          )}
          {state === 'missing' && <span className={s.meta}>missing (expected)</span>}
          {state === 'absent' && <span className={s.meta}>not seen (optional)</span>}
        </span>
        {node.children.length > 0 && <ul className={s.list}>{node.children.map(renderNode)}</ul>}
      </li>
    );
  };

  return (
    <ul className={s.root} aria-label="Behaviour tree">
      {buildTree(tree).map(renderNode)}
    </ul>
  );
}

function formatOffset(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({ listStyle: 'none', margin: 0, padding: 0 }),
  list: css({ listStyle: 'none', margin: 0, paddingLeft: theme.spacing(3), borderLeft: `1px dashed ${theme.colors.border.medium}` }),
  item: css({ padding: theme.spacing(0.25, 0) }),
  name: css({ fontFamily: theme.typography.fontFamilyMonospace, margin: theme.spacing(0, 1) }),
  meta: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
  present: css({ color: theme.colors.success.text }),
  missing: css({ color: theme.colors.error.text, fontWeight: theme.typography.fontWeightMedium }),
  absent: css({ color: theme.colors.text.disabled }),
});
