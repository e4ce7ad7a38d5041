"""`manage.py load_universe`: idempotent, all-or-nothing, line-numbered errors."""

import pytest
from django.core.management import CommandError, call_command

from market.models import Instrument, Miner
from market.universe import UNIVERSE_FILE

pytestmark = pytest.mark.django_db


def test_loads_the_universe_and_benchmarks():
    call_command("load_universe")
    assert Miner.objects.count() == 18
    assert set(Instrument.objects.filter(is_benchmark=True).values_list("symbol", flat=True)) == {
        "BTC-USD",
        "WGMI",
        "NVDA",
        "SMH",
        "QQQ",
    }
    iren = Miner.objects.select_related("instrument").get(instrument__symbol="IREN")
    assert iren.segment == "pivot"
    assert str(iren.hpc_contracted_mw) == "200.0"
    assert iren.hpc_as_of == "2025-11-03"
    assert iren.source_urls[0] == "https://sqmagazine.co.uk/microsoft-iren-9b-ai-cloud-deal/"
    # Blanks in the facts stay blank: nothing is estimated.
    wulf = Miner.objects.get(instrument__symbol="WULF")
    assert wulf.hashrate_eh is None and wulf.power_mw is None


def test_running_twice_changes_nothing(capsys):
    call_command("load_universe")
    counts = (Instrument.objects.count(), Miner.objects.count())
    snapshot = list(Miner.objects.order_by("pk").values())
    call_command("load_universe")
    assert (Instrument.objects.count(), Miner.objects.count()) == counts == (23, 18)
    assert list(Miner.objects.order_by("pk").values()) == snapshot
    assert "0 created, 0 updated, 23 unchanged" in capsys.readouterr().out


def test_admin_edits_are_kept_unless_update_is_asked():
    call_command("load_universe")
    Miner.objects.filter(instrument__symbol="IREN").update(segment="ai_hpc")
    call_command("load_universe")
    assert Miner.objects.get(instrument__symbol="IREN").segment == "ai_hpc"
    call_command("load_universe", "--update")
    assert Miner.objects.get(instrument__symbol="IREN").segment == "pivot"


def test_a_bad_file_reports_line_numbers_and_loads_nothing(tmp_path):
    lines = UNIVERSE_FILE.read_text().splitlines()
    lines[4] = lines[4].replace(",miner,", ",minerz,", 1)  # line 5: CLSK, bad segment
    lines[7] = lines[7].replace(",36.5,", ",lots,", 1)  # line 8: RIOT, hashrate not a number
    bad = tmp_path / "universe.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError) as excinfo:
        call_command("load_universe", "--file", str(bad))
    message = str(excinfo.value)
    assert "nothing loaded" in message
    assert "line 5: segment 'minerz' is not one of" in message
    assert "line 8: hashrate_eh 'lots' is not a number" in message
    assert Instrument.objects.count() == 0
    assert Miner.objects.count() == 0


def test_duplicate_symbol_and_missing_column(tmp_path):
    lines = UNIVERSE_FILE.read_text().splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(CommandError, match=r"line 25: symbol IREN already given on line 2"):
        call_command("load_universe", "--file", str(dup))
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("symbol,name\nIREN,IREN Ltd\n")
    with pytest.raises(CommandError, match=r"line 1: missing column\(s\): kind, currency"):
        call_command("load_universe", "--file", str(nocol))
    assert Instrument.objects.count() == 0
