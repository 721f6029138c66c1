/**
 * Argument handling shared by the CLI's commands: a table of options per command (each with its
 * description, default and range, so that `--help` and validation come from one place), parsing
 * with node:util's parseArgs, and usage errors (exit code 2).
 */
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help (N, X, FILE, ...). */
  arg?: string;
  desc: string;
  /** The default as help shows it (may depend on the variant: "5 (modern), 20 (classic)"). */
  default?: string;
}

export interface CommandSpec {
  /** As typed: "train lenet5", "evaluate". */
  name: string;
  summary: string;
  /** The positional arguments, for help: "[IMAGE ...]". */
  positionals?: string;
  options: Record<string, OptionSpec>;
  /** Lines printed after the options (notes, examples). */
  notes?: string[];
}

/** Options that every command takes. */
export const COMMON: Record<string, OptionSpec> = {
  json: { type: 'boolean', desc: 'print JSON lines even on a terminal (always, when stdout is not a terminal)' },
  help: { type: 'boolean', short: 'h', desc: 'print this help' },
};

export const DEVICE: OptionSpec = {
  type: 'string',
  arg: 'DEV',
  desc: "where to run: 'cpu', 'cpu:N' (CPU stream N) or 'cuda:N' (GPU N; needs the CUDA build)",
  default: 'cpu',
};

export const DEVICES: OptionSpec = {
  type: 'string',
  arg: 'DEV,DEV,...',
  desc: "data-parallel replicas, one per device ('cpu:0,cpu:1' or 'cuda:0,cuda:1'): each batch is split over them and their gradients all-reduced",
  default: 'none (one device: --device)',
};

/** Per-command help: every option with its description and default. */
export function helpText(c: CommandSpec): string {
  const opts = { ...c.options, ...COMMON };
  const heads = Object.entries(opts).map(
    ([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.arg ?? 'X'}` : ''}`,
  );
  const pad = Math.min(28, Math.max(...heads.map((h) => h.length)) + 2);
  const lines = [`usage: convkit ${c.name}${c.positionals ? ` ${c.positionals}` : ''} [options]`, '', c.summary, '', 'options:'];
  Object.values(opts).forEach((o, i) => {
    const head = heads[i];
    const text = o.desc + (o.default !== undefined ? ` (default: ${o.default})` : '');
    lines.push(head.length + 2 > pad ? `  ${head}\n  ${' '.repeat(pad)}${text}` : `  ${head.padEnd(pad)}${text}`);
  });
  if (c.notes?.length) lines.push('', ...c.notes);
  return lines.join('\n');
}

/**
 * Parses `argv` against the command's options. A value that begins with '-' (`--lr -1`) reads as
 * another option to parseArgs ("ambiguous"): the message says to write `--lr=-1`, which then
 * meets the range checks of the command like any other value.
 */
export function parseCommand(c: CommandSpec, argv: string[]): { values: Values; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries({ ...c.options, ...COMMON }))
    options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /ambiguous/.test(err.message)) {
      const m = /'--([\w-]+)/.exec(err.message);
      const name = m?.[1] ?? '?';
      const i = argv.indexOf(`--${name}`);
      const value = i >= 0 ? argv[i + 1] : '-X';
      throw new UsageError(`--${name} ${value}: a value that starts with '-' reads as an option; write it as --${name}=${value}`);
    }
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const m = /'(-[^']+)'/.exec(err.message);
      throw new UsageError(`convkit ${c.name}: unknown option ${m?.[1] ?? err.message} (see convkit ${c.name} --help)`);
    }
    throw new UsageError(err.message);
  }
}

export interface Range {
  /** Smallest allowed value (inclusive unless minExclusive). */
  min?: number;
  minExclusive?: boolean;
  max?: number;
  maxExclusive?: boolean;
}

function rangeText(r: Range): string {
  const lo = r.min === undefined ? '' : `${r.minExclusive ? '>' : '>='} ${r.min}`;
  const hi = r.max === undefined ? '' : `${r.maxExclusive ? '<' : '<='} ${r.max}`;
  return [lo, hi].filter(Boolean).join(' and ');
}

/** The number given as --name (checked against `range`), or the fallback when it was not given. */
export function num(v: string | undefined, name: string, fallback: number, int = false, range: Range = {}): number {
  if (v === undefined) return fallback;
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || (int && !Number.isSafeInteger(n)))
    throw new UsageError(`--${name} must be ${int ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
  const low = range.min !== undefined && (range.minExclusive ? n <= range.min : n < range.min);
  const high = range.max !== undefined && (range.maxExclusive ? n >= range.max : n > range.max);
  if (low || high) throw new UsageError(`--${name} must be ${rangeText(range)}, got ${v}`);
  return n;
}

/** A comma-separated list of integers (--index 0,1,2; --lr-milestones 10,15). */
export function intList(v: string, name: string, range: Range = {}): number[] {
  const parts = v.split(',');
  if (parts.some((p) => p.trim() === ''))
    throw new UsageError(`--${name} must be a comma-separated list of integers, got ${JSON.stringify(v)}`);
  return parts.map((p) => num(p.trim(), name, 0, true, range));
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(v: string | undefined, name: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be ${allowed.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as T;
}
