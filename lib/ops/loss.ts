// The loss ops (to be filled in).
export {};
