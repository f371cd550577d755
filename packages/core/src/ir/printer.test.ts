import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, attr, printGraph, tensorType } from '../index.js';

describe('printGraph', () => {
  it('prints inputs, initializers, nodes with types and attributes, subgraphs and outputs', () => {
    const g = new Graph('tiny');
    g.opsets.set('', 21);
    const x = g.addInput('x', tensorType(DTypes.float32, ['batch', 4]));
    const half = g.addInitializer('half', Tensor.from('float32', [], [0.5]));
    const y = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] }).output();
    y.type = tensorType(DTypes.float32, ['batch', 4]);
    const s = g.addNode({ op: 'Softmax', inputs: [y], attrs: { axis: attr.int(-1) }, outputs: ['s'] });
    const m = g.addNode({ op: 'Mul', domain: 'com.microsoft', inputs: [s.output(), half], outputs: ['m'] });
    const body = new Graph('body', g);
    body.addOutput(body.addNode({ op: 'Identity', inputs: [m.output()], outputs: ['i'] }).output());
    g.addNode({ op: 'If', inputs: [null], attrs: { then_branch: attr.graph(body) }, outputs: ['r'] });
    g.addOutput(m.output());
    expect(printGraph(g)).toBe([
      "graph 'tiny' (ai.onnx 21)",
      '  input %x: float32[batch, 4]',
      '  init %half: float32[] = 0.5',
      '  %y = Relu(%x)  # float32[batch, 4]',
      '  %s = Softmax(%y) {axis=-1}  # ?',
      '  %m = com.microsoft::Mul(%s, %half)  # ?',
      "  %r = If(_) {then_branch=<graph 'body'>}  # ?",
      '    then_branch:',
      "      graph 'body'",
      '        %i = Identity(%m)  # ?',
      '        output %i',
      '  output %m',
    ].join('\n'));
  });
});
