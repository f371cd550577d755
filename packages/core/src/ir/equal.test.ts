import { describe, expect, it } from 'vitest';
import { attr, cloneGraph, DTypes, Graph, graphDiff, graphsEqual, Tensor, tensorType, type Node } from '../index.js';

function conv(): Graph {
  const g = new Graph('main');
  g.opsets.set('', 21);
  const x = g.addInput('x', tensorType(DTypes.float32, [1, 3, 8, 8]));
  const w = g.addInitializer('w', Tensor.from('float32', [2, 3, 1, 1], [1, 2, 3, 4, 5, 6]));
  g.addNode({ op: 'Relu', inputs: [x] });
  g.addNode({ op: 'Relu', inputs: [x] });
  g.addNode({ op: 'Relu', inputs: [x] });
  const c = g.addNode({ op: 'Conv', name: 'c', inputs: [x, w, null], attrs: { pads: attr.ints([0, 0, 0, 0]), group: attr.int(1) } });
  g.addOutput(c.output());
  return g;
}

const convNode = (g: Graph): Node => g.nodes[3]!;

describe('graphDiff', () => {
  it('finds no difference between a graph and its copy', () => {
    const g = conv();
    expect(graphDiff(g, g)).toBeNull();
    expect(graphsEqual(g, cloneGraph(g))).toBe(true);
  });

  it('names the node and attribute that differ', () => {
    const a = conv();
    const b = conv();
    convNode(b).attrs.set('pads', attr.ints([1, 1, 1, 1]));
    expect(graphDiff(a, b)).toBe("graph 'main': node 3 (Conv): attribute 'pads' differs: [0, 0, 0, 0] vs [1, 1, 1, 1]");
  });

  it('compares tensors by bytes, dtype and shape', () => {
    const a = conv();
    const b = conv();
    b.setInitializer(b.initializers.get('w')!, Tensor.from('float32', [2, 3, 1, 1], [1, 2, 3, 4, 5, 7]));
    expect(graphDiff(a, b)).toMatch(/initializer 'w': tensor bytes differ at byte 22 of 24/);
    const c = conv();
    c.setInitializer(c.initializers.get('w')!, Tensor.from('float32', [6, 1, 1, 1], [1, 2, 3, 4, 5, 6]));
    expect(graphDiff(a, c)).toMatch(/initializer 'w': type differs/);
  });

  it('distinguishes omitted inputs, names, domains and doc strings', () => {
    const base = conv();
    const edits: ((g: Graph) => void)[] = [
      (g) => convNode(g).setInput(2, g.inputs[0]!),
      (g) => { convNode(g).name = 'other'; },
      (g) => { convNode(g).domain = 'com.example'; },
      (g) => { convNode(g).overload = 'x'; },
      (g) => { convNode(g).docString = 'doc'; },
      (g) => { g.inputs[0]!.docString = 'doc'; },
      (g) => { g.outputs[0]!.type = tensorType(DTypes.float16, null); },
      (g) => { g.opsets.set('', 20); },
      (g) => { g.metadataProps.set('a', 'b'); },
      (g) => { g.nodes[0]!.metadataProps.set('a', 'b'); },
      (g) => { g.docString = 'x'; },
      (g) => { g.opaque.sparseInitializers.push(new Uint8Array([1])); },
      (g) => { g.model = { irVersion: 10, producerName: '', producerVersion: '', domain: '', modelVersion: 0, docString: '', metadataProps: new Map(), functions: [], trainingInfo: [] }; },
    ];
    for (const edit of edits) {
      const g = conv();
      edit(g);
      expect(graphDiff(base, g), edit.toString()).not.toBeNull();
    }
  });

  it('compares floats at float32 precision and ints across number and bigint', () => {
    const a = conv();
    const b = conv();
    convNode(a).attrs.set('alpha', attr.float(0.1));
    convNode(b).attrs.set('alpha', attr.float(Math.fround(0.1)));
    convNode(a).attrs.set('group', attr.int(1n));
    expect(graphDiff(a, b)).toBeNull();
    convNode(b).attrs.set('alpha', attr.float(0.2));
    expect(graphDiff(a, b)).toMatch(/attribute 'alpha' differs/);
  });

  it('recurses into subgraphs and reports the path', () => {
    const make = (op: string): Graph => {
      const g = new Graph('main');
      const c = g.addInput('c', tensorType(DTypes.bool, []));
      const body = new Graph('then', g);
      body.addOutput(body.addNode({ op, inputs: [c], outputs: ['t'] }).output());
      const other = new Graph('else', g);
      other.addOutput(c);
      g.addOutput(g.addNode({ op: 'If', inputs: [c], attrs: { then_branch: attr.graph(body), else_branch: attr.graph(other) } }).output());
      return g;
    };
    expect(graphDiff(make('Not'), make('Not'))).toBeNull();
    expect(graphDiff(make('Not'), make('Identity'))).toBe("graph 'main': node 0 (If): attribute 'then_branch': graph 'then': node 0 (Not): op differs: \"Not\" vs \"Identity\"");
  });
});
