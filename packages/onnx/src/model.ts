// ONNX ModelProto ⇄ leanformer IR. Decoding keeps tensor bytes as views into the input buffer
// (zero-copy where aligned) and checks every declared size against the bytes present before
// allocating; only LeanformerError escapes. Encoding writes raw_data for numeric tensors.
import {
  Graph, LeanformerError, Tensor, byteSize, dtypeFromOnnx, normalizeDomain, shapeSize,
  type Attribute, type AttributeMap, type DType, type Dim, type FunctionDef, type ModelInfo, type Node, type TensorSource, type ValueType,
} from '@leanformer/core';
import { decodeMessage, encodeMessage, MSG_START, UNKNOWN_FIELDS, unknownFields, type Msg } from './proto/message.js';

/** `meta` keys holding protobuf fields this codec does not model, kept verbatim for the round trip. */
export const META_UNKNOWN_FIELDS = 'onnx.unknownFields';
export const META_UNKNOWN_MODEL_FIELDS = 'onnx.unknownModelFields';
/** `meta` key of ModelProto.configuration (multi-device DeviceConfigurationProto messages, opaque). */
export const META_CONFIGURATION = 'onnx.configuration';

/** Copies a decoded message's unknown fields into `meta` (nothing when there are none). */
function keepUnknown(msg: Msg, meta: Map<string, unknown>, key: string): void {
  const u = unknownFields(msg);
  if (u.length) meta.set(key, u);
}

/** Puts unknown fields kept in `meta` back on a message to encode. */
function restoreUnknown(meta: Map<string, unknown>, key: string, msg: Msg): Msg {
  const u = meta.get(key);
  if (Array.isArray(u) && u.length) (msg as Record<symbol, unknown>)[UNKNOWN_FIELDS] = u;
  return msg;
}
import * as P from './proto/onnx-proto.js';
import { ATTR_TYPE } from './proto/onnx-proto.js';

/** Where an external tensor's bytes live, as written in TensorProto.external_data. */
export interface ExternalDataInfo {
  readonly location: string;
  readonly offset: number;
  /** Byte length; undefined means "to the end of the file" (the resolver computes it). */
  readonly length: number | undefined;
  readonly checksum?: string;
}

/** Resolves an external tensor to its bytes (or a lazy source). Called by decodeModel per external tensor. */
export type ExternalDataResolver = (info: ExternalDataInfo, expectedBytes: number, tensorName: string) => Uint8Array | TensorSource;

/** Options of decodeModel / decodeTensor. */
export interface DecodeOptions {
  /** Needed for models with external data; `loadModel` from '@leanformer/onnx/node' supplies one. */
  readonly externalData?: ExternalDataResolver;
  /**
   * Lets the decoder move each initializer's raw_data a few bytes back inside `bytes` (over its own,
   * already parsed, tag and length prefix) so that it starts aligned and the tensor can be a
   * zero-copy view instead of a copy. The caller gives `bytes` up: its contents change, and it can
   * no longer be decoded again. `loadModel` sets this for the buffer it reads.
   */
  readonly mayMutateInput?: boolean;
}

/** Decides whether a tensor is written outside the model; returns where, or undefined to embed it. */
export type ExternalDataPlacer = (tensor: Tensor, name: string) => { location: string; offset: number; length: number } | undefined;

/** Options of encodeModel. */
export interface EncodeOptions {
  /** Called for each initializer; a returned location writes it as external data (the caller writes the bytes). */
  readonly externalData?: ExternalDataPlacer;
}

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

function fail(message: string): never {
  throw new LeanformerError('DECODE_ERROR', message);
}

/**
 * Decodes ONNX ModelProto bytes into a Graph (the top-level graph carries `model` info and opsets).
 *
 * @example
 * ```ts
 * const graph = decodeModel(new Uint8Array(await (await fetch('model.onnx')).arrayBuffer()));
 * console.log(graph.nodes.length, graph.opsets.get(''));
 * ```
 */
export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): Graph {
  if (!(bytes instanceof Uint8Array)) throw new LeanformerError('INVALID_ARGUMENT', `decodeModel: expected a Uint8Array, got ${typeof bytes}`);
  const msg = guard(() => decodeMessage(P.ModelProto, bytes));
  return guard(() => modelFromProto(msg, options));
}

/** Runs `fn`, turning anything that is not a LeanformerError into DECODE_ERROR (bad bytes must never crash). */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LeanformerError) {
      if (e.code === 'DECODE_ERROR' || e.code === 'EXTERNAL_DATA' || e.code === 'UNSAFE_PATH' || e.code === 'IO_ERROR') throw e;
      throw new LeanformerError('DECODE_ERROR', `Invalid ONNX model: ${e.message}`, { cause: e });
    }
    throw new LeanformerError('DECODE_ERROR', `Invalid ONNX model: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function num(v: unknown, what: string): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${what} must be a safe integer, got ${String(v)}`);
  return v;
}

function kv(entries: unknown): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of (entries as Msg[] | undefined) ?? []) m.set((e.key as string) ?? '', (e.value as string) ?? '');
  return m;
}

function opsetMap(entries: unknown): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of (entries as Msg[] | undefined) ?? []) m.set(normalizeDomain((e.domain as string) ?? ''), num(e.version, 'opset version'));
  return m;
}

function modelFromProto(msg: Msg, options: DecodeOptions): Graph {
  if (!msg.graph) fail('ModelProto has no graph');
  const graph = graphFromProto(msg.graph as Msg, undefined, options);
  keepUnknown(msg, graph.meta, META_UNKNOWN_MODEL_FIELDS);
  if ((msg.configuration as Uint8Array[]).length) graph.meta.set(META_CONFIGURATION, msg.configuration); // DeviceConfigurationProto, opaque
  for (const [d, v] of opsetMap(msg.opsetImport)) graph.opsets.set(d, v);
  const info: ModelInfo = {
    irVersion: num(msg.irVersion, 'ir_version'),
    producerName: (msg.producerName as string) ?? '',
    producerVersion: (msg.producerVersion as string) ?? '',
    domain: (msg.domain as string) ?? '',
    modelVersion: num(msg.modelVersion, 'model_version'),
    docString: (msg.docString as string) ?? '',
    metadataProps: kv(msg.metadataProps),
    functions: ((msg.functions as Msg[]) ?? []).map((f) => functionFromProto(f, options)),
    trainingInfo: (msg.trainingInfo as Uint8Array[]) ?? [],
  };
  graph.model = info;
  return graph;
}

// ---- types ----

function typeFromProto(t: Msg | undefined): ValueType | null {
  if (!t) return null;
  const denotation = (t.denotation as string | undefined) || undefined;
  const withDen = (x: ValueType): ValueType => (denotation ? { ...x, denotation } : x);
  if (t.tensorType || t.sparseTensorType) {
    const tt = (t.tensorType ?? t.sparseTensorType) as Msg;
    const code = tt.elemType === undefined ? 0 : (tt.elemType as number);
    const dtype = code === 0 ? null : dtypeFromOnnx(code);
    const shape = tt.shape ? ((tt.shape as Msg).dim as Msg[]).map(dimFromProto) : null;
    return withDen({ kind: t.tensorType ? 'tensor' : 'sparse_tensor', dtype, shape } as ValueType);
  }
  if (t.sequenceType) return withDen({ kind: 'sequence', elem: typeFromProto((t.sequenceType as Msg).elemType as Msg | undefined) });
  if (t.optionalType) return withDen({ kind: 'optional', elem: typeFromProto((t.optionalType as Msg).elemType as Msg | undefined) });
  if (t.mapType) {
    const mt = t.mapType as Msg;
    return withDen({ kind: 'map', key: dtypeFromOnnx((mt.keyType as number) ?? 0), value: typeFromProto(mt.valueType as Msg | undefined) });
  }
  return null;
}

function dimFromProto(d: Msg): Dim {
  if (d.dimValue !== undefined) return num(d.dimValue, 'dim_value');
  if (d.dimParam !== undefined && d.dimParam !== '') return d.dimParam as string;
  return null;
}

function typeToProto(t: ValueType | null): Msg | undefined {
  if (!t) return undefined;
  const out: Msg = {};
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor': {
      const tt: Msg = {};
      if (t.dtype) tt.elemType = t.dtype.onnx;
      if (t.shape) tt.shape = { dim: t.shape.map(dimToProto) };
      out[t.kind === 'tensor' ? 'tensorType' : 'sparseTensorType'] = tt;
      break;
    }
    case 'sequence': out.sequenceType = { elemType: typeToProto(t.elem) }; break;
    case 'optional': out.optionalType = { elemType: typeToProto(t.elem) }; break;
    case 'map': out.mapType = { keyType: t.key.onnx, valueType: typeToProto(t.value) }; break;
  }
  if (t.denotation) out.denotation = t.denotation;
  return out;
}

function dimToProto(d: Dim): Msg {
  if (typeof d === 'number') return { dimValue: d };
  if (typeof d === 'string') return { dimParam: d };
  return {};
}

// ---- tensors ----

/** Decodes a TensorProto message into a Tensor; external data goes through `resolve`. */
function tensorFromProto(t: Msg, resolve: ExternalDataResolver | undefined, alignInPlace = false): Tensor {
  const name = (t.name as string) ?? '';
  const dims = (t.dims as unknown[]).map((d) => {
    if (typeof d !== 'number' || d < 0) fail(`tensor '${name}': invalid dimension ${String(d)}`);
    return d;
  });
  if (t.segment) throw new LeanformerError('NOT_SUPPORTED', `tensor '${name}': segmented tensors (TensorProto.segment) are not supported`);
  const code = (t.dataType as number | undefined) ?? 0;
  if (code === 0) fail(`tensor '${name}' has no data_type`);
  const dtype = dtypeFromOnnx(code);
  let count: number;
  try { count = shapeSize(dims); } catch { fail(`tensor '${name}': shape [${dims.join(', ')}] is too large`); }
  if (!Number.isSafeInteger(count)) fail(`tensor '${name}': element count overflows`);

  if (t.dataLocation === 1) {
    if (!resolve) throw new LeanformerError('EXTERNAL_DATA', `tensor '${name}' is stored in external data; load the model with loadModel(path) from '@leanformer/onnx/node' or pass an externalData resolver`);
    if (dtype.storage === 'string') fail(`tensor '${name}': string tensors cannot be external`);
    const entries = kv(t.externalData);
    const location = entries.get('location');
    if (!location) fail(`tensor '${name}': external data without a location`);
    const offset = entries.has('offset') ? Number(entries.get('offset')) : 0;
    const length = entries.has('length') ? Number(entries.get('length')) : undefined;
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      fail(`tensor '${name}': invalid external data offset/length '${entries.get('offset')}'/'${entries.get('length')}'`);
    }
    const need = byteSize(dtype, count);
    if (length !== undefined && length !== need) fail(`tensor '${name}': external data length ${length} does not match ${dtype.name}[${dims.join(', ')}] (${need} bytes)`);
    const data = resolve({ location, offset, length, checksum: entries.get('checksum') }, need, name);
    return data instanceof Uint8Array ? Tensor.fromBytes(dtype, dims, data) : new Tensor(dtype, dims, data);
  }

  const raw = t.rawData as Uint8Array | undefined;
  if (dtype.storage === 'string') {
    const strs = (t.stringData as Uint8Array[]).map((b) => utf8.decode(b));
    if (strs.length !== count) fail(`tensor '${name}': ${strs.length} strings for ${count} elements`);
    return new Tensor(dtype, dims, strs);
  }
  if (raw !== undefined && (raw.length > 0 || count === 0)) {
    const need = byteSize(dtype, count);
    if (raw.length !== need) fail(`tensor '${name}': raw_data has ${raw.length} bytes, ${dtype.name}[${dims.join(', ')}] needs ${need}`);
    return Tensor.fromBytes(dtype, dims, alignInPlace ? alignRawData(raw, dtype, (t as Record<symbol, unknown>)[MSG_START] as number | undefined) : raw);
  }
  return tensorFromTypedFields(t, dtype, dims, count, name);
}

const STORAGE_BYTES: Readonly<Record<string, number>> = {
  Float64Array: 8, BigInt64Array: 8, BigUint64Array: 8, Float32Array: 4, Int32Array: 4, Uint32Array: 4, Int16Array: 2, Uint16Array: 2,
};

/**
 * Moves a misaligned raw_data payload back to the previous aligned offset so Tensor.fromBytes can
 * view it instead of copying. The bytes it moves over lie between the start of the TensorProto's
 * field (`start`, an offset in the same ArrayBuffer) and the payload: tags, lengths, dims, data_type,
 * name — all parsed into JS values already, never viewed (only string_data and raw_data are bytes
 * fields, and a numeric tensor keeps neither). Returns the view unchanged when there is no room.
 */
function alignRawData(raw: Uint8Array, dtype: DType, start: number | undefined): Uint8Array {
  const align = STORAGE_BYTES[dtype.storage] ?? 1;
  const shift = raw.byteOffset % align;
  if (shift === 0 || start === undefined || shift > raw.byteOffset - start) return raw;
  const span = new Uint8Array(raw.buffer, raw.byteOffset - shift, raw.length + shift);
  span.copyWithin(0, shift); // memmove; the payload's old last `shift` bytes are not viewed by anything
  return span.subarray(0, raw.length);
}

function tensorFromTypedFields(t: Msg, dtype: DType, dims: number[], count: number, name: string): Tensor {
  const take = (field: string, per = 1): unknown[] => {
    const arr = t[field] as unknown[];
    const want = dtype.isPacked ? Math.ceil((count * dtype.bits) / 8) : count * per;
    if (arr.length !== want) fail(`tensor '${name}': ${field} has ${arr.length} entries, ${dtype.name}[${dims.join(', ')}] needs ${want}`);
    return arr;
  };
  switch (dtype.name) {
    case 'float32': return new Tensor(dtype, dims, Float32Array.from(take('floatData') as number[]));
    case 'complex64': return new Tensor(dtype, dims, Float32Array.from(take('floatData', 2) as number[]));
    case 'float64': return new Tensor(dtype, dims, Float64Array.from(take('doubleData') as number[]));
    case 'complex128': return new Tensor(dtype, dims, Float64Array.from(take('doubleData', 2) as number[]));
    case 'int64': return new Tensor(dtype, dims, BigInt64Array.from(take('int64Data') as (number | bigint)[], (v) => BigInt(v)));
    case 'uint64': return new Tensor(dtype, dims, BigUint64Array.from(take('uint64Data') as (number | bigint)[], (v) => BigInt.asUintN(64, BigInt(v))));
    case 'uint32': return new Tensor(dtype, dims, Uint32Array.from(take('uint64Data') as (number | bigint)[], (v) => Number(v)));
    case 'int32': return new Tensor(dtype, dims, Int32Array.from(take('int32Data') as number[]));
    case 'int16': return new Tensor(dtype, dims, Int16Array.from(take('int32Data') as number[]));
    case 'int8': return new Tensor(dtype, dims, Int8Array.from(take('int32Data') as number[]));
    case 'uint16': case 'float16': case 'bfloat16': return new Tensor(dtype, dims, Uint16Array.from(take('int32Data') as number[]));
    default:
      // uint8, bool, fp8 variants, and packed sub-byte types: one storage byte per int32_data entry.
      if (dtype.storage === 'Uint8Array') return new Tensor(dtype, dims, Uint8Array.from(take('int32Data') as number[]));
      fail(`tensor '${name}': cannot read ${dtype.name} from typed fields`);
  }
}

function tensorToProto(tensor: Tensor, name: string, external?: { location: string; offset: number; length: number }, docString = ''): Msg {
  const out: Msg = { dims: [...tensor.shape], dataType: tensor.dtype.onnx };
  if (name) out.name = name;
  if (docString) out.docString = docString;
  if (external) {
    out.dataLocation = 1;
    out.externalData = [
      { key: 'location', value: external.location },
      { key: 'offset', value: String(external.offset) },
      { key: 'length', value: String(external.length) },
    ];
  } else if (tensor.dtype.storage === 'string') {
    out.stringData = (tensor.data as string[]).map((s) => utf8enc.encode(s));
  } else {
    out.rawData = tensor.bytes();
  }
  return out;
}

/**
 * Decodes a serialized TensorProto (the ONNX test-data `.pb` files).
 *
 * @example
 * ```ts
 * const { name, tensor } = decodeTensor(readFileSync('test_data_set_0/input_0.pb'));
 * ```
 */
export function decodeTensor(bytes: Uint8Array, options: DecodeOptions = {}): { name: string; tensor: Tensor } {
  const msg = guard(() => decodeMessage(P.TensorProto, bytes));
  return guard(() => ({ name: (msg.name as string) ?? '', tensor: tensorFromProto(msg, options.externalData) }));
}

/** Serializes a tensor as a TensorProto (raw_data form). */
export function encodeTensor(tensor: Tensor, name = ''): Uint8Array {
  return encodeMessage(P.TensorProto, tensorToProto(tensor, name));
}

// ---- attributes ----

function attributeFromProto(a: Msg, owner: Graph, options: DecodeOptions): [string, Attribute & { docString?: string }] {
  const name = (a.name as string) ?? '';
  if (!name) fail('attribute without a name');
  const doc = (a.docString as string) || undefined;
  const withDoc = (x: Attribute): Attribute & { docString?: string } => (doc ? { ...x, docString: doc } : x);
  let type = a.type as number | undefined;
  const typeName = Object.entries(ATTR_TYPE).find(([, v]) => v === type)?.[0];
  if (a.refAttrName) return [name, withDoc({ type: 'ref', value: a.refAttrName as string, refType: typeName ?? '' })];
  if (!type) type = inferAttrType(a);
  switch (type) {
    case ATTR_TYPE.float: return [name, withDoc({ type: 'float', value: (a.f as number) ?? 0 })];
    case ATTR_TYPE.int: return [name, withDoc({ type: 'int', value: (a.i as number | bigint) ?? 0 })];
    case ATTR_TYPE.string: return [name, withDoc({ type: 'string', value: utf8.decode((a.s as Uint8Array) ?? new Uint8Array()) })];
    case ATTR_TYPE.tensor: if (!a.t) fail(`attribute '${name}' of type TENSOR has no tensor`); return [name, withDoc({ type: 'tensor', value: tensorFromProto(a.t as Msg, options.externalData) })];
    case ATTR_TYPE.graph: if (!a.g) fail(`attribute '${name}' of type GRAPH has no graph`); return [name, withDoc({ type: 'graph', value: graphFromProto(a.g as Msg, owner, options) })];
    case ATTR_TYPE.sparse_tensor: return [name, withDoc({ type: 'sparse_tensor', value: { opaque: (a.sparseTensor as Uint8Array) ?? new Uint8Array() } })];
    case ATTR_TYPE.type_proto: return [name, withDoc({ type: 'type_proto', value: typeFromProto(a.tp as Msg | undefined) })];
    case ATTR_TYPE.floats: return [name, withDoc({ type: 'floats', value: a.floats as number[] })];
    case ATTR_TYPE.ints: return [name, withDoc({ type: 'ints', value: a.ints as (number | bigint)[] })];
    case ATTR_TYPE.strings: return [name, withDoc({ type: 'strings', value: (a.strings as Uint8Array[]).map((s) => utf8.decode(s)) })];
    case ATTR_TYPE.tensors: return [name, withDoc({ type: 'tensors', value: (a.tensors as Msg[]).map((t) => tensorFromProto(t, options.externalData)) })];
    case ATTR_TYPE.graphs: return [name, withDoc({ type: 'graphs', value: (a.graphs as Msg[]).map((g) => graphFromProto(g, owner, options)) })];
    case ATTR_TYPE.sparse_tensors: return [name, withDoc({ type: 'sparse_tensors', value: (a.sparseTensors as Uint8Array[]).map((b) => ({ opaque: b })) })];
    case ATTR_TYPE.type_protos: return [name, withDoc({ type: 'type_protos', value: (a.typeProtos as Msg[]).map((t) => typeFromProto(t)) })];
    default: fail(`attribute '${name}' has unknown type ${type}`);
  }
}

/** Old writers omit AttributeProto.type: infer it from the field that is set. */
function inferAttrType(a: Msg): number {
  if (a.f !== undefined) return ATTR_TYPE.float;
  if (a.i !== undefined) return ATTR_TYPE.int;
  if (a.s !== undefined) return ATTR_TYPE.string;
  if (a.t !== undefined) return ATTR_TYPE.tensor;
  if (a.g !== undefined) return ATTR_TYPE.graph;
  if ((a.floats as unknown[]).length) return ATTR_TYPE.floats;
  if ((a.ints as unknown[]).length) return ATTR_TYPE.ints;
  if ((a.strings as unknown[]).length) return ATTR_TYPE.strings;
  if ((a.tensors as unknown[]).length) return ATTR_TYPE.tensors;
  if ((a.graphs as unknown[]).length) return ATTR_TYPE.graphs;
  fail(`attribute '${String(a.name)}' has no type and no value`);
}

function attributeToProto(name: string, a: Attribute & { docString?: string }, opts: EncodeOptions): Msg {
  const out: Msg = { name };
  if (a.docString) out.docString = a.docString;
  switch (a.type) {
    case 'ref': out.refAttrName = a.value; if (a.refType) out.type = ATTR_TYPE[a.refType as keyof typeof ATTR_TYPE]; return out;
    case 'float': out.f = a.value; break;
    case 'int': out.i = a.value; break;
    case 'string': out.s = utf8enc.encode(a.value); break;
    case 'tensor': out.t = tensorToProto(a.value, ''); break;
    case 'graph': out.g = graphToProto(a.value, opts); break;
    case 'sparse_tensor': out.sparseTensor = a.value.opaque; break;
    case 'type_proto': out.tp = typeToProto(a.value) ?? {}; break;
    case 'floats': out.floats = [...a.value]; break;
    case 'ints': out.ints = [...a.value]; break;
    case 'strings': out.strings = a.value.map((s) => utf8enc.encode(s)); break;
    case 'tensors': out.tensors = a.value.map((t) => tensorToProto(t, '')); break;
    case 'graphs': out.graphs = a.value.map((g) => graphToProto(g, opts)); break;
    case 'sparse_tensors': out.sparseTensors = a.value.map((s) => s.opaque); break;
    case 'type_protos': out.typeProtos = a.value.map((t) => typeToProto(t) ?? {}); break;
  }
  out.type = ATTR_TYPE[a.type];
  return out;
}

// ---- graphs ----

function graphFromProto(msg: Msg, parent: Graph | undefined, options: DecodeOptions, formalInputs: readonly string[] = []): Graph {
  const g = new Graph((msg.name as string) ?? '', parent);
  keepUnknown(msg, g.meta, META_UNKNOWN_FIELDS);
  for (const name of formalInputs) g.addInput(name, null); // function bodies: formal parameters, untyped
  g.docString = (msg.docString as string) ?? '';
  for (const [k, v] of kv(msg.metadataProps)) g.metadataProps.set(k, v);
  g.opaque.sparseInitializers.push(...((msg.sparseInitializer as Uint8Array[]) ?? []));
  g.opaque.quantizationAnnotations.push(...((msg.quantizationAnnotation as Uint8Array[]) ?? []));

  for (const t of msg.initializer as Msg[]) {
    const name = (t.name as string) ?? '';
    if (!name) fail(`graph '${g.name}': initializer without a name`);
    if (g.initializers.has(name)) fail(`graph '${g.name}': duplicate initializer '${name}'`);
    const v = g.addInitializer(name, tensorFromProto(t, options.externalData, options.mayMutateInput));
    v.docString = (t.docString as string) ?? '';
  }
  for (const vi of msg.input as Msg[]) {
    const name = (vi.name as string) ?? '';
    const existing = g.initializers.get(name);
    const type = typeFromProto(vi.type as Msg | undefined);
    if (existing) {
      g.inputs.push(existing); // an input with a default value (initializer), IR < 4 style
      existing.meta.set('onnx.inputType', type);
    } else {
      const v = g.addInput(name, type);
      v.docString = (vi.docString as string) ?? '';
    }
  }
  // Pass 1: create every node and its outputs, so inputs may refer to values defined later
  // (unsorted files) and subgraphs may refer to any outer value.
  const protos = msg.node as Msg[];
  const nodes: Node[] = protos.map((n) => {
    const outs = (n.output as string[]).map((o) => (o === '' ? null : o));
    for (const o of outs) if (o !== null && g.lookup(o) && g.lookup(o)!.graph === g) fail(`graph '${g.name}': value '${o}' is defined twice`);
    const node = g.addNode({
      op: (n.opType as string) ?? '',
      domain: (n.domain as string) ?? '',
      name: (n.name as string) ?? '',
      overload: (n.overload as string) ?? '',
      docString: (n.docString as string) ?? '',
      outputs: outs,
    });
    for (const [k, v] of kv(n.metadataProps)) node.metadataProps.set(k, v);
    if ((n.deviceConfigurations as Uint8Array[]).length) node.meta.set('onnx.deviceConfigurations', n.deviceConfigurations);
    keepUnknown(n, node.meta, META_UNKNOWN_FIELDS);
    return node;
  });
  // Pass 2: attributes (subgraphs see every value of this graph) and inputs.
  nodes.forEach((node, i) => {
    const n = protos[i]!;
    for (const a of n.attribute as Msg[]) {
      const [name, attr] = attributeFromProto(a, g, options);
      node.attrs.set(name, attr);
    }
    (n.input as string[]).forEach((name, j) => {
      if (name === '') { node.setInput(j, null); return; }
      const v = g.lookup(name);
      if (!v) fail(`graph '${g.name}': ${node.describe()} uses '${name}', which is not defined`);
      node.setInput(j, v);
    });
  });
  for (const vi of msg.valueInfo as Msg[]) {
    const v = g.lookup((vi.name as string) ?? '');
    if (v && v.graph === g) {
      v.type = typeFromProto(vi.type as Msg | undefined);
      if (vi.docString) v.docString = vi.docString as string;
    }
  }
  for (const vi of msg.output as Msg[]) {
    const name = (vi.name as string) ?? '';
    const v = g.lookup(name);
    if (!v) fail(`graph '${g.name}': output '${name}' is not defined`);
    const type = typeFromProto(vi.type as Msg | undefined);
    if (v.graph === g && !v.isInitializer) v.type = type ?? v.type;
    if (vi.docString) v.docString = vi.docString as string;
    g.addOutput(v);
  }
  return g;
}

function valueInfo(name: string, type: ValueType | null, docString = ''): Msg {
  const out: Msg = { name };
  const t = typeToProto(type);
  if (t) out.type = t;
  if (docString) out.docString = docString;
  return out;
}

function graphToProto(g: Graph, opts: EncodeOptions): Msg {
  const inputs = new Set(g.inputs);
  const outputs = new Set(g.outputs);
  const msg: Msg = {
    name: g.name,
    node: g.nodes.map((n) => nodeToProto(n, opts)),
    initializer: [...g.initializers.values()].map((v) => tensorToProto(v.const!, v.name, opts.externalData?.(v.const!, v.name), v.docString)),
    input: g.inputs.map((v) => valueInfo(v.name, v.isInitializer ? ((v.meta.get('onnx.inputType') as ValueType | null | undefined) ?? v.type) : v.type, v.isInitializer ? '' : v.docString)),
    output: g.outputs.map((v) => valueInfo(v.name, v.type, v.docString)),
    valueInfo: [] as Msg[],
    sparseInitializer: g.opaque.sparseInitializers,
    quantizationAnnotation: g.opaque.quantizationAnnotations,
    metadataProps: [...g.metadataProps].map(([key, value]) => ({ key, value })),
  };
  if (g.docString) msg.docString = g.docString;
  restoreUnknown(g.meta, META_UNKNOWN_FIELDS, msg);
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (o && o.type && !outputs.has(o) && !inputs.has(o)) (msg.valueInfo as Msg[]).push(valueInfo(o.name, o.type, o.docString));
    }
  }
  return msg;
}

function nodeToProto(n: Node, opts: EncodeOptions): Msg {
  const out: Msg = {
    input: n.inputs.map((v) => v?.name ?? ''),
    output: n.outputs.map((v) => v?.name ?? ''),
    opType: n.op,
    attribute: [...n.attrs].map(([name, a]) => attributeToProto(name, a, opts)),
    metadataProps: [...n.metadataProps].map(([key, value]) => ({ key, value })),
    deviceConfigurations: (n.meta.get('onnx.deviceConfigurations') as Uint8Array[] | undefined) ?? [],
  };
  if (n.name) out.name = n.name;
  if (n.domain) out.domain = n.domain;
  if (n.overload) out.overload = n.overload;
  if (n.docString) out.docString = n.docString;
  restoreUnknown(n.meta, META_UNKNOWN_FIELDS, out);
  return out;
}

// ---- functions ----

function functionFromProto(f: Msg, options: DecodeOptions): FunctionDef {
  const bodyMsg: Msg = { name: f.name, node: f.node, initializer: [], input: [], output: [], valueInfo: f.valueInfo, sparseInitializer: [], quantizationAnnotation: [], metadataProps: [] };
  const decoded = graphFromProto(bodyMsg, undefined, options, f.input as string[]);
  for (const name of f.output as string[]) {
    const v = decoded.lookup(name);
    if (!v) fail(`function '${String(f.name)}': output '${name}' is not defined`);
    decoded.addOutput(v);
  }
  const attributeDefaults: AttributeMap = new Map();
  for (const a of f.attributeProto as Msg[]) {
    const [name, attr] = attributeFromProto(a, decoded, options);
    attributeDefaults.set(name, attr);
  }
  return {
    domain: normalizeDomain((f.domain as string) ?? ''),
    name: (f.name as string) ?? '',
    overload: (f.overload as string) ?? '',
    attributes: [...(f.attribute as string[])],
    attributeDefaults,
    opsets: opsetMap(f.opsetImport),
    body: decoded,
    docString: (f.docString as string) ?? '',
    metadataProps: kv(f.metadataProps),
  };
}

function functionToProto(fn: FunctionDef, opts: EncodeOptions): Msg {
  const body = fn.body;
  const out: Msg = {
    name: fn.name,
    input: body.inputs.map((v) => v.name),
    output: body.outputs.map((v) => v.name),
    attribute: [...fn.attributes],
    attributeProto: [...fn.attributeDefaults].map(([name, a]) => attributeToProto(name, a, opts)),
    node: body.nodes.map((n) => nodeToProto(n, opts)),
    opsetImport: [...fn.opsets].map(([domain, version]) => ({ domain, version })),
    domain: fn.domain,
    valueInfo: [] as Msg[],
    metadataProps: [...fn.metadataProps].map(([key, value]) => ({ key, value })),
  };
  if (fn.overload) out.overload = fn.overload;
  if (fn.docString) out.docString = fn.docString;
  for (const n of body.nodes) for (const o of n.outputs) if (o?.type) (out.valueInfo as Msg[]).push(valueInfo(o.name, o.type));
  return out;
}

/**
 * Encodes a Graph as ONNX ModelProto bytes. Opset imports come from `graph.opsets` (default
 * domain opset 21 when none is set); model facts from `graph.model` (defaults when absent).
 *
 * @example
 * ```ts
 * const bytes = encodeModel(graph);
 * const session = await ort.InferenceSession.create(bytes);
 * ```
 */
export function encodeModel(graph: Graph, options: EncodeOptions = {}): Uint8Array {
  const info = graph.model;
  const opsets = graph.opsets.size ? graph.opsets : new Map([['', 21]]);
  const msg: Msg = {
    irVersion: info?.irVersion || 10,
    opsetImport: [...opsets].map(([domain, version]) => ({ domain, version })),
    producerName: info ? info.producerName : 'leanformer',
    producerVersion: info?.producerVersion ?? '',
    domain: info?.domain ?? '',
    modelVersion: info?.modelVersion ?? 0,
    docString: info?.docString ?? '',
    graph: graphToProto(graph, options),
    metadataProps: info ? [...info.metadataProps].map(([key, value]) => ({ key, value })) : [],
    trainingInfo: info?.trainingInfo ?? [],
    functions: (info?.functions ?? []).map((f) => functionToProto(f, options)),
    configuration: (graph.meta.get(META_CONFIGURATION) as Uint8Array[] | undefined) ?? [],
  };
  for (const k of ['producerName', 'producerVersion', 'domain', 'docString'] as const) if (msg[k] === '') delete msg[k];
  restoreUnknown(graph.meta, META_UNKNOWN_MODEL_FIELDS, msg);
  if (msg.modelVersion === 0) delete msg.modelVersion;
  try {
    return encodeMessage(P.ModelProto, msg);
  } catch (e) {
    if (e instanceof RangeError) {
      throw new LeanformerError('ENCODE_ERROR', `Model too large to encode in one buffer (${e.message}); save it with external data (saveModel(graph, path, { externalData: true }))`, { cause: e });
    }
    throw e;
  }
}

