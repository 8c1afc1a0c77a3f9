"""Print every compared quantity's CPU-fp32 and GPU-fp32 error against the fp64 reference, per backbone:
the figures behind tests/test_cuda.py's head test. Run from the repository root with PYTHONPATH=."""
import torch

import tests.test_cuda as t

torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
for name in sorted(t.BACKBONES):
    reference, on_cpu, on_gpu = t.float64_cpu_and_gpu_runs(name)
    print(name, "indices equal", torch.equal(on_gpu.pop("indices"), reference.pop("indices")), flush=True)
    for key, exact in reference.items():
        norm = float(exact.norm()) or 1.0
        cpu_error, gpu_error = float((on_cpu[key] - exact).norm()) / norm, float((on_gpu[key] - exact).norm()) / norm
        print(f"  {key:28s} cpu {cpu_error:.1e} gpu {gpu_error:.1e} (relative to |ref| {norm:.2e})", flush=True)
