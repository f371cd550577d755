import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';

/**
 * The part of an ONNX Runtime JS module (`onnxruntime-node`, `onnxruntime-web`) that the backend uses.
 * Injected rather than imported so the main entry never pulls a runtime into a browser bundle.
 */
export interface OrtModule {
  readonly InferenceSession: {
    create(model: Uint8Array | string, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly Tensor: new (type: OrtTensor.Type, data: OrtTensor.DataType, dims?: readonly number[]) => OrtTensor;
}

export type { InferenceSession, OrtTensor };
