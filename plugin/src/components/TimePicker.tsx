import { dateTime, type TimeRange } from '@grafana/data';
import { TimeRangePicker } from '@grafana/ui';
import { useState } from 'react';

/** Grafana's time range picker, with shift and zoom-out like the dashboard's. */
export function TimePicker({ value, onChange }: { value: TimeRange; onChange: (range: TimeRange) => void }) {
  const [timeZone, setTimeZone] = useState('browser');
  const shift = (direction: -1 | 1) => {
    const span = value.to.valueOf() - value.from.valueOf();
    const from = dateTime(value.from.valueOf() + (direction * span) / 2);
    const to = dateTime(value.to.valueOf() + (direction * span) / 2);
    onChange({ from, to, raw: { from, to } });
  };
  return (
    <TimeRangePicker
      value={value}
      onChange={onChange}
      timeZone={timeZone}
      onChangeTimeZone={setTimeZone}
      onMoveBackward={() => shift(-1)}
      onMoveForward={() => shift(1)}
      onZoom={() => {
        const span = value.to.valueOf() - value.from.valueOf();
        const from = dateTime(value.from.valueOf() - span / 2);
        const to = dateTime(value.to.valueOf() + span / 2);
        onChange({ from, to, raw: { from, to } });
      }}
    />
  );
}
