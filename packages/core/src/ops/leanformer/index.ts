// Schemas and reference decompositions of leanformer-domain ops. One file per op, added by the module that needs it.
export {};
