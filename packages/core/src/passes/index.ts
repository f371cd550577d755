// Common passes.
export {};
