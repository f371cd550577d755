// Per-op ONNX lowerings, registered on import. One file per op; add a line here for each.
import { registerOnnxLowering } from '../lower.js';
import { lowerAttention } from './attention.js';
import { lowerQGather } from './gather-quantized.js';
import { lowerQMatMul } from './qmatmul.js';

registerOnnxLowering({ domain: 'leanformer', op: 'QMatMul', lower: (node, target) => lowerQMatMul(node, target) });
registerOnnxLowering({ domain: 'leanformer', op: 'QGather', lower: (node, target) => lowerQGather(node, target) });
registerOnnxLowering({ domain: 'leanformer', op: 'Attention', lower: (node, target) => { lowerAttention(node, target); } });

export * from './attention.js';
export * from './gather-quantized.js';
export * from './qmatmul.js';
