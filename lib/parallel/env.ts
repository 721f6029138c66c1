/**
 * Where this process stands in a group, read from the environment as torchrun sets it (RANK,
 * WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), with Slurm's SLURM_PROCID,
 * SLURM_NTASKS, SLURM_LOCALID (and SLURM_NTASKS_PER_NODE) when torchrun's are absent. No variable
 * at all is a valid group of one. A variable that is set but wrong is ND_ARG naming it and its
 * value: a typo must not silently train alone.
 */
import { ArgumentError } from '../errors.js';

export interface GroupEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Where the numbers came from. */
  source: 'torchrun' | 'slurm' | 'single';
}

/** torchrun's defaults for the store's address. */
export const DEFAULT_MASTER_ADDR = '127.0.0.1';
export const DEFAULT_MASTER_PORT = 29500;

type Env = Record<string, string | undefined>;

function intVar(env: Env, name: string, min: number, max = 1 << 20): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const s = raw.trim();
  if (!/^\d+$/.test(s)) throw new ArgumentError(`environment: ${name}=${JSON.stringify(raw)} is not a non-negative integer`);
  const v = Number(s);
  if (v < min || v > max) throw new ArgumentError(`environment: ${name}=${JSON.stringify(raw)} is outside [${min}, ${max}]`);
  return v;
}

/** Slurm's tasks per node: "4" or "4(x2)" or "4,2" (then the first node's count is not ours: undefined). */
function slurmTasksPerNode(env: Env): number | undefined {
  const raw = env.SLURM_NTASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE;
  if (!raw) return undefined;
  const m = /^(\d+)(\(x\d+\))?$/.exec(raw.trim());
  return m ? Number(m[1]) : undefined;
}

/** Reads the group from `env` (default process.env); ND_ARG for a bad or inconsistent variable. */
export function groupFromEnv(env: Env = process.env): GroupEnv {
  const torch = env.RANK !== undefined || env.WORLD_SIZE !== undefined;
  const slurm = !torch && env.SLURM_PROCID !== undefined && env.SLURM_NTASKS !== undefined;
  let rank: number;
  let worldSize: number;
  let localRank: number | undefined;
  let localWorldSize: number | undefined;
  let source: GroupEnv['source'];
  if (torch) {
    if (env.RANK === undefined || env.WORLD_SIZE === undefined)
      throw new ArgumentError(
        `environment: RANK and WORLD_SIZE go together (RANK=${JSON.stringify(env.RANK)}, WORLD_SIZE=${JSON.stringify(env.WORLD_SIZE)})`,
      );
    worldSize = intVar(env, 'WORLD_SIZE', 1)!;
    rank = intVar(env, 'RANK', 0)!;
    localRank = intVar(env, 'LOCAL_RANK', 0);
    localWorldSize = intVar(env, 'LOCAL_WORLD_SIZE', 1);
    source = 'torchrun';
  } else if (slurm) {
    worldSize = intVar(env, 'SLURM_NTASKS', 1)!;
    rank = intVar(env, 'SLURM_PROCID', 0)!;
    localRank = intVar(env, 'SLURM_LOCALID', 0);
    localWorldSize = slurmTasksPerNode(env);
    source = 'slurm';
  } else {
    rank = 0;
    worldSize = 1;
    source = 'single';
  }
  const rankName = source === 'slurm' ? 'SLURM_PROCID' : 'RANK';
  if (rank >= worldSize) throw new ArgumentError(`environment: ${rankName}=${rank} is not below the world size ${worldSize}`);
  // Without local variables every rank is taken to be on one node (torchrun's single-node case).
  localWorldSize ??= worldSize;
  localRank ??= rank % localWorldSize;
  if (localRank >= localWorldSize)
    throw new ArgumentError(`environment: LOCAL_RANK=${localRank} is not below LOCAL_WORLD_SIZE=${localWorldSize}`);
  if (localWorldSize > worldSize)
    throw new ArgumentError(`environment: LOCAL_WORLD_SIZE=${localWorldSize} exceeds WORLD_SIZE=${worldSize}`);
  const masterAddr = (env.MASTER_ADDR ?? '').trim() || DEFAULT_MASTER_ADDR;
  if (/\s/.test(masterAddr)) throw new ArgumentError(`environment: MASTER_ADDR=${JSON.stringify(env.MASTER_ADDR)} is not a host name`);
  const masterPort = intVar(env, 'MASTER_PORT', 1, 65535) ?? DEFAULT_MASTER_PORT;
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, source };
}
