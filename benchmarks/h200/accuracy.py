"""Print every compared quantity's CPU-fp32 and GPU-fp32 error against the fp64 reference, per backbone."""
import torch
import tests.test_cuda as t
from codephys_plugin.code_query_head import CodeQueryHead
torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
for name in sorted(t.BACKBONES):
    build, inputs_for = t.BACKBONES[name]
    torch.manual_seed(0)
    template = CodeQueryHead(build(), codebook=t.small_bundle()).eval()
    inputs = inputs_for(template)
    label = torch.randn(inputs.shape[0], t.STEPS, generator=torch.Generator().manual_seed(1))
    def copy(dtype, device):
        head = CodeQueryHead(build(), codebook=t.small_bundle()); head.load_state_dict(template.state_dict())
        return head.to(device=device, dtype=dtype).eval()
    ref = t._step(copy(torch.float64, "cpu"), inputs.double(), label.double())
    cpu = t._step(copy(torch.float32, "cpu"), inputs, label)
    gpu = t._step(copy(torch.float32, torch.device("cuda")), inputs.cuda(), label.cuda())
    print(name, "indices equal", torch.equal(gpu.pop("indices"), ref.pop("indices")), flush=True)
    for key, exact in ref.items():
        n = float(exact.norm()) or 1.0
        print(f"  {key:28s} cpu {float((cpu[key]-exact).norm())/n:.1e} gpu {float((gpu[key]-exact).norm())/n:.1e} (relative to |ref| {n:.2e})", flush=True)
