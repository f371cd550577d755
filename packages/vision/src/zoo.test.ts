import { describe, expect, it } from 'vitest';
import { zoo, zooNames } from './zoo.js';

describe('zoo', () => {
  it('builds EfficientViT-M0 and reports timm\'s parameter count and the paper\'s MACs', () => {
    const { graph, report } = zoo('efficientvit_m0', { numClasses: 1000 });
    expect(report).toEqual({ name: 'efficientvit_m0', params: 2_349_436, flops: 79_193_600, inputShape: [1, 3, 224, 224] });
    expect(graph.outputs[0]!.shape).toEqual(['batch', 1000]);
  });

  it('takes the class count and knows every family', () => {
    expect(zoo('fasternet_t0', { numClasses: 10 }).report.params).toBe(3_905_500 - 1280 * 990 - 990);
    expect(zoo('squeezetime').report.inputShape).toEqual([1, 16, 3, 112, 112]);
    for (const f of ['efficientvit_m5', 'fasternet_l', 'patnet_t2', 'vit_base', 'squeezetime']) expect(zooNames()).toContain(f);
  });

  it('names the available models when the name is unknown', () => {
    expect(() => zoo('resnet50')).toThrow(/unknown model 'resnet50'; available: efficientvit_m0/);
    expect(() => zoo('efficientvit_m0', { numClasses: -1 })).toThrow(/numClasses must be a non-negative integer/);
  });
});
