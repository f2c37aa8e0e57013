import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test, vi } from 'vitest';
import type { WeftDataSource } from './datasource';
import { QueryEditor } from './QueryEditor';
import type { WeftQuery } from './types';

function setup(query: WeftQuery) {
  const onChange = vi.fn();
  const onRunQuery = vi.fn();
  const view = render(<QueryEditor datasource={{} as WeftDataSource} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
  return { onChange, onRunQuery, view };
}

describe('query editor', () => {
  test('sessions: filters edit the query and run it on blur', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', queryType: 'sessions' });
    expect(screen.getByLabelText(/Fields/)).toBeInTheDocument();
    const template = screen.getByPlaceholderText('any (or $template)');
    await userEvent.type(template, 'p');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'sessions', template: 'p' });
    await userEvent.tab();
    expect(onRunQuery).toHaveBeenCalled();
    expect(screen.queryByPlaceholderText('payment:order-8812:…')).toBeNull();
  });

  test('switching to a session trace asks for the session id and runs', async () => {
    const { onChange, onRunQuery, view } = setup({ refId: 'A', queryType: 'sessions' });
    await userEvent.click(screen.getByRole('radio', { name: 'Session trace' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace' });
    expect(onRunQuery).toHaveBeenCalled();
    view.rerender(<QueryEditor datasource={{} as WeftDataSource} query={{ refId: 'A', queryType: 'trace' }} onChange={onChange} onRunQuery={onRunQuery} />);
    await userEvent.click(screen.getByPlaceholderText('payment:order-8812:…'));
    await userEvent.paste('$s');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', sessionId: '$s' });
  });

  test('field values ask for a field; verdict counts for the series', () => {
    const first = setup({ refId: 'A', queryType: 'fieldValues' });
    expect(screen.getByPlaceholderText('trans_id')).toBeInTheDocument();
    first.view.unmount();
    setup({ refId: 'A', queryType: 'verdictCounts' });
    expect(screen.getByText('Series by')).toBeInTheDocument();
  });
});
