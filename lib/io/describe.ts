/**
 * Short, bounded descriptions of untrusted values for error messages. A file's header may hold
 * a `shape` nested 100,000 deep or a 90 MB string; JSON.stringify would recurse to a stack
 * overflow or copy it all into the message. These never recurse more than one level and never
 * return more than about `max` characters.
 */

/** `s` cut to `max` characters, with the cut said. */
export function clip(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}

/** One value at the top level, without looking inside it. */
function shallow(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(clip(v, 40));
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? `${v}n` : String(v);
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[...${v.length} items]`;
  return '{...}';
}

/**
 * A JSON-like description of `v`: arrays and objects show their first few items, each described
 * shallowly, so `[[[[...]]]]` 100,000 deep is "[[...1 items]]".
 */
export function describeValue(v: unknown, max = 120): string {
  let out: string;
  if (Array.isArray(v)) {
    const head = v.slice(0, 8).map(shallow);
    out = `[${head.join(', ')}${v.length > 8 ? `, ... (${v.length} items)` : ''}]`;
  } else if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    const head = keys.slice(0, 5).map((k) => `${JSON.stringify(clip(k, 40))}: ${shallow((v as Record<string, unknown>)[k])}`);
    out = `{${head.join(', ')}${keys.length > 5 ? `, ... (${keys.length} keys)` : ''}}`;
  } else {
    out = shallow(v);
  }
  return clip(out, max);
}
