/** ops: stateless functions of tensors, one file per kernel family (like torch.nn.functional). */
export * from './elementwise.js';
export * from './gemm.js';
export * from './conv.js';
export * from './pool.js';
export * from './lrn.js';
export * from './lrn-pool.js';
export * from './activation.js';
export * from './dropout.js';
export * from './linear.js';
export * from './linear-bf16.js';
export * from './loss.js';
export * from './optim.js';
export * from './channel-affine.js';
export * from './rbf.js';
export * from './capture.js';
export * from './view.js';
export * from './collective.js';
