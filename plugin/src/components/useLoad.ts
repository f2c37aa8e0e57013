import { useCallback, useEffect, useRef, useState } from 'react';

export type Load<T> =
  | { readonly state: 'loading' }
  | { readonly state: 'error'; readonly error: unknown }
  | { readonly state: 'done'; readonly value: T };

/** Runs `load` whenever `deps` change; a slower earlier answer never overwrites a later one. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): [Load<T>, () => void] {
  const [result, setResult] = useState<Load<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setResult({ state: 'loading' });
    load().then(
      (value) => mine === seq.current && setResult({ state: 'done', value }),
      (error: unknown) => mine === seq.current && setResult({ state: 'error', error }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return [result, reload];
}
