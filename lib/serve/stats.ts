/**
 * What a session reports: counters, a histogram of batch sizes and latency percentiles over a
 * sliding window (the last `window` requests), so stats() describes recent load, not the
 * whole life of a long-running server.
 */

export interface LatencySummary {
  /** Requests in the window. */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface SessionStats {
  /** Requests waiting for a batch. */
  queueDepth: number;
  /** Requests in the batch now running. */
  inFlight: number;
  completed: number;
  failed: number;
  rejected: { busy: number; timeout: number; aborted: number; closed: number };
  batches: number;
  /** Batches by their number of real requests: { "1": 10, "7": 3 }. */
  batchSizes: Record<string, number>;
  /** Batches by the prepared size they ran at (padded). */
  paddedSizes: Record<string, number>;
  /** Milliseconds from run() to its answer, for requests answered. */
  latencyMs: LatencySummary;
  /** Milliseconds a batch ran (device time plus the copies). */
  batchMs: LatencySummary;
}

/** A ring of the last `window` values with exact percentiles (sorting 4096 numbers is cheap). */
export class Window {
  private readonly values: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly window = 4096) {
    this.values = new Float64Array(window);
  }

  add(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % this.window;
    if (this.filled < this.window) this.filled++;
  }

  summary(): LatencySummary {
    const n = this.filled;
    if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const s = this.values.slice(0, n).sort();
    // Nearest-rank percentile: the smallest value with at least q of the window at or below it.
    const at = (q: number) => s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
    return { count: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[n - 1]! };
  }

  reset(): void {
    this.next = 0;
    this.filled = 0;
  }
}

export function bump(h: Record<string, number>, key: number): void {
  h[key] = (h[key] ?? 0) + 1;
}
