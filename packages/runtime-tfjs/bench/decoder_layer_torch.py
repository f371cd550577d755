"""Forward of one LLaMA-style decoder layer (RMSNorm, causal MHA with rotate-half RoPE,
SwiGLU MLP) in PyTorch eager fp32 -- the same layer decoder-layer.mjs builds for tfjs.
TF32 is off so the matmuls are true fp32. Prints JSON.

  python3 packages/runtime-tfjs/bench/decoder_layer_torch.py --batch 8 --seq 512 --hidden 1024 --heads 16 --ffn 2816
"""
import argparse, json, math, time
import torch

p = argparse.ArgumentParser()
for k, d in [("batch", 8), ("seq", 512), ("hidden", 1024), ("heads", 16), ("ffn", 2816), ("warmup", 3), ("iters", 10)]:
    p.add_argument(f"--{k}", type=int, default=d)
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
a = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device(a.device)
g = torch.Generator().manual_seed(0)
H, nh, F = a.hidden, a.heads, a.ffn
hd = H // nh
w = lambda i, o: (torch.randn(i, o, generator=g) * 0.02).to(dev)
W = {k: w(H, H) for k in ("q", "k", "v", "o")}
W.update(gate=w(H, F), up=w(H, F), down=w(F, H))
n1 = torch.ones(H, device=dev); n2 = torch.ones(H, device=dev)
inv = 10000.0 ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
ang = torch.arange(a.seq, dtype=torch.float32)[:, None] * inv[None, :]
cos, sin = ang.cos().to(dev), ang.sin().to(dev)
mask = torch.triu(torch.ones(a.seq, a.seq, dtype=torch.bool, device=dev), 1)

def rms(x, s, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * s

def rope(x):
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

def attn(x, sdpa):
    b, s, _ = x.shape
    q = (x @ W["q"]).view(b, s, nh, hd).transpose(1, 2)
    k = (x @ W["k"]).view(b, s, nh, hd).transpose(1, 2)
    v = (x @ W["v"]).view(b, s, nh, hd).transpose(1, 2)
    q, k = rope(q), rope(k)
    if sdpa:
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        sc = (q / math.sqrt(hd)) @ k.transpose(-1, -2)
        o = sc.masked_fill(mask, float("-inf")).softmax(-1) @ v
    return o.transpose(1, 2).reshape(b, s, H) @ W["o"]

def layer(x, sdpa=False):
    h = x + attn(rms(x, n1), sdpa)
    y = rms(h, n2)
    return h + (torch.nn.functional.silu(y @ W["gate"]) * (y @ W["up"])) @ W["down"]

x = torch.randn(a.batch, a.seq, H, generator=g).to(dev)
sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
tokens = a.batch * a.seq
flops = 2 * tokens * (4 * H * H + 3 * H * F) + 2 * 2 * a.batch * a.seq * a.seq * H
out = {"config": vars(a), "gflopPerForward": flops / 1e9, "torch": torch.__version__,
       "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"}
with torch.no_grad():
    for name, sdpa in (("eager", False), ("eager_sdpa", True)):
        for _ in range(a.warmup):
            layer(x, sdpa)
        sync()
        ms = []
        for _ in range(a.iters):
            t = time.perf_counter(); layer(x, sdpa); sync(); ms.append((time.perf_counter() - t) * 1e3)
        ms.sort()
        med = ms[len(ms) // 2]
        out[name] = {"medianMs": med, "minMs": ms[0], "maxMs": ms[-1], "tokensPerSec": tokens / (med / 1e3), "tflops": flops / (med / 1e3) / 1e12}
print(json.dumps(out, indent=2))
