/** Learning-rate schedules: a function of the epoch (0-based) returning the rate for it. */
export type Schedule = (epoch: number) => number;

export function constantLr(lr: number): Schedule {
  return () => lr;
}

/** lr * gamma^floor(epoch / every) (AlexNet divided by 10 three times). */
export function stepLr(lr: number, every: number, gamma = 0.1): Schedule {
  return (e) => lr * gamma ** Math.floor(e / every);
}

/** Piecewise constant: rates[i] from epoch boundaries[i-1] on (LeCun 1998 used a decreasing list). */
export function piecewiseLr(boundaries: number[], rates: number[]): Schedule {
  return (e) => {
    let i = 0;
    while (i < boundaries.length && e >= boundaries[i]) i++;
    return rates[Math.min(i, rates.length - 1)];
  };
}
