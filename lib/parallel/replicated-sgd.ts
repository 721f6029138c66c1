/**
 * One SGD per data-parallel replica, driven as one: every replica applies the same update to its
 * own flat buffers (the all-reduced gradients and the parameters are identical bytes on every
 * replica, so the replicas stay identical without another broadcast). It is an SGD over replica
 * 0's parameters, so checkpoints save one copy of the velocities, as for a single device; a
 * loaded state goes to every replica.
 */
import type { Parameter } from '../layers/layer.js';
import { SGD, type SGDOptions } from '../optim/sgd.js';

export class ReplicatedSGD extends SGD {
  readonly others: readonly SGD[];

  constructor(replicaParams: readonly Parameter[][], o: SGDOptions) {
    super(replicaParams[0], o);
    this.others = replicaParams.slice(1).map((ps) => new SGD(ps, o));
  }

  override step(): void {
    super.step();
    for (const o of this.others) {
      o.lr = this.lr;
      o.step();
    }
  }

  override ensureState(): void {
    super.ensureState();
    for (const o of this.others) o.ensureState();
  }

  override loadState(state: Parameters<SGD['loadState']>[0]): void {
    super.loadState(state);
    for (const o of this.others) o.loadState(state);
  }

  override dispose(): void {
    super.dispose();
    for (const o of this.others) o.dispose();
  }
}
