// The lrn ops (to be filled in).
export {};
