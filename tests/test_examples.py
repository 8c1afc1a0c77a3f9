"""The examples run end to end."""

from examples.adapters_tour import main


def test_adapters_tour_prints_every_networks_features(capsys):
    main(["--frames", "20"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["deepphys", "efficientphys", "physformer", "physnet", "sspd"]
    assert "spatial 1 × 256 × 20 × 8 × 8" in lines[-1]
