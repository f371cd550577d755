// The ONNX messages (onnx.proto, IR version 10/11), as data for the table-driven codec.
// Field numbers follow the ONNX specification. Messages the IR does not model
// (SparseTensorProto, TensorAnnotation, TrainingInfoProto, device configuration) are kept as bytes.
import type { FieldDef, MessageDef } from './message.js';

const f = (no: number, name: string, type: FieldDef['type'], repeated = false): FieldDef => ({ no, name, type, repeated });

// Mutually recursive definitions are filled in after construction.
type Mutable = { name: string; fields: FieldDef[] };
const m = (name: string): Mutable => ({ name, fields: [] });

export const StringStringEntry = m('StringStringEntryProto');
export const OperatorSetId = m('OperatorSetIdProto');
export const TensorShapeDimension = m('TensorShapeProto.Dimension');
export const TensorShape = m('TensorShapeProto');
export const TypeProto = m('TypeProto');
export const TypeTensor = m('TypeProto.Tensor');
export const TypeSequence = m('TypeProto.Sequence');
export const TypeMap = m('TypeProto.Map');
export const TypeOptional = m('TypeProto.Optional');
export const TypeSparseTensor = m('TypeProto.SparseTensor');
export const Segment = m('TensorProto.Segment');
export const TensorProto = m('TensorProto');
export const ValueInfo = m('ValueInfoProto');
export const Attribute = m('AttributeProto');
export const Node = m('NodeProto');
export const GraphProto = m('GraphProto');
export const FunctionProto = m('FunctionProto');
export const ModelProto = m('ModelProto');

StringStringEntry.fields.push(f(1, 'key', 'string'), f(2, 'value', 'string'));
OperatorSetId.fields.push(f(1, 'domain', 'string'), f(2, 'version', 'int64'));
TensorShapeDimension.fields.push(f(1, 'dimValue', 'int64'), f(2, 'dimParam', 'string'), f(3, 'denotation', 'string'));
TensorShape.fields.push(f(1, 'dim', TensorShapeDimension, true));
TypeTensor.fields.push(f(1, 'elemType', 'int32'), f(2, 'shape', TensorShape));
TypeSparseTensor.fields.push(f(1, 'elemType', 'int32'), f(2, 'shape', TensorShape));
TypeSequence.fields.push(f(1, 'elemType', TypeProto));
TypeMap.fields.push(f(1, 'keyType', 'int32'), f(2, 'valueType', TypeProto));
TypeOptional.fields.push(f(1, 'elemType', TypeProto));
TypeProto.fields.push(
  f(1, 'tensorType', TypeTensor), f(4, 'sequenceType', TypeSequence), f(5, 'mapType', TypeMap),
  f(9, 'optionalType', TypeOptional), f(8, 'sparseTensorType', TypeSparseTensor), f(6, 'denotation', 'string'),
);
Segment.fields.push(f(1, 'begin', 'int64'), f(2, 'end', 'int64'));
TensorProto.fields.push(
  f(1, 'dims', 'int64', true), f(2, 'dataType', 'int32'), f(3, 'segment', Segment),
  f(4, 'floatData', 'float', true), f(5, 'int32Data', 'int32', true), f(6, 'stringData', 'bytes', true),
  f(7, 'int64Data', 'int64', true), f(8, 'name', 'string'), f(12, 'docString', 'string'), f(9, 'rawData', 'bytes'),
  f(13, 'externalData', StringStringEntry, true), f(14, 'dataLocation', 'int32'),
  f(10, 'doubleData', 'double', true), f(11, 'uint64Data', 'uint64', true), f(16, 'metadataProps', StringStringEntry, true),
);
ValueInfo.fields.push(f(1, 'name', 'string'), f(2, 'type', TypeProto), f(3, 'docString', 'string'), f(4, 'metadataProps', StringStringEntry, true));
Attribute.fields.push(
  f(1, 'name', 'string'), f(21, 'refAttrName', 'string'), f(13, 'docString', 'string'), f(20, 'type', 'int32'),
  f(2, 'f', 'float'), f(3, 'i', 'int64'), f(4, 's', 'bytes'), f(5, 't', TensorProto), f(6, 'g', GraphProto),
  f(22, 'sparseTensor', 'bytes'), f(14, 'tp', TypeProto),
  f(7, 'floats', 'float', true), f(8, 'ints', 'int64', true), f(9, 'strings', 'bytes', true),
  f(10, 'tensors', TensorProto, true), f(11, 'graphs', GraphProto, true), f(23, 'sparseTensors', 'bytes', true),
  f(15, 'typeProtos', TypeProto, true),
);
Node.fields.push(
  f(1, 'input', 'string', true), f(2, 'output', 'string', true), f(3, 'name', 'string'), f(4, 'opType', 'string'),
  f(7, 'domain', 'string'), f(8, 'overload', 'string'), f(5, 'attribute', Attribute, true), f(6, 'docString', 'string'),
  f(9, 'metadataProps', StringStringEntry, true), f(10, 'deviceConfigurations', 'bytes', true),
);
GraphProto.fields.push(
  f(1, 'node', Node, true), f(2, 'name', 'string'), f(5, 'initializer', TensorProto, true),
  f(15, 'sparseInitializer', 'bytes', true), f(10, 'docString', 'string'), f(11, 'input', ValueInfo, true),
  f(12, 'output', ValueInfo, true), f(13, 'valueInfo', ValueInfo, true), f(14, 'quantizationAnnotation', 'bytes', true),
  f(16, 'metadataProps', StringStringEntry, true),
);
FunctionProto.fields.push(
  f(1, 'name', 'string'), f(4, 'input', 'string', true), f(5, 'output', 'string', true), f(6, 'attribute', 'string', true),
  f(11, 'attributeProto', Attribute, true), f(7, 'node', Node, true), f(8, 'docString', 'string'),
  f(9, 'opsetImport', OperatorSetId, true), f(10, 'domain', 'string'), f(13, 'overload', 'string'),
  f(12, 'valueInfo', ValueInfo, true), f(14, 'metadataProps', StringStringEntry, true),
);
ModelProto.fields.push(
  f(1, 'irVersion', 'int64'), f(8, 'opsetImport', OperatorSetId, true), f(2, 'producerName', 'string'),
  f(3, 'producerVersion', 'string'), f(4, 'domain', 'string'), f(5, 'modelVersion', 'int64'), f(6, 'docString', 'string'),
  f(7, 'graph', GraphProto), f(14, 'metadataProps', StringStringEntry, true), f(20, 'trainingInfo', 'bytes', true),
  f(25, 'functions', FunctionProto, true), f(26, 'configuration', 'bytes', true),
);

/** ONNX AttributeProto.AttributeType values. */
export const ATTR_TYPE = {
  float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8, tensors: 9, graphs: 10,
  sparse_tensor: 11, sparse_tensors: 12, type_proto: 13, type_protos: 14,
} as const;

export type { MessageDef };
