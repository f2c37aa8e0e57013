/**
 * In-place list edits for the engine's per-key lists. `splice` returns a fresh array of what it
 * removed (and inserting through it may copy); these run for every record, so they allocate nothing.
 */

/** Removes the first occurrence of `item`, keeping the order of the rest; false if absent. */
export function removeFrom<T>(list: T[], item: T): boolean {
  const i = list.indexOf(item);
  if (i < 0) return false;
  removeAt(list, i);
  return true;
}

/** Removes the element at `i`, keeping the order of the rest. */
export function removeAt<T>(list: T[], i: number): void {
  for (let k = i + 1; k < list.length; k++) list[k - 1] = list[k]!;
  list.length--;
}

/** Inserts `item` at `i`, shifting the rest up. */
export function insertAt<T>(list: T[], i: number, item: T): void {
  list.push(item);
  for (let k = list.length - 1; k > i; k--) list[k] = list[k - 1]!;
  list[i] = item;
}
