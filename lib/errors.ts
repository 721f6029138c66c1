/**
 * convkit's errors. Every error carries a stable `code`:
 * ND_SHAPE (shapes disagree), ND_ARG (a bad argument), ND_DISPOSED (a disposed tensor was used),
 * ND_OOM, ND_CUDA, ND_NO_CUDA, ND_FORMAT (a malformed file), ND_NAN (training diverged), ND_INTERNAL;
 * ND_BUSY (a bound was hit: a device's queue past its bound (await a read or synchronize(), then
 * retry), a full serving queue, setIsa while ops are queued), and for serving
 * (lib/serve) ND_TIMEOUT, ND_ABORTED, ND_CLOSED.
 * Shape errors are RangeErrors and argument errors TypeErrors, so generic handlers work too.
 */
export type ErrorCode =
  | 'ND_SHAPE'
  | 'ND_ARG'
  | 'ND_DISPOSED'
  | 'ND_OOM'
  | 'ND_CUDA'
  | 'ND_NO_CUDA'
  | 'ND_FORMAT'
  | 'ND_NAN'
  | 'ND_INTERNAL'
  | 'ND_BUSY'
  | 'ND_TIMEOUT'
  | 'ND_ABORTED'
  | 'ND_CLOSED';

export class ShapeError extends RangeError {
  readonly code = 'ND_SHAPE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

export class ArgumentError extends TypeError {
  readonly code = 'ND_ARG' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}

export class DisposedError extends Error {
  readonly code = 'ND_DISPOSED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'DisposedError';
  }
}

/** An error with any code, for failures that come from native code or from files. */
export class ConvkitError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ConvkitError';
  }
}

/** Formats a shape as [2, 3, 4] for messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
