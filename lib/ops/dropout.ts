// The dropout ops (to be filled in).
export {};
