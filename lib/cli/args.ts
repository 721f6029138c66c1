/** Argument helpers shared by the CLI's commands: usage errors (exit code 2) and numbers. */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

/** The number given as --name, or the fallback when it was not given. */
export function num(v: string | undefined, name: string, fallback: number, int = false): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isSafeInteger(n))) throw new UsageError(`--${name} must be ${int ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
  return n;
}
