/**
 * The child side of test/helpers/file-fuzz.ts: runs cases from a manifest, one after another,
 * from a start index, and writes one JSON line per event to stdout synchronously (so the line is
 * out before a crash): {"start": i} before a case, then {"i", "ok": true, "check"?} or
 * {"i", "ok": false, "code", "name", "message"}, and at the end {"done": true, "maxRss"}.
 */
import { readFileSync, writeSync } from 'node:fs';

export interface ChildCase {
  kind: string;
  /** The case's files; the reader decides what to do with them. */
  files: string[];
  options?: Record<string, unknown>;
}

/** Reads a case; returns an error string when its result breaks an invariant (e.g. data length != product of dims). */
export type Reader = (c: ChildCase) => Promise<string | null>;

const say = (v: unknown): void => void writeSync(1, `${JSON.stringify(v)}\n`);

function clip(s: string, n = 300): string {
  return s.length <= n ? s : `${s.slice(0, n)}...`;
}

export async function serveCases(readers: Record<string, Reader>): Promise<void> {
  const [manifest, startArg] = process.argv.slice(2);
  const cases = JSON.parse(readFileSync(manifest!, 'utf8')) as ChildCase[];
  for (let i = Number(startArg ?? 0); i < cases.length; i++) {
    const c = cases[i]!;
    say({ start: i });
    const reader = readers[c.kind];
    if (!reader) throw new Error(`no reader for case kind ${c.kind}`);
    try {
      const broken = await reader(c);
      say({ i, ok: true, broken });
    } catch (e) {
      const err = e as Error & { code?: unknown };
      say({
        i,
        ok: false,
        code: typeof err?.code === 'string' ? err.code : null,
        name: err?.name ?? typeof e,
        convkit: isCoded(err),
        message: clip(String(err?.message ?? e)),
      });
    }
  }
  say({ done: true, maxRss: process.resourceUsage().maxRSS * 1024 });
}

/** A convkit error: its code is one of ND_*. */
function isCoded(e: { code?: unknown } | null): boolean {
  return typeof e?.code === 'string' && /^ND_[A-Z]+$/.test(e.code);
}
