// Prints backends()' gloo entry as JSON (gloo-loader.test.ts runs it with CONVKIT_GLOO_SHIM set:
// the shim loads once per process, so each case needs a process of its own).
import { backends } from '../../lib/backends.js';

process.stdout.write(JSON.stringify(backends().find((b) => b.name === 'gloo')) + '\n');
