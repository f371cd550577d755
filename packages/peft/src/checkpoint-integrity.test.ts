// Finetune checkpoints carry CRC-32C checksums (safetensors metadata, core's `{ checksums: true }`):
// a damaged checkpoint is a CORRUPT_FILE error naming the tensor, not a silently different
// trajectory; a version-1 checkpoint (written before checksums) still resumes.
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsHeader, SAFETENSORS_CHECKSUM_KEY, transformerDecoder, writeSafetensors } from '@leanformer/core';
import { finetune, syntheticInstructionTask } from './index.js';

const model = () => transformerDecoder({ vocabSize: 24, hidden: 16, layers: 1, heads: 2, ffn: 32, seed: 7, initStd: 0.15 });
const opts = { method: 'lora' as const, data: syntheticInstructionTask({ vocab: 24, seqLen: 9, batch: 4, seed: 2 }), lora: { r: 2 }, targetModules: ['q_proj'] };

describe('finetune checkpoint integrity', () => {
  it('refuses a damaged checkpoint naming the tensor; resumes an intact one and a version-1 one alike', async () => {
    const ck = (await finetune(model(), { ...opts, steps: 1 })).checkpoint;
    const header = readSafetensorsHeader(ck);
    expect(header.metadata.format).toBe('leanformer-peft-finetune/2');
    const e = header.entries[0]!;
    const bad = ck.slice();
    bad[header.dataStart + e.dataOffsets[0] + 1]! ^= 0x01;
    await expect(finetune(model(), { ...opts, steps: 2, resumeFrom: bad })).rejects.toThrow(expect.objectContaining({ code: 'CORRUPT_FILE', message: expect.stringContaining(`tensor '${e.name}'`) }));

    const { tensors, metadata } = readSafetensors(ck);
    const { [SAFETENSORS_CHECKSUM_KEY]: _sums, ...rest } = metadata;
    const legacy = writeSafetensors(tensors, { ...rest, format: 'leanformer-peft-finetune/1' });
    const a = await finetune(model(), { ...opts, steps: 2, resumeFrom: ck });
    const b = await finetune(model(), { ...opts, steps: 2, resumeFrom: legacy });
    expect(b.losses).toEqual(a.losses);
  }, 60_000);
});
