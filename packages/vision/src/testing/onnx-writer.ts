// Test-only ONNX writer: encodes a graph of standard ops (no subgraphs, no tensor attributes)
// so the end-to-end tests can run on onnxruntime-node before @leanformer/onnx's encoder lands.
// It is not exported from the package; production code goes through @leanformer/onnx.
import protobuf from 'protobufjs';
import { LeanformerError, type Attribute, type Graph, type Value } from '@leanformer/core';

const root = protobuf.Root.fromJSON({ nested: { onnx: { nested: {
  ModelProto: { fields: { ir_version: { type: 'int64', id: 1 }, producer_name: { type: 'string', id: 2 }, graph: { type: 'GraphProto', id: 7 }, opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 } } },
  OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
  GraphProto: { fields: { node: { rule: 'repeated', type: 'NodeProto', id: 1 }, name: { type: 'string', id: 2 }, initializer: { rule: 'repeated', type: 'TensorProto', id: 5 }, input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 }, output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 } } },
  NodeProto: { fields: { input: { rule: 'repeated', type: 'string', id: 1 }, output: { rule: 'repeated', type: 'string', id: 2 }, name: { type: 'string', id: 3 }, op_type: { type: 'string', id: 4 }, attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 }, domain: { type: 'string', id: 7 } } },
  AttributeProto: { fields: { name: { type: 'string', id: 1 }, f: { type: 'float', id: 2 }, i: { type: 'int64', id: 3 }, s: { type: 'bytes', id: 4 }, floats: { rule: 'repeated', type: 'float', id: 7 }, ints: { rule: 'repeated', type: 'int64', id: 8 }, type: { type: 'int32', id: 20 } } },
  TensorProto: { fields: { dims: { rule: 'repeated', type: 'int64', id: 1 }, data_type: { type: 'int32', id: 2 }, name: { type: 'string', id: 8 }, raw_data: { type: 'bytes', id: 9 } } },
  ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
  TypeProto: { fields: { tensor_type: { type: 'TensorTypeProto', id: 1 } } },
  TensorTypeProto: { fields: { elem_type: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
  TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
  Dimension: { fields: { dim_value: { type: 'int64', id: 1 }, dim_param: { type: 'string', id: 2 } } },
} } } });
const Model = root.lookupType('onnx.ModelProto');

function valueInfo(v: Value) {
  if (!v.dtype || !v.shape) throw new LeanformerError('ENCODE_ERROR', `test writer: graph input/output '${v.name}' needs a dtype and shape`);
  return { name: v.name, type: { tensor_type: { elem_type: v.dtype.onnx, shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: String(d) })) } } } };
}

function attribute(name: string, a: Attribute) {
  switch (a.type) {
    case 'int': return { name, type: 2, i: Number(a.value) };
    case 'float': return { name, type: 1, f: a.value };
    case 'ints': return { name, type: 7, ints: a.value.map(Number) };
    case 'floats': return { name, type: 6, floats: a.value };
    case 'string': return { name, type: 3, s: new TextEncoder().encode(a.value) };
    default: throw new LeanformerError('ENCODE_ERROR', `test writer: attribute '${name}' of type ${a.type} is not supported`);
  }
}

/** ModelProto bytes of a flat graph of ONNX-domain (or opset-listed) ops. */
export function writeTestOnnx(g: Graph): Uint8Array {
  const msg = {
    ir_version: 8,
    producer_name: 'leanformer-vision-test',
    opset_import: [...g.opsets].map(([domain, version]) => ({ domain, version })),
    graph: {
      name: g.name,
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
      initializer: [...g.initializers.values()].map((v) => ({ name: v.name, dims: v.const!.shape, data_type: v.const!.dtype.onnx, raw_data: v.const!.bytes() })),
      node: g.nodes.map((n) => ({
        name: n.name, op_type: n.op, domain: n.domain,
        input: n.inputs.map((v) => v?.name ?? ''), output: n.outputs.map((v) => v?.name ?? ''),
        attribute: [...n.attrs].map(([k, a]) => attribute(k, a)),
      })),
    },
  };
  return Model.encode(Model.fromObject(msg)).finish();
}
