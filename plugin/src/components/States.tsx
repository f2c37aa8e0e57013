import { Alert, Button, EmptyState, LoadingPlaceholder } from '@grafana/ui';
import type { ReactNode } from 'react';
import { WeftApiError } from '../api/client';

const TITLES: Record<WeftApiError['kind'], string> = {
  unreachable: 'Correlator unreachable',
  unauthorized: 'Correlator refused the token',
  bad_request: 'Bad request',
  not_found: 'Not found',
  server: 'Correlator error',
};

/** An error with what to do about it; `retry` when trying again may help. */
export function ErrorState({ error, retry, title }: { error: unknown; retry?: () => void; title?: string }) {
  const e = error instanceof WeftApiError ? error : undefined;
  return (
    <Alert severity="error" title={title ?? (e ? TITLES[e.kind] : 'Something went wrong')} data-testid="weft-error">
      <div>{e ? e.advice : 'An unexpected error happened while talking to the correlator.'}</div>
      <div>
        <code>{error instanceof Error ? error.message : String(error)}</code>
      </div>
      {retry && (
        <Button size="sm" variant="secondary" icon="sync" onClick={retry} style={{ marginTop: 8 }}>
          Retry
        </Button>
      )}
    </Alert>
  );
}

export function Loading({ text }: { text: string }) {
  return <LoadingPlaceholder text={text} data-testid="weft-loading" />;
}

export function Empty({ message, children }: { message: string; children?: ReactNode }) {
  return (
    <div data-testid="weft-empty">
      <EmptyState variant="not-found" message={message}>
        {children}
      </EmptyState>
    </div>
  );
}
