/**
 * The coded rejections of a serving request. Each names the session and, where it helps an
 * operator, the limit that was hit (queue bound, timeout), so a log line says what to tune.
 */
import { ConvkitError } from '../errors.js';

/** The queue is full: answered at once, never queued (a server maps it to 503 + Retry-After). */
export class BusyError extends ConvkitError {
  constructor(message: string) {
    super('ND_BUSY', message);
    this.name = 'BusyError';
  }
}

/** The request's timeout passed before its batch answered. */
export class TimeoutError extends ConvkitError {
  constructor(message: string) {
    super('ND_TIMEOUT', message);
    this.name = 'TimeoutError';
  }
}

/**
 * The request's AbortSignal fired. Named 'AbortError' as fetch() and the DOM do, so handlers
 * that test `e.name === 'AbortError'` work; the signal's reason is the cause.
 */
export class AbortedError extends ConvkitError {
  constructor(message: string, reason?: unknown) {
    super('ND_ABORTED', message, { cause: reason });
    this.name = 'AbortError';
  }
}

/** The session is closing or closed and takes no new requests. */
export class ClosedError extends ConvkitError {
  constructor(message: string) {
    super('ND_CLOSED', message);
    this.name = 'ClosedError';
  }
}

/** Plain data for an error that crosses a thread or process boundary, and back. */
export interface ErrorData {
  name: string;
  message: string;
  code?: string;
}

export function errorData(e: unknown): ErrorData {
  const err = e as { name?: string; message?: string; code?: string };
  return {
    name: String(err?.name ?? 'Error'),
    message: String(err?.message ?? e),
    code: typeof err?.code === 'string' ? err.code : undefined,
  };
}

/** Rebuilds the coded error class from ErrorData (unknown codes become a ConvkitError ND_INTERNAL). */
export function errorFromData(d: ErrorData): Error {
  switch (d.code) {
    case 'ND_BUSY':
      return new BusyError(d.message);
    case 'ND_TIMEOUT':
      return new TimeoutError(d.message);
    case 'ND_ABORTED':
      return new AbortedError(d.message);
    case 'ND_CLOSED':
      return new ClosedError(d.message);
    case undefined:
      return new ConvkitError('ND_INTERNAL', `${d.name}: ${d.message}`);
    default: {
      const e = new ConvkitError(d.code as ConvkitError['code'], d.message);
      e.name = d.name;
      return e;
    }
  }
}
