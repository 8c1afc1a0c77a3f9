#!/bin/bash
# One device session: CUDA tests, kernel and head timings, then a full-preset PhysNet bare/head pair until the deadline.
set -u
START=$SECONDS; DEADLINE=$((START + ${BUDGET:-520}))
export PYTHONUNBUFFERED=1
L=$OUT/log.txt
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . > $OUT/install.txt 2>&1 || { echo install failed; cat $OUT/install.txt; exit 1; }
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; nproc; free -g | head -2; df -h /tmp | tail -1
  python3 -c "import torch, triton, timm, torchvision, numpy, scipy, einops; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, 'timm', timm.__version__, 'torchvision', torchvision.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'einops', einops.__version__)"; } > $L 2>&1
FULL="--work /tmp/bench --out /tmp/full --preset full --networks physnet --methods bare head --seeds 0"
OMP_NUM_THREADS=1 python3 -m codephys_plugin.benchmark.cli $FULL --render-only --render-workers 12 > $OUT/prerender.txt 2>&1 &
RENDER=$!
timeout 150 python3 -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py > $OUT/pytest_cuda.txt 2>&1; echo "pytest rc=$? at $((SECONDS-START)) s" >> $L
wait $RENDER; echo "prerender rc=$? at $((SECONDS-START)) s" >> $L
timeout 90 python3 examples/benchmark_nearest_code.py --devices cuda > $OUT/nearest_code.txt 2>&1; echo "nearest_code rc=$? at $((SECONDS-START)) s" >> $L
timeout 90 python3 examples/benchmark_head_overhead.py --devices cuda > $OUT/head_overhead.txt 2>&1; echo "head_overhead rc=$? at $((SECONDS-START)) s" >> $L
LEFT=$((DEADLINE - SECONDS)); echo "full benchmark gets $LEFT s" >> $L
timeout $LEFT python3 -m codephys_plugin.benchmark.cli $FULL --device cuda --codebook benchmarks/cpu/codebook \
  > $OUT/full.txt 2>&1
echo "full rc=$? at $((SECONDS-START)) s" >> $L
nvidia-smi --query-gpu=name,memory.used --format=csv >> $L 2>&1
tar czf $OUT/full.tgz -C /tmp full >> $L 2>&1; echo "done at $((SECONDS-START)) s" >> $L
