import { formatType, type Graph } from '@leanformer/core';
import type { Command } from '../registry.js';
import { importModel } from '../pipeline.js';

/** What `leanformer inspect --json` prints. */
export interface ModelSummary {
  readonly graph: string;
  readonly irVersion: number | null;
  readonly producer: string;
  /** Opset version per domain ('ai.onnx' for the default domain). */
  readonly opsets: Record<string, number>;
  /** Node count, subgraphs included. */
  readonly nodes: number;
  /** Node count per op (`domain::Op` outside the default domain), most frequent first. */
  readonly ops: Record<string, number>;
  /** Elements in all initializers. */
  readonly parameters: number;
  /** Initializer bytes per dtype. */
  readonly initializerBytes: Record<string, number>;
  readonly inputs: readonly { name: string; type: string }[];
  readonly outputs: readonly { name: string; type: string }[];
}

/** Summarises a graph: ops and counts, parameters, initializer bytes by dtype, inputs/outputs, opsets. */
export function summarize(graph: Graph): ModelSummary {
  const ops = new Map<string, number>();
  let nodes = 0;
  for (const n of graph.allNodes()) { nodes++; ops.set(n.qualifiedOp, (ops.get(n.qualifiedOp) ?? 0) + 1); }
  const bytes: Record<string, number> = {};
  let parameters = 0;
  for (const v of graph.initializers.values()) {
    const t = v.const!;
    parameters += t.size;
    bytes[t.dtype.name] = (bytes[t.dtype.name] ?? 0) + t.byteLength;
  }
  return {
    graph: graph.name,
    irVersion: graph.model?.irVersion ?? null,
    producer: graph.model ? `${graph.model.producerName} ${graph.model.producerVersion}`.trim() : '',
    opsets: Object.fromEntries([...graph.opsets].map(([d, v]) => [d || 'ai.onnx', v])),
    nodes,
    ops: Object.fromEntries([...ops].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    parameters,
    initializerBytes: bytes,
    inputs: graph.inputs.filter((v) => !v.isInitializer).map((v) => ({ name: v.name, type: formatType(v.type) })),
    outputs: graph.outputs.map((v) => ({ name: v.name, type: formatType(v.type) })),
  };
}

/** 1234567 → '1.23 M'. */
export function formatCount(n: number): string {
  if (n < 1e3) return String(n);
  const [d, u] = n < 1e6 ? [1e3, 'k'] : n < 1e9 ? [1e6, 'M'] : [1e9, 'G'];
  return `${(n / d).toFixed(2)} ${u}`;
}

/** 1234567 → '1.18 MiB'. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(2)} ${units[i]}`;
}

function table(rows: readonly (readonly [string, string])[], indent = '  '): string {
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(w)}  ${b}`).join('\n');
}

/** The human form of a summary. */
export function formatSummary(path: string, s: ModelSummary): string {
  const totalBytes = Object.values(s.initializerBytes).reduce((a, b) => a + b, 0);
  const lines = [
    `${path}: graph '${s.graph}'${s.irVersion !== null ? `, IR v${s.irVersion}` : ''}${s.producer ? `, from ${s.producer}` : ''}`,
    `opsets: ${Object.entries(s.opsets).map(([d, v]) => `${d} ${v}`).join(', ') || '(none)'}`,
    'inputs:', table(s.inputs.map((v) => [v.name, v.type])),
    'outputs:', table(s.outputs.map((v) => [v.name, v.type])),
    `ops: ${s.nodes} nodes, ${Object.keys(s.ops).length} kinds`,
    table(Object.entries(s.ops).map(([k, v]) => [k, String(v)])),
    `parameters: ${formatCount(s.parameters)} in ${formatBytes(totalBytes)}${totalBytes ? ` (${Object.entries(s.initializerBytes).map(([d, b]) => `${d} ${formatBytes(b)}`).join(', ')})` : ''}`,
  ];
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

/** `leanformer inspect <model.onnx> [--json]` */
export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Summarise an ONNX model: ops and counts, parameters, initializer bytes by dtype, inputs/outputs, opsets.',
  positionals: ['<model.onnx>'],
  options: { json: { type: 'boolean', description: 'print one JSON object instead of text' } },
  async run({ positionals, values, io }) {
    const path = positionals[0]!;
    const s = summarize(await importModel(path));
    io.out(values['json'] ? `${JSON.stringify(s)}\n` : formatSummary(path, s));
    return 0;
  },
};
