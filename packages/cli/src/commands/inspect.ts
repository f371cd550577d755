import { formatType, parseTarget, targetName, type Graph, type Target } from '@leanformer/core';
import { commandProgressBar } from '@leanformer/core/node';
import { explainLowering, type NodeLowering } from '@leanformer/onnx';
import type { Command } from '../registry.js';
import { importModelFile } from '../pipeline.js';

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

/** What `leanformer inspect --lowering <target> --json` prints. */
export interface LoweringReport {
  readonly target: string;
  /** One entry per node the capability table lowers (every leanformer op), in graph order. */
  readonly nodes: readonly NodeLowering[];
}

/** The capability table's choice for every leanformer op node of `graph` on `target` (see explainLowering in @leanformer/onnx). */
export function loweringReport(graph: Graph, target: Target): LoweringReport {
  return { target: targetName(target), nodes: explainLowering(graph, target) };
}

/** The human form of a lowering report: one line per node with its form, then one line per skipped form. */
export function formatLoweringReport(path: string, r: LoweringReport): string {
  if (!r.nodes.length) return `${path}: no leanformer op nodes; the model runs on ${r.target} as it is\n`;
  const lines = [`${path}: lowering for ${r.target} (${r.nodes.length} leanformer op node${r.nodes.length > 1 ? 's' : ''})`];
  for (const n of r.nodes) {
    lines.push(`${n.node} (${n.op}): ${n.form ?? `cannot be lowered: ${n.refusal ?? 'no form applies'}`}`);
    for (const s of n.skipped) lines.push(`  skipped ${s.form}: ${s.reason}`);
  }
  return lines.join('\n') + '\n';
}

/** `leanformer inspect <model.onnx> [--lowering <target>] [--json]` */
export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Summarise an ONNX model: ops and counts, parameters, initializer bytes by dtype, inputs/outputs, opsets; or how its leanformer ops lower for a target.',
  positionals: ['<model.onnx>'],
  options: {
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
    lowering: { type: 'string', arg: '<target>', description: 'instead of the summary: for each leanformer op node, the lowering form chosen on <target> (ort-cpu, ort-cuda, ort-tensorrt, ort-webgpu, ort-wasm, tfjs-cpu, …) and why each earlier form was skipped' },
  },
  async run({ positionals, values, io }) {
    const path = positionals[0]!;
    const lowering = values['lowering'];
    // The target is checked before the model is read, so a typo fails fast with the allowed names.
    const target = typeof lowering === 'string' ? parseTarget(lowering) : null;
    const bar = commandProgressBar(io, values); // MB read, on a terminal without --json
    let graph: Graph;
    try { graph = await importModelFile(path, bar.update); } finally { bar.done(); }
    if (target) {
      const r = loweringReport(graph, target);
      io.out(values['json'] ? `${JSON.stringify(r)}\n` : formatLoweringReport(path, r));
      return 0;
    }
    const s = summarize(graph);
    io.out(values['json'] ? `${JSON.stringify(s)}\n` : formatSummary(path, s));
    return 0;
  },
};
