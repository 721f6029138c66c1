// The pool ops (to be filled in).
export {};
