import { Badge, type BadgeColor, type IconName } from '@grafana/ui';
import type { Severity } from '../api/types';

const COLOR: Record<Severity, BadgeColor> = { critical: 'red', warning: 'orange', info: 'blue', ok: 'green' };
const ICON: Record<Severity, IconName> = { critical: 'exclamation-circle', warning: 'exclamation-triangle', info: 'info-circle', ok: 'check-circle' };

/** A verdict coloured by its severity (no verdict yet: a grey "pending"). */
export function VerdictBadge({ verdict, severity }: { verdict: string | null; severity: Severity | null }) {
  if (verdict === null || severity === null) return <Badge text="pending" color="darkgrey" />;
  return <Badge text={verdict} color={COLOR[severity]} icon={ICON[severity]} tooltip={`severity: ${severity}`} data-severity={severity} />;
}

export function SeverityBadge({ severity }: { severity: Severity | null }) {
  if (severity === null) return <Badge text="—" color="darkgrey" />;
  return <Badge text={severity} color={COLOR[severity]} />;
}
