// Bench-only ORT CPU backend: lowers leanformer.Attention with @leanformer/onnx's attention lowering
// in a chosen form (OrtBackend always takes the forms table's choice), encodes the graph and runs it
// on onnxruntime-node with the given threads / denormal setting.
import * as ort from 'onnxruntime-node';
import { Tensor, type Backend, type Executor, type Graph } from '@leanformer/core';
import { encodeModel, lowerAttention, type AttentionForm } from '@leanformer/onnx';

/** ORT CPU as a core Backend; `form` forces the attention lowering form (default: the forms table). */
export function ortCpuBackend(o: { form?: AttentionForm; chunkSize?: number; threads?: number; ftz?: boolean } = {}): Backend {
  return {
    name: `ort-cpu${o.form ? `(${o.form})` : ''}`,
    async compile(graph: Graph): Promise<Executor> {
      for (const n of [...graph.nodes]) if (n.domain === 'leanformer' && n.op === 'Attention') lowerAttention(n, { runtime: 'ort', ep: 'cpu' }, { ...(o.form ? { form: o.form } : {}), ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}) });
      const session = await ort.InferenceSession.create(encodeModel(graph), { executionProviders: ['cpu'], ...(o.threads ? { intraOpNumThreads: o.threads } : {}), ...(o.ftz ? { extra: { session: { set_denormal_as_zero: '1' } } } : {}) });
      return {
        info: { backend: 'ort', device: 'cpu' },
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        async run(feeds) {
          const inputs: Record<string, ort.Tensor> = {};
          for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.dtype.ort as 'float32', t.data as Float32Array, [...t.shape]);
          const res = await session.run(inputs);
          const out: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(res)) out[k] = new Tensor(v.type as 'float32', v.dims as number[], v.data as Float32Array);
          return out;
        },
        async dispose() { await session.release(); },
      };
    },
  };
}
