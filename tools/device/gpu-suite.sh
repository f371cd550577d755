#!/usr/bin/env bash
# The GPU suite of issue #14, in one command on the GPU machine (two calls: README.md, "GPU suite").
#   call 1: bash .device-cuda/stage.sh
#   call 2: REQUIRE_CUDA=1 source .device/enter.sh && bash tools/device/gpu-suite.sh [--quick]
# Writes under $OUT: log, gpu-suite.json (everything below in one object), and the raw JSON of
# each step. Steps, each under its own time limit (a failed step is recorded, the rest still run):
#   model     PyTorch makes a Llama-shaped 1.1B HF folder with random fp16 weights (gpu_peer.py)
#   peer      transformers eager / SDPA decode at 1K and 4K, SDPA prefill 2K, fp16 GEMV (alone on the machine)
#   convert   our `convert --target ort-cuda` of that folder: fp16, and int4 RTN (fp16 compute)
#   bench     `leanformer bench gpu`: int4 GEMV ratio, window vs dense GQA 32K, prefill 2K, decode
#             tokens/s (in-graph Loop and host loop) with kv_host_bytes_per_token and HBM fraction
#   check     cuda-check.mjs: every ort-cuda form on CUDA vs CPU, per-node placement from ORT's profiler
#   conform   ONNX backend node tests (ONNX_NODE_TESTS, or the Python onnx package's copy) on ort-cuda, direct vs IR
#   compile   the peer's static cache + torch.compile decode (last: its compile time is long and bounded by
#             COMPILE_TIMEOUT, default 200 s; the figures above are kept if it runs out)
# STEPS="model convert bench" (say) runs a subset; peer/check/conform need nothing but the model step.
# BENCH_ARGS="--param profile=yes" (say) adds parameters to `bench gpu`.
set -uo pipefail
steps=" ${STEPS:-model peer convert bench check conform compile} "
on() { [[ "$steps" == *" $1 "* ]]; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=; [ "${1:-}" = --quick ] && quick=--quick
: "${OUT:=/tmp/gpu-suite-out}"; mkdir -p "$OUT"
W=/tmp/lf-gpu; mkdir -p "$W"
export PYTHONUNBUFFERED=1
log() { echo "=== $* ($(date +%T))" | tee -a "$OUT/log"; }
# The CLI from the carried packages, imported by name from the working folder (where enter.sh links
# node_modules); a script, so `timeout` can run it.
lf=$W/lf
cat > "$lf" <<'EOS'
#!/usr/bin/env bash
exec node --max-old-space-size=32000 --input-type=module -e "const { main } = await import('@leanformer/cli'); process.exit(await main(process.argv.slice(1)));" "$@"
EOS
chmod +x "$lf"
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)
log "gpu: $gpu"
# HBM bandwidth for the fraction-of-limit figures: H100 SXM 3.35 TB/s, H200 4.8 TB/s.
case "$gpu" in *H200*) hbm=4800 ;; *H100*PCIe*) hbm=2000 ;; *) hbm=3350 ;; esac
layers=22; [ -n "$quick" ] && layers=4

on model && { log model; timeout 180 python3 "$here/gpu_peer.py" make-model --out "$W/hf" --layers $layers > "$W/model.json" 2>>"$OUT/log"; echo "rc=$?" >> "$OUT/log"; }
# The peer runs alone: PyTorch eager decode is launch-bound, so a convert running beside it on the CPU
# would slow it (runs 1-7 overlapped them; their eager figures varied 55-67 tok/s).
on peer && { log peer; timeout 300 python3 "$here/gpu_peer.py" peer --model "$W/hf" $quick > "$OUT/peer.json" 2>"$W/peer.err"; echo "peer rc=$?" >> "$OUT/log"; tail -c 2000 "$W/peer.err" >> "$OUT/log"; }
on convert && { log convert-fp16; ( time timeout 240 "$lf" convert "$W/hf" -o "$W/fp16" --target ort-cuda --json ) > "$W/convert-fp16.json" 2>>"$OUT/log"; echo "rc=$?" >> "$OUT/log"
log convert-int4; ( time timeout 300 "$lf" convert "$W/hf" -o "$W/int4" --target ort-cuda --precision int4 --json ) > "$W/convert-int4.json" 2>>"$OUT/log"; echo "rc=$?" >> "$OUT/log"; }
on bench && { log bench; timeout 300 "$lf" bench gpu $quick --json --param model-fp16="$W/fp16" --param model-int4="$W/int4" --param hbm-gbps=$hbm ${BENCH_ARGS:-} > "$OUT/bench-gpu.json" 2>>"$OUT/log"; echo "rc=$?" >> "$OUT/log"; }
on check && { log check; timeout 200 node "$here/cuda-check.mjs" > "$OUT/cuda-check.json" 2>>"$OUT/log"; echo "rc=$?" >> "$OUT/log"; }
# The node tests: ONNX_NODE_TESTS (e.g. Debian's libonnx-testdata node folder, carried as a tarball and
# unpacked there), else the Python onnx package's copy where it ships one (the GPU machine's does not).
nodes=${ONNX_NODE_TESTS:-$(python3 -c 'import onnx,os;print(os.path.join(os.path.dirname(onnx.__file__),"backend","test","data","node"))' 2>>"$OUT/log")}
if ! on conform; then :; elif [ -n "$quick" ] || [ ! -d "$nodes" ]; then log "conform skipped (quick, or no ONNX backend test data at '$nodes': $(ls "$(dirname "$nodes")" 2>&1 | head -3 | tr '\n' ' '))"; else
  log conform-direct; timeout 90 "$lf" conformance "$nodes" --backend ort-cuda --direct --json > "$W/conf-direct.json" 2>>"$OUT/log"; echo "rc=$?" >> "$OUT/log"
  log conform-ir; timeout 90 "$lf" conformance "$nodes" --backend ort-cuda --json > "$W/conf-ir.json" 2>>"$OUT/log"; echo "rc=$?" >> "$OUT/log"
fi
on compile && [ -z "$quick" ] && { log "peer compile"; timeout "${COMPILE_TIMEOUT:-200}" python3 "$here/gpu_peer.py" peer --model "$W/hf" --compile-only > "$OUT/peer-compile.json" 2>"$W/peer-compile.err"; echo "rc=$?" >> "$OUT/log"; tail -c 1500 "$W/peer-compile.err" >> "$OUT/log"; }
log assemble
node --input-type=module - "$W" "$OUT" "$gpu" <<'EOF' 2>>"$OUT/log"
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const [W, OUT, gpu] = process.argv.slice(2);
const read = (p) => { try { const t = readFileSync(p, 'utf8'); const i = t.indexOf('{'); return i < 0 ? { error: t.slice(0, 500) } : JSON.parse(t.slice(i, t.lastIndexOf('}') + 1)); } catch (e) { return existsSync(p) ? { error: String(e).slice(0, 300) } : null; } };
const out = { date: new Date().toISOString(), gpu, model: read(`${W}/model.json`), convert: { fp16: read(`${W}/convert-fp16.json`), int4: read(`${W}/convert-int4.json`) },
  bench: read(`${OUT}/bench-gpu.json`), peer: read(`${OUT}/peer.json`), peerCompile: read(`${OUT}/peer-compile.json`), cudaCheck: read(`${OUT}/cuda-check.json`) };
const [d, ir] = [read(`${W}/conf-direct.json`), read(`${W}/conf-ir.json`)];
if (d && ir && d.cases && ir.cases) {
  const pass = (r) => new Set(r.cases.filter((c) => c.status === 'passed').map((c) => c.name));
  const [pd, pi] = [pass(d), pass(ir)];
  out.conformance = { backend: 'ort-cuda', direct: { total: d.total, passed: d.passed, failed: d.failed, errored: d.errored }, ir: { total: ir.total, passed: ir.passed, failed: ir.failed, errored: ir.errored },
    lostByIr: [...pd].filter((n) => !pi.has(n)), gainedByIr: [...pi].filter((n) => !pd.has(n)).length };
} else out.conformance = { direct: d && (d.error ?? null), ir: ir && (ir.error ?? null) };
writeFileSync(`${OUT}/gpu-suite.json`, `${JSON.stringify(out, null, 2)}\n`);
EOF
log done
