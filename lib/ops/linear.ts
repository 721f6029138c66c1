// The linear ops (to be filled in).
export {};
