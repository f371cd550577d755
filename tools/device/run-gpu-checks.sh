#!/usr/bin/env bash
# Runs on the GPU machine (see README.md beside this file). Writes results under $OUT.
#   bash tools/device/run-gpu-checks.sh [step …]     default: every step, in this order
# Steps: fixtures python-ort-check quant-time bench-quant tfjs vision attention peft cuda-check
# (cuda-check needs ORT's CUDA EP staged by the call before: ../shared/gpu/README.md, "CUDA EP")
export PYTHONUNBUFFERED=1
R=$OUT/results.txt
step() { echo "=== $* ($(date +%T))" >> "$R"; }
mkdir -p /tmp/o/quant /tmp/o/vision /tmp/o/timm /tmp/o/peft
steps=${*:-fixtures python-ort-check quant-time bench-quant tfjs vision attention peft}
step gpu; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >> "$R"; nproc >> "$R"

node_ready=
node_env() {
  [ -n "$node_ready" ] && return
  source .device/enter.sh
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  node_ready=1
}
# The leanformer CLI from the carried packages. Imported from the repo root by name: a script inside
# packages/cli would resolve its own package to packages/cli/dist, which is not carried.
lf() { node --max-old-space-size=16000 --input-type=module -e "const { main } = await import('@leanformer/cli'); process.exit(await main(process.argv.slice(1)));" "$@"; }

for s in $steps; do case $s in
  fixtures) # Python references and fixtures (committed under packages/*/fixtures).
    step quant-fixture; python3 packages/quant/fixtures/make_rtn_fixture.py /tmp/o/quant >> "$R" 2>&1
    step vision-fixtures; python3 packages/vision/fixtures/make_timm_fixtures.py --out /tmp/o/vision --onnx-out /tmp/o/timm 2>/dev/null >> "$R"
    step peft-fixture; python3 packages/peft/fixtures/make_peft_fixture.py >> "$R" 2>&1; cp -r packages/peft/fixtures/peft-llama /tmp/o/peft/
    tar czf "$OUT/fixtures.tgz" -C /tmp/o quant vision peft
    cp /tmp/o/timm/efficientvit_m0.timm.onnx "$OUT/" ;;
  python-ort-check) # Our quantized models (.gpuwork/quant-models, carried) in Python onnxruntime.
    step python-ort-check; python3 packages/quant/fixtures/check_in_python_ort.py .gpuwork/quant-models > "$OUT/python_ort_check.jsonl" 2>&1; echo "rc=$?" >> "$R" ;;
  quant-time) # RTN int4 quantize time: ORT's Python quantizer and ours, same model, interleaved.
    node_env
    for i in 1 2 3; do
      step ort-python-quantizer-$i; python3 packages/quant/fixtures/time_ort_quantizer.py --layers 8 --reps 5 2>/dev/null | tail -1 >> "$R"
      step leanformer-rtn-$i; lf bench quant-rtn --param layers=8 --param reps=5 --json >> "$R" 2>&1
    done ;;
  bench-quant)
    node_env
    step bench-quant; timeout 400 lf bench quant --json >> "$R" 2>&1 ;;
  tfjs) # tfjs WebGPU and ORT's WebGPU EP against PyTorch on one decoder layer.
    node_env
    step tfjs-webgpu+ort-webgpu; timeout 300 lf bench tfjs-decoder-layer --param backend=webgpu --param iters=20 --param ort=webgpu --json > "$OUT/tfjs_ort.json" 2>>"$R"
    step torch; timeout 200 python3 packages/runtime-tfjs/bench/decoder_layer_torch.py > "$OUT/torch.json" 2>>"$R" ;;
  vision) # Our EfficientViT-M0 against timm's own ONNX export (made here), WebGPU EP and CPU EP.
    [ -f /tmp/o/timm/efficientvit_m0.timm.onnx ] || python3 packages/vision/fixtures/make_timm_fixtures.py --out /tmp/o/vision --onnx-out /tmp/o/timm 2>/dev/null >> "$R"
    node_env
    mkdir -p /tmp/lf/node_modules/@leanformer/vision/fixtures && cp /tmp/o/timm/efficientvit_m0.timm.onnx /tmp/lf/node_modules/@leanformer/vision/fixtures/
    step vision-webgpu; timeout 300 lf bench vision --ep webgpu --json > "$OUT/vision_webgpu.json" 2>>"$R"
    step vision-cpu-1; timeout 300 lf bench vision --ep cpu --threads 1 --json > "$OUT/vision_cpu.json" 2>>"$R"
    step vision-cpu-4; timeout 300 lf bench vision --ep cpu --threads 4 --json > "$OUT/vision_cpu4.json" 2>>"$R" ;;
  attention) # Sliding window vs dense at 8K on this machine's ORT CPU.
    node_env
    step bench-attention; timeout 300 lf bench attention --json > "$OUT/attention.json" 2>>"$R" ;;
  peft) # PaCA vs LoRA training steps on tfjs-webgpu.
    node_env
    step peft-paca-webgpu-quick; timeout 200 lf bench peft --quick --param only=paca --ep webgpu --json > "$OUT/peft_quick.json" 2>>"$R"
    step peft-paca-webgpu; timeout 330 lf bench peft --param only=paca --ep webgpu --json > "$OUT/peft.json" 2>>"$R" ;;
  cuda-check) # What leanformer emits for ort-cuda, on the CUDA EP vs the CPU EP (same bytes and feeds).
    node_env
    step cuda-check; timeout 400 node tools/device/cuda-check.mjs > "$OUT/cuda-check.json" 2>>"$R" ;;
  *) step "unknown step $s" ;;
esac; done
step done
