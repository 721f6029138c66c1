// The optim ops (to be filled in).
export {};
