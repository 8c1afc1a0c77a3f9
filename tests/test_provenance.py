"""What results record about the machine: the processor's name, which CPU training's numerics depend on."""

from __future__ import annotations

import platform

import torch

from codephys_plugin._provenance import processor_name, provenance


def test_the_processor_is_named_from_cpuinfo_and_otherwise_by_platform(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) @ 2.80GHz\n")
    assert processor_name(cpuinfo) == "Intel(R) Xeon(R) @ 2.80GHz"
    assert processor_name(tmp_path / "absent") == platform.processor()


def test_provenance_records_the_instruction_set_torch_runs_its_cpu_kernels_with():
    machine = provenance()["machine"]
    assert machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert machine["cpus"] == torch.get_num_threads() and isinstance(machine["processor"], str)


def test_provenance_names_the_gpu_only_where_torch_sees_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert provenance()["machine"]["gpu"] is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert provenance()["machine"]["gpu"] == "NVIDIA H200"


def test_provenance_names_the_gpu_a_result_ran_on_not_only_the_current_one(monkeypatch):
    models = {None: "NVIDIA H100", 1: "NVIDIA H200"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name",
                        lambda device=None: models[None if device is None else torch.device(device).index])
    assert provenance("cuda:1")["machine"]["gpu"] == "NVIDIA H200"
    assert provenance(torch.device("cpu"))["machine"]["gpu"] == "NVIDIA H100"
    assert provenance()["machine"]["gpu"] == "NVIDIA H100"
