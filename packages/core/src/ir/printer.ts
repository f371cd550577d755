import type { Attribute } from './attribute.js';
import type { Graph, Node } from './graph.js';
import { formatType } from './types.js';
import type { Tensor } from '../tensor.js';

/** Options of {@link printGraph}. */
export interface PrintOptions {
  /** Tensors with at most this many elements print their values (default 8). */
  readonly maxValues?: number;
}

/**
 * A compact text form of a graph for debugging and CLI output: one line per input,
 * initializer, node and output; node lines look like `%y = Relu(%x)  # float32[batch, 4]`.
 * Subgraph attributes print indented under their node.
 *
 * @example
 * ```ts
 * console.log(printGraph(graph));
 * // graph 'tiny' (ai.onnx 21)
 * //   input %x: float32[batch, 4]
 * //   %y = Relu(%x)  # float32[batch, 4]
 * //   output %y
 * ```
 */
export function printGraph(graph: Graph, options: PrintOptions = {}): string {
  const lines: string[] = [];
  printInto(graph, '', lines, options.maxValues ?? 8);
  return lines.join('\n');
}

function printInto(g: Graph, indent: string, lines: string[], maxValues: number): void {
  const opsets = [...g.opsets].map(([d, v]) => `${d || 'ai.onnx'} ${v}`).join(', ');
  lines.push(`${indent}graph '${g.name}'${opsets ? ` (${opsets})` : ''}`);
  const inner = `${indent}  `;
  for (const v of g.inputs) lines.push(`${inner}input %${v.name}: ${formatType(v.type)}`);
  for (const v of g.initializers.values()) {
    if (g.inputs.includes(v)) continue;
    lines.push(`${inner}init %${v.name}: ${formatType(v.type)}${valuesSuffix(v.const!, maxValues)}`);
  }
  for (const n of g.nodes) printNode(n, inner, lines, maxValues);
  for (const v of g.outputs) lines.push(`${inner}output %${v.name}`);
}

function printNode(n: Node, indent: string, lines: string[], maxValues: number): void {
  const outs = n.outputs.map((v) => (v ? `%${v.name}` : '_')).join(', ');
  const ins = n.inputs.map((v) => (v ? `%${v.name}` : '_')).join(', ');
  const graphs: [string, Graph][] = [];
  const attrs: string[] = [];
  for (const [k, a] of n.attrs) {
    if (a.type === 'graph') { graphs.push([k, a.value]); attrs.push(`${k}=<graph '${a.value.name}'>`); }
    else if (a.type === 'graphs') { a.value.forEach((s, i) => graphs.push([`${k}[${i}]`, s])); attrs.push(`${k}=<${a.value.length} graphs>`); }
    else attrs.push(`${k}=${formatAttr(a, maxValues)}`);
  }
  const op = n.domain ? `${n.domain}::${n.op}` : n.op;
  const types = n.outputs.filter((v) => v).map((v) => formatType(v!.type)).join(', ');
  lines.push(`${indent}${outs ? `${outs} = ` : ''}${op}(${ins})${attrs.length ? ` {${attrs.join(', ')}}` : ''}${types ? `  # ${types}` : ''}`);
  for (const [k, s] of graphs) {
    lines.push(`${indent}  ${k}:`);
    printInto(s, `${indent}    `, lines, maxValues);
  }
}

function formatAttr(a: Attribute, maxValues: number): string {
  switch (a.type) {
    case 'float': case 'int': return String(a.value);
    case 'string': return JSON.stringify(a.value);
    case 'floats': case 'ints': return `[${a.value.join(', ')}]`;
    case 'strings': return `[${a.value.map((s) => JSON.stringify(s)).join(', ')}]`;
    case 'tensor': return `${a.value.dtype.name}[${a.value.shape.join(', ')}]${valuesSuffix(a.value, maxValues)}`;
    case 'tensors': return `<${a.value.length} tensors>`;
    case 'type_proto': return formatType(a.value);
    case 'ref': return `@${a.value}`;
    default: return `<${a.type}>`;
  }
}

function valuesSuffix(t: Tensor, maxValues: number): string {
  if (t.size > maxValues || !t.isLoaded) return '';
  try {
    const vals = t.toArray().map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x)));
    return ` = ${t.shape.length === 0 ? vals[0] : `[${vals.join(', ')}]`}`;
  } catch {
    return ''; // dtypes without a number form (complex) print no values
  }
}
