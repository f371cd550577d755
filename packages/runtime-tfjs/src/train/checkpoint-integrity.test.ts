// Training checkpoints carry CRC-32C checksums (safetensors metadata, core's `{ checksums: true }`):
// a damaged checkpoint is a CORRUPT_FILE error naming the tensor, not a silently different
// resume; a version-1 checkpoint (written before checksums) still resumes.
import { readSafetensors, readSafetensorsHeader, SAFETENSORS_CHECKSUM_KEY, transformerDecoder, writeSafetensors } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { syntheticSequenceTask } from './synthetic.js';
import { crossEntropyLoss, train } from './train.js';

const graph = () => transformerDecoder({ vocabSize: 16, hidden: 16, layers: 1, heads: 2, ffn: 32, seed: 0, initStd: 0.1 });
const opts = { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'adamw' as const, lr: 5e-3 }, data: syntheticSequenceTask({ vocab: 16, seqLen: 8, batch: 4, seed: 1 }) };

describe('training checkpoint integrity', () => {
  it('refuses a damaged checkpoint naming the tensor; resumes an intact one and a version-1 one alike', async () => {
    const first = await train(graph(), { ...opts, steps: 1, totalSteps: 2 });
    const ck = first.checkpoint;
    const header = readSafetensorsHeader(ck);
    expect(header.metadata.format).toBe('leanformer-tfjs-train/2');
    const e = header.entries.find((x) => x.name === 'model.layers.0.mlp.up_proj.weight')!;
    const bad = ck.slice();
    bad[header.dataStart + e.dataOffsets[0] + 9]! ^= 0x01; // one mantissa bit: a tiny, otherwise silent change
    await expect(train(graph(), { ...opts, steps: 2, resumeFrom: bad })).rejects.toThrow(expect.objectContaining({ code: 'CORRUPT_FILE', message: expect.stringContaining(`tensor '${e.name}'`) }));
    // Damage to the checksum key's name must not pass as a file without checksums.
    const renamed = ck.slice();
    renamed[new TextDecoder().decode(ck.subarray(0, header.dataStart)).indexOf(SAFETENSORS_CHECKSUM_KEY)]! ^= 0x01;
    await expect(train(graph(), { ...opts, steps: 2, resumeFrom: renamed })).rejects.toThrow(expect.objectContaining({ code: 'CORRUPT_FILE' }));

    const { tensors, metadata } = readSafetensors(ck);
    const { [SAFETENSORS_CHECKSUM_KEY]: _sums, ...rest } = metadata;
    const legacy = writeSafetensors(tensors, { ...rest, format: 'leanformer-tfjs-train/1' });
    const a = await train(graph(), { ...opts, steps: 2, resumeFrom: ck });
    const b = await train(graph(), { ...opts, steps: 2, resumeFrom: legacy });
    expect(b.losses).toEqual(a.losses);
  }, 60_000);
});
