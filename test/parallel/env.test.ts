// groupFromEnv (lib/parallel/env.ts): torchrun's variables, Slurm's as a fallback, torchrun's
// defaults, and ND_ARG naming the variable and value that are wrong.
import t from 'tap';
import { DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT, groupFromEnv } from '../../lib/parallel/env.js';

t.test('no variables: a group of one with torchrun’s store address', async (t) => {
  t.same(groupFromEnv({}), {
    rank: 0,
    worldSize: 1,
    localRank: 0,
    localWorldSize: 1,
    masterAddr: DEFAULT_MASTER_ADDR,
    masterPort: DEFAULT_MASTER_PORT,
    source: 'single',
  });
});

t.test('torchrun’s variables', async (t) => {
  const g = groupFromEnv({ RANK: '5', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '4', MASTER_ADDR: 'node0', MASTER_PORT: '1234' });
  t.same(g, { rank: 5, worldSize: 8, localRank: 1, localWorldSize: 4, masterAddr: 'node0', masterPort: 1234, source: 'torchrun' });
  const noLocal = groupFromEnv({ RANK: '2', WORLD_SIZE: '3' });
  t.equal(noLocal.localRank, 2, 'without LOCAL_* every rank is on one node');
  t.equal(noLocal.localWorldSize, 3);
});

t.test('Slurm’s variables when torchrun’s are absent', async (t) => {
  const g = groupFromEnv({ SLURM_PROCID: '3', SLURM_NTASKS: '4', SLURM_LOCALID: '1', SLURM_NTASKS_PER_NODE: '2', MASTER_ADDR: 'n1' });
  t.same(g, { rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: 'n1', masterPort: DEFAULT_MASTER_PORT, source: 'slurm' });
  t.equal(groupFromEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_TASKS_PER_NODE: '2(x1)' }).localWorldSize, 2, "Slurm's 2(x1) form");
  const both = groupFromEnv({ RANK: '0', WORLD_SIZE: '2', SLURM_PROCID: '1', SLURM_NTASKS: '9' });
  t.equal(both.source, 'torchrun', "torchrun's variables win over Slurm's");
  t.equal(both.worldSize, 2);
});

t.test('bad values are ND_ARG naming the variable and the value', async (t) => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ RANK: 'one', WORLD_SIZE: '2' }, /RANK="one" is not a non-negative integer/],
    [{ RANK: '-1', WORLD_SIZE: '2' }, /RANK="-1"/],
    [{ RANK: '2', WORLD_SIZE: '2' }, /RANK=2 is not below the world size 2/],
    [{ RANK: '0', WORLD_SIZE: '0' }, /WORLD_SIZE="0" is outside/],
    [{ RANK: '0' }, /RANK and WORLD_SIZE go together/],
    [{ RANK: '0', WORLD_SIZE: '2', LOCAL_RANK: '2', LOCAL_WORLD_SIZE: '2' }, /LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2/],
    [{ RANK: '0', WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '4' }, /LOCAL_WORLD_SIZE=4 exceeds WORLD_SIZE=2/],
    [{ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '70000' }, /MASTER_PORT="70000" is outside \[1, 65535\]/],
    [{ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '29500x' }, /MASTER_PORT="29500x"/],
    [{ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'a b' }, /MASTER_ADDR="a b"/],
    [{ SLURM_PROCID: '4', SLURM_NTASKS: '4' }, /SLURM_PROCID=4 is not below the world size 4/],
  ];
  for (const [env, message] of bad) t.throws(() => groupFromEnv(env), { code: 'ND_ARG', message }, JSON.stringify(env));
});
