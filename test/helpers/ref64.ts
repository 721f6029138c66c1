/**
 * Compact float64 references of the ops test/cuda/ops-devices.test.ts runs on every device, so
 * that its CPU half checks values (the CUDA half is then compared with the checked CPU twin).
 * Written from the definitions, independently of the kernels and of each other.
 */

export interface ConvSpec {
  N: number;
  C: number;
  H: number;
  W: number;
  OC: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  groups: number;
}

const outLen = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

/** y = conv(x, w * mask) + bias, and its gradients for dy (dw masked too). */
export function conv64(
  s: ConvSpec,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  mask: ArrayLike<number> | null,
  dy: ArrayLike<number>,
) {
  const { N, C, H, W, OC, KH, KW, stride: S, pad: P, groups: G } = s;
  const OH = outLen(H, KH, S, P),
    OW = outLen(W, KW, S, P),
    Cg = C / G,
    OCg = OC / G;
  const y = new Float64Array(N * OC * OH * OW),
    dx = new Float64Array(N * C * H * W);
  const dw = new Float64Array(OC * Cg * KH * KW),
    db = new Float64Array(OC);
  const wm = (o: number, c: number, kh: number, kw: number) => w[((o * Cg + c) * KH + kh) * KW + kw] * (mask ? mask[o * Cg + c] : 1);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < OC; o++) {
      const g = Math.floor(o / OCg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const at = ((n * OC + o) * OH + oh) * OW + ow;
          let acc = bias ? bias[o] : 0;
          const d = dy[at];
          db[o] += d;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * S - P + kh,
                  iw = ow * S - P + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const xi = ((n * C + g * Cg + c) * H + ih) * W + iw;
                acc += x[xi] * wm(o, c, kh, kw);
                dx[xi] += d * wm(o, c, kh, kw);
                dw[((o * Cg + c) * KH + kh) * KW + kw] += d * x[xi] * (mask ? mask[o * Cg + c] : 1);
              }
          y[at] = acc;
        }
    }
  return { y, dx, dw, db };
}

/** Max pooling without padding: y, argmax (flat index in the plane, first of ties), dx. */
export function maxPool64(N: number, C: number, H: number, W: number, k: number, s: number, x: ArrayLike<number>, dy: ArrayLike<number>) {
  const OH = outLen(H, k, s, 0),
    OW = outLen(W, k, s, 0);
  const y = new Float64Array(N * C * OH * OW),
    argmax = new Float64Array(y.length),
    dx = new Float64Array(N * C * H * W);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let best = -Infinity,
          at = -1;
        for (let h = oh * s; h < oh * s + k; h++)
          for (let w = ow * s; w < ow * s + k; w++) if (x[p * H * W + h * W + w] > best) [best, at] = [x[p * H * W + h * W + w], h * W + w];
        const o = (p * OH + oh) * OW + ow;
        y[o] = best;
        argmax[o] = at;
        dx[p * H * W + at] += dy[o];
      }
  return { y, argmax, dx };
}

/** k x k average pooling, stride k, no padding: y and dx. */
export function avgPool64(N: number, C: number, H: number, W: number, k: number, x: ArrayLike<number>, dy: ArrayLike<number>) {
  const OH = Math.floor(H / k),
    OW = Math.floor(W / k);
  const y = new Float64Array(N * C * OH * OW),
    dx = new Float64Array(N * C * H * W);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const o = (p * OH + oh) * OW + ow;
        for (let h = oh * k; h < oh * k + k; h++)
          for (let w = ow * k; w < ow * k + k; w++) {
            y[o] += x[p * H * W + h * W + w] / (k * k);
            dx[p * H * W + h * W + w] += dy[o] / (k * k);
          }
      }
  return { y, dx };
}

/** LRN across channels with a literal alpha: scale = k + alpha * window sum of x^2, y = x * scale^-beta. */
export function lrn64(shape: number[], size: number, alpha: number, beta: number, k: number, x: ArrayLike<number>, dy: ArrayLike<number>) {
  const [N, C] = shape;
  const hw = x.length / (N * C);
  const lo = Math.floor(size / 2),
    hi = Math.floor((size - 1) / 2);
  const scale = new Float64Array(x.length),
    y = new Float64Array(x.length),
    dx = new Float64Array(x.length);
  const at = (n: number, c: number, i: number) => (n * C + c) * hw + i;
  for (let n = 0; n < N; n++)
    for (let i = 0; i < hw; i++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let j = Math.max(0, c - lo); j <= Math.min(C - 1, c + hi); j++) s += x[at(n, j, i)] ** 2;
        scale[at(n, c, i)] = k + alpha * s;
        y[at(n, c, i)] = x[at(n, c, i)] * scale[at(n, c, i)] ** -beta;
      }
      // dx_j = dy_j scale_j^-beta - 2 beta alpha x_j sum over the c whose window holds j of dy_c y_c / scale_c.
      for (let j = 0; j < C; j++) {
        let s = 0;
        for (let c = Math.max(0, j - hi); c <= Math.min(C - 1, j + lo); c++) s += (dy[at(n, c, i)] * y[at(n, c, i)]) / scale[at(n, c, i)];
        dx[at(n, j, i)] = dy[at(n, j, i)] * scale[at(n, j, i)] ** -beta - 2 * beta * alpha * x[at(n, j, i)] * s;
      }
    }
  return { y, scale, dx };
}

/** y = x W^T + b and the gradients for dy. */
export function linear64(
  N: number,
  inF: number,
  outF: number,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  dy: ArrayLike<number>,
) {
  const y = new Float64Array(N * outF),
    dx = new Float64Array(N * inF),
    dw = new Float64Array(outF * inF),
    db = new Float64Array(outF);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < outF; o++) {
      let s = b[o];
      const d = dy[n * outF + o];
      db[o] += d;
      for (let i = 0; i < inF; i++) {
        s += x[n * inF + i] * w[o * inF + i];
        dx[n * inF + i] += d * w[o * inF + i];
        dw[o * inF + i] += d * x[n * inF + i];
      }
      y[n * outF + o] = s;
    }
  return { y, dx, dw, db };
}

/** Mean softmax cross-entropy, the count of rows whose first argmax is the label, probs, dlogits. */
export function softmaxCrossEntropy64(N: number, K: number, logits: ArrayLike<number>, labels: ArrayLike<number>) {
  const probs = new Float64Array(N * K),
    dlogits = new Float64Array(N * K);
  let loss = 0,
    correct = 0;
  for (let n = 0; n < N; n++) {
    let m = -Infinity,
      arg = 0;
    for (let j = 0; j < K; j++) if (logits[n * K + j] > m) [m, arg] = [logits[n * K + j], j];
    let z = 0;
    for (let j = 0; j < K; j++) z += Math.exp(logits[n * K + j] - m);
    for (let j = 0; j < K; j++) probs[n * K + j] = Math.exp(logits[n * K + j] - m) / z;
    loss -= Math.log(probs[n * K + labels[n]]) / N;
    if (arg === labels[n]) correct++;
    for (let j = 0; j < K; j++) dlogits[n * K + j] = (probs[n * K + j] - (j === labels[n] ? 1 : 0)) / N;
  }
  return { loss: [loss], correct: [correct], probs, dlogits };
}

/** PyTorch's SGD (dampening 0, no Nesterov) over several gradients, v starting at zero. */
export function sgd64(w0: ArrayLike<number>, grads: ArrayLike<number>[], lr: number, momentum: number, weightDecay: number) {
  const w = Float64Array.from(w0),
    v = new Float64Array(w.length);
  for (const g of grads)
    for (let i = 0; i < w.length; i++) {
      const d = g[i] + weightDecay * w[i];
      v[i] = momentum * v[i] + d;
      w[i] -= lr * v[i];
    }
  return { w, v };
}
