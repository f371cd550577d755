// IR utilities (clone, equality, printing).
export {};
