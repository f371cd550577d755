import { LeanformerError } from '@leanformer/core';
import { forwardChunk, type TinyDecoder } from '@leanformer/attention';
import { cacheProvider, type KVCacheManager } from './managers.js';

/** A node of the prefix tree: an edge of tokens from its parent, the requests that pass through it. */
export interface PrefixNode {
  /** Tokens on the edge into this node. */
  readonly tokens: number[];
  /** Depth (prompt length) at this node. */
  readonly depth: number;
  readonly children: PrefixNode[];
  /** Requests whose prompt ends exactly here. */
  readonly ends: number[];
  /** Number of requests whose prompt passes through (or ends at) this node. */
  count: number;
}

/**
 * Builds a radix (compressed) prefix tree over a batch of prompts, BatchLLM-style: every distinct
 * prefix appears once, so its KV need be computed once.
 *
 * @example
 * ```ts
 * const root = buildPrefixTree([[1, 2, 3], [1, 2, 4]]); // root → [1,2] → {[3], [4]}
 * ```
 */
export function buildPrefixTree(prompts: readonly ArrayLike<number>[]): PrefixNode {
  const root: PrefixNode = { tokens: [], depth: 0, children: [], ends: [], count: prompts.length };
  const build = (node: PrefixNode, ids: number[], depth: number): void => {
    const groups = new Map<number, number[]>();
    for (const id of ids) {
      const p = prompts[id]!;
      if (p.length === depth) node.ends.push(id);
      else {
        const t = p[depth]!;
        const list = groups.get(t) ?? [];
        list.push(id);
        groups.set(t, list);
      }
    }
    for (const members of groups.values()) {
      // Extend the edge while every member agrees and none ends.
      let end = depth + 1;
      for (;;) {
        const first = prompts[members[0]!]!;
        if (members.some((m) => prompts[m]!.length <= end) || members.some((m) => prompts[m]![end] !== first[end])) break;
        end++;
      }
      const child: PrefixNode = { tokens: Array.from({ length: end - depth }, (_, i) => prompts[members[0]!]![depth + i]!), depth: end, children: [], ends: [], count: members.length };
      node.children.push(child);
      build(child, members, end);
    }
  };
  build(root, prompts.map((_, i) => i), 0);
  return root;
}

/** Tokens a prefill computes with prefix sharing (every tree edge once) and without (every prompt whole). */
export function prefixSharingCost(prompts: readonly ArrayLike<number>[]): { shared: number; naive: number; ratio: number } {
  const root = buildPrefixTree(prompts);
  let shared = 0;
  const walk = (n: PrefixNode): void => { shared += n.tokens.length; n.children.forEach(walk); };
  walk(root);
  const naive = prompts.reduce((s, p) => s + p.length, 0);
  return { shared, naive, ratio: naive ? shared / naive : 1 };
}

/** Result of {@link prefillWithPrefixSharing}. */
export interface SharedPrefillResult {
  /** Last-position logits per request. */
  readonly logits: Float32Array[];
  /** Cache sequence id per request (its full prompt's KV, blocks shared copy-on-write). */
  readonly sequences: number[];
  /** Tokens actually run through the model. */
  readonly computedTokens: number;
}

/**
 * Prefills a batch with prefix sharing: walks the prefix tree, runs each edge once on a cache
 * sequence and forks the sequence (copy-on-write with a paged cache) at every branch, so requests
 * with a common prefix reuse its KV. Outputs equal independent prefills.
 */
export function prefillWithPrefixSharing(model: TinyDecoder, cache: KVCacheManager, prompts: readonly ArrayLike<number>[]): SharedPrefillResult {
  if (prompts.some((p) => p.length === 0)) throw new LeanformerError('INVALID_ARGUMENT', 'prefillWithPrefixSharing: every prompt needs at least one token');
  const root = buildPrefixTree(prompts);
  const logits: Float32Array[] = new Array(prompts.length);
  const sequences: number[] = new Array(prompts.length);
  let computed = 0;
  const run = (node: PrefixNode, seq: number, last: Float32Array | null): void => {
    let out = last;
    if (node.tokens.length) {
      out = forwardChunk(model, node.tokens, node.depth - node.tokens.length, cacheProvider(cache, seq));
      computed += node.tokens.length;
    }
    const users = node.ends.length + node.children.length;
    let used = 0;
    // Each user but the last gets a fork; the last takes the sequence itself.
    const take = (): number => (++used === users ? seq : cache.fork(seq));
    for (const id of node.ends) { logits[id] = out!; sequences[id] = take(); }
    for (const c of node.children) run(c, take(), out);
  };
  run(root, cache.createSequence(), null);
  return { logits, sequences, computedTokens: computed };
}
