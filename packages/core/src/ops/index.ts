// Op schemas (ONNX and leanformer domains), shape inference and reference kernels.
export {};
