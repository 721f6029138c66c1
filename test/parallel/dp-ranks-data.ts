// The fixed global batches of the multi-process data-parallel test: the same on every rank and in
// the single-process reference (6 samples: 3 per rank with 2 ranks, 2 with 3).
export function globalBatch(step: number): { x: Float32Array; labels: Int32Array; n: number } {
  const n = 6;
  const x = Float32Array.from({ length: n * 784 }, (_, i) => Math.sin(i * 0.013 + step * 0.7));
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 3 + step) % 10);
  return { x, labels, n };
}
