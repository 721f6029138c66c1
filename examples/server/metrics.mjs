// /metrics in Prometheus text format with prom-client: Node's defaults (event-loop lag, heap,
// GC), requests by model and status, request latency, and each backend's queue depth.
import client from 'prom-client';

export function createMetrics(backends) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const requests = new client.Counter({
    name: 'convkit_requests_total',
    help: 'Predict requests by model and HTTP status',
    labelNames: ['model', 'status'],
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'convkit_request_duration_seconds',
    help: 'Predict request latency, body read to answer',
    labelNames: ['model'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new client.Gauge({
    name: 'convkit_queue_depth',
    help: 'Requests waiting for a batch, per model',
    labelNames: ['model'],
    registers: [registry],
    async collect() {
      for (const b of backends.values()) {
        const s = await b.stats();
        const depth = s.workers ? s.workers.reduce((a, w) => a + (w.stats?.queueDepth ?? 0), 0) : s.queueDepth;
        this.set({ model: b.name }, depth ?? 0);
      }
    },
  });
  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    observe(model, status, seconds) {
      requests.inc({ model, status });
      if (status < 400) latency.observe({ model }, seconds);
    },
  };
}
