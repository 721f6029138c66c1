// The activation ops (to be filled in).
export {};
