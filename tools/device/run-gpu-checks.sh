#!/usr/bin/env bash
# Runs on the GPU machine (see README.md beside this file). Writes results under $OUT.
export PYTHONUNBUFFERED=1
R=$OUT/results.txt
step() { echo "=== $* ($(date +%T))" >> "$R"; }
mkdir -p /tmp/o/quant /tmp/o/vision /tmp/o/timm /tmp/o/peft
step gpu; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >> "$R"
# 1. Python references and fixtures (committed under packages/*/fixtures).
step quant-fixture; python3 packages/quant/fixtures/make_rtn_fixture.py /tmp/o/quant >> "$R" 2>&1
step vision-fixtures; python3 packages/vision/fixtures/make_timm_fixtures.py --out /tmp/o/vision --onnx-out /tmp/o/timm 2>/dev/null >> "$R"
step peft-fixture; python3 packages/peft/fixtures/make_peft_fixture.py >> "$R" 2>&1; cp -r packages/peft/fixtures/peft-llama /tmp/o/peft/
tar czf "$OUT/fixtures.tgz" -C /tmp/o quant vision peft
cp /tmp/o/timm/efficientvit_m0.timm.onnx "$OUT/"
# 2. Our quantized models in Python onnxruntime; ORT's quantizer timed on this CPU.
step python-ort-check; python3 packages/quant/fixtures/check_in_python_ort.py .gpuwork/quant-models > "$OUT/python_ort_check.jsonl" 2>&1; echo "rc=$?" >> "$R"
step ort-python-quantizer; python3 packages/quant/fixtures/time_ort_quantizer.py --layers 8 2>/dev/null | tail -1 >> "$R"
# 3. Node: our CLI and benches (WebGPU through dawn.node and ORT's WebGPU EP).
source .device/enter.sh
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
step bench-quant; timeout 400 node -e "import('@leanformer/cli').then(m=>m.main(['bench','quant','--json'])).then(c=>process.exit(c))" >> "$R" 2>&1
cp packages/runtime-tfjs/bench/decoder-layer.mjs ./_tfjs.mjs; cp packages/vision/bench/vision.mjs ./_vision.mjs
step tfjs-webgpu+ort-webgpu; timeout 300 node _tfjs.mjs --backend webgpu --iters 20 --ort webgpu > "$OUT/tfjs_ort.json" 2>>"$R"
step torch; timeout 200 python3 packages/runtime-tfjs/bench/decoder_layer_torch.py > "$OUT/torch.json" 2>>"$R"
mkdir -p /tmp/lf/node_modules/@leanformer/vision/fixtures && cp /tmp/o/timm/efficientvit_m0.timm.onnx /tmp/lf/node_modules/@leanformer/vision/fixtures/
step vision-webgpu; timeout 300 node _vision.mjs --ep webgpu > "$OUT/vision_webgpu.json" 2>>"$R"
step vision-cpu; timeout 300 node _vision.mjs --ep cpu --threads 1 > "$OUT/vision_cpu.json" 2>>"$R"
rm -f _tfjs.mjs _vision.mjs
step done
