#!/usr/bin/env python3
"""PyTorch peer of `leanformer bench gpu`, run in the same command on the GPU machine (gpu-suite.sh).

  python3 gpu_peer.py make-model --out DIR [--layers 22]   a Llama-shaped HF folder, random fp16 weights
  python3 gpu_peer.py peer --model DIR [--quick] [--compile | --compile-only] > peer.json

The model: hidden 2048, 22 layers, 32 q / 4 kv heads, FFN 5632, vocab 32000 (TinyLlama-1.1B's shape),
weights drawn on the GPU (speed does not depend on values). Figures, batch 1, fp16, CUDA-synchronized:
decode tokens/s at contexts 1K and 4K with transformers eager and SDPA attention (decode time =
t(generate 1 + n) - t(generate 1), over n), optionally static cache + torch.compile; prefill tokens/s
at 2K (SDPA, one forward, logits on the device); fp16 GEMV chains of the shapes the suite times.
"""
import argparse
import json
import sys
import time

import torch


def make_model(out: str, layers: int) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(hidden_size=2048, intermediate_size=5632, num_hidden_layers=layers, num_attention_heads=32,
                      num_key_value_heads=4, vocab_size=32000, max_position_embeddings=8192, rms_norm_eps=1e-5,
                      rope_theta=10000.0, tie_word_embeddings=False, torch_dtype='float16', bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    with torch.device('cuda'):
        model = LlamaForCausalLM(cfg).half()
    model.save_pretrained(out, safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    print(json.dumps({'out': out, 'parameters': n, 'layers': layers}))


def sync_time(fn, reps: int, warm: int = 1) -> float:
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def decode_rate(model, ctx: int, n: int, reps: int, **gen) -> dict:
    ids = (torch.arange(ctx, device='cuda') * 7919 + 13) % model.config.vocab_size
    ids = ids[None, :]
    mask = torch.ones_like(ids)

    def run(k):
        return lambda: model.generate(ids, attention_mask=mask, max_new_tokens=k, min_new_tokens=k, do_sample=False, pad_token_id=0, **gen)
    t1 = sync_time(run(1), reps)
    tn = sync_time(run(1 + n), reps)
    ms = (tn - t1) / n * 1e3
    return {'msPerToken': ms, 'tokensPerS': 1e3 / ms, 'prefillMs': t1 * 1e3}


def peer(model_dir: str, quick: bool, compile_: bool, compile_only: bool = False) -> dict:
    from transformers import AutoModelForCausalLM
    n = 16 if quick else 64
    reps = 2 if quick else 3
    out = {'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0), 'newTokens': n}
    try:
        import transformers
        out['transformers'] = transformers.__version__
    except Exception:  # noqa: BLE001
        pass
    for impl in [] if compile_only else ['eager', 'sdpa']:
        model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float16, attn_implementation=impl).cuda().eval()
        with torch.inference_mode():
            for ctx in [1024, 4096]:
                try:
                    out[f'decode_{impl}_{ctx}'] = decode_rate(model, ctx, n, reps)
                except Exception as e:  # noqa: BLE001
                    out[f'decode_{impl}_{ctx}'] = {'error': str(e)[:300]}
            if impl == 'sdpa':
                ids = ((torch.arange(2048, device='cuda') * 7919 + 13) % model.config.vocab_size)[None, :]
                ms = sync_time(lambda: model(ids), 5 if quick else 10, 2) * 1e3
                out['prefill_sdpa_2048'] = {'ms': ms, 'tokensPerS': 2048 / (ms / 1e3)}
        del model
        torch.cuda.empty_cache()
    if compile_ or compile_only:
        t0 = time.perf_counter()
        try:
            model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float16, attn_implementation='sdpa').cuda().eval()
            model.forward = torch.compile(model.forward, mode='reduce-overhead', fullgraph=True)
            with torch.inference_mode():
                for ctx in [1024, 4096]:
                    out[f'decode_static_compile_{ctx}'] = decode_rate(model, ctx, n, reps, cache_implementation='static')
        except Exception as e:  # noqa: BLE001
            out['decode_static_compile_error'] = str(e)[:500]
        out['compileSeconds'] = time.perf_counter() - t0
    # fp16 GEMV chains, batch 1 (the shapes of the suite's int4_gemv_ratio), CUDA-synchronized.
    for K, N in [] if compile_only else [(4096, 4096), (4096, 14336)]:
        L = 8
        ws = [torch.randn(K, N, device='cuda', dtype=torch.float16) * 0.02 for _ in range(L)]
        x = torch.randn(1, K, device='cuda', dtype=torch.float16)

        def chain():
            y = x
            for w in ws:
                y = (y @ w)[:, :K]
            return y
        with torch.inference_mode():
            out[f'gemv_fp16_{K}x{N}'] = {'msPerLayer': sync_time(chain, 20, 3) * 1e3 / L}
        del ws
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make-model')
    m.add_argument('--out', required=True)
    m.add_argument('--layers', type=int, default=22)
    p = sub.add_parser('peer')
    p.add_argument('--model', required=True)
    p.add_argument('--quick', action='store_true')
    p.add_argument('--compile', action='store_true')
    p.add_argument('--compile-only', action='store_true', help='only the static cache + torch.compile decode figures')
    a = ap.parse_args()
    if a.cmd == 'make-model':
        make_model(a.out, a.layers)
    else:
        json.dump(peer(a.model, a.quick, a.compile, a.compile_only), sys.stdout, indent=2)
        print()


if __name__ == '__main__':
    main()
