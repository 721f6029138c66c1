#!/usr/bin/env node
// The convkit command; see lib/cli/main.ts.
import os from 'node:os';

// sharp decodes images on libuv's thread pool (4 threads by default); size it to the machine
// before anything starts the pool, hence the dynamic import below.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, os.availableParallelism()));
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
