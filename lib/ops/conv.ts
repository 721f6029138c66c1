// The conv ops (to be filled in).
export {};
