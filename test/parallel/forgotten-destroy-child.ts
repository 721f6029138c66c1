// A group of one whose script never calls destroy(): process-group.test.ts checks that it exits
// by itself (the store's sockets keep the process alive only while a request is pending).
import { initProcessGroup } from '../../lib/parallel/process-group.js';

const pg = await initProcessGroup({ backend: 'gloo' });
await pg.store.set('k', 'v');
process.stdout.write(`joined ${pg.rank} ${(await pg.store.get('k')).toString()}\n`);
