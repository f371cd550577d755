// Control flow: If and Loop run their compiled bodies with the enclosing values they read.
// The condition and trip count are read on the host (a device read when they were computed there).
import { DTypes, type Graph } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { HostValue } from '../host.js';
import { isHost, type Kernel, type KernelContext, type RValue } from '../kernel.js';

type T = tfc.Tensor;

function runBody(c: KernelContext, g: Graph, feeds: Map<string, RValue>): RValue[] {
  const sub = c.subgraph(g);
  const env = new Map<string, RValue>([...c.outer, ...feeds]);
  const out = sub.execute(env, { training: c.training });
  return g.outputs.map((o) => out.get(o.name)!);
}

function truthy(c: KernelContext, v: RValue): boolean {
  if (isHost(v)) return !!v.data[0];
  return !!(v as T).dataSync()[0];
}

/** Stacks per-iteration values along a new axis 0 (host values stay on the host). */
function stack(c: KernelContext, vals: RValue[]): RValue {
  if (vals.every(isHost)) {
    const hv = vals as HostValue[];
    return new HostValue(hv[0]!.dtype, [hv.length, ...hv[0]!.shape], hv.flatMap((v) => [...v.data]));
  }
  return c.tf.stack(vals.map((v) => (isHost(v) ? v.toTf(c.tf) : v)), 0);
}

export const controlKernels: Record<string, Kernel> = {
  If: (c) => {
    const branch = c.attr<Graph>(truthy(c, c.inputs[0]!) ? 'then_branch' : 'else_branch');
    return runBody(c, branch, new Map());
  },
  Loop: (c) => {
    const body = c.attr<Graph>('body');
    const maxTrip = c.has(0) ? c.host(0)!.data[0]! : Infinity;
    let cond = c.has(1) ? truthy(c, c.inputs[1]!) : true;
    const nCarried = c.count - 2;
    let carried: RValue[] = c.inputs.slice(2).map((v) => v!);
    const nScan = body.outputs.length - 1 - nCarried;
    const scans: RValue[][] = Array.from({ length: nScan }, () => []);
    const names = body.inputs.map((v) => v.name);
    for (let i = 0; i < maxTrip && cond; i++) {
      const feeds = new Map<string, RValue>([[names[0]!, HostValue.scalar(DTypes.int64, i)], [names[1]!, HostValue.scalar(DTypes.bool, cond ? 1 : 0)]]);
      carried.forEach((v, k) => feeds.set(names[2 + k]!, v));
      const out = runBody(c, body, feeds);
      cond = truthy(c, out[0]!);
      carried = out.slice(1, 1 + nCarried);
      out.slice(1 + nCarried).forEach((v, k) => scans[k]!.push(v));
      if (!Number.isFinite(maxTrip) && i > 1_000_000) c.fail('more than a million iterations without a trip count; stopping');
    }
    if (scans.some((s) => s.length === 0) && nScan) c.fail('a Loop with zero iterations and scan outputs is not supported');
    return [...carried, ...scans.map((s) => stack(c, s))];
  },
};
