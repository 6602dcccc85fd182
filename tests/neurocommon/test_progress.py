"""The one progress helper: a tqdm bar when shown, the items themselves (and no tqdm) when not."""
import subprocess
import sys

from neurocommon.progress import progress_bar


def test_hidden_bar_returns_the_items_unchanged_without_importing_tqdm():
    code = ("import sys; from neurocommon.progress import progress_bar; items = [1, 2]; "
            "assert progress_bar(items, show=False) is items; assert 'tqdm' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shown_bar_wraps_the_items_and_writes_its_label(capsys):
    assert list(progress_bar(range(3), True, "counting", unit="thing")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "counting" in err and "3/3" in err


def test_bars_updated_by_hand_exist_when_hidden_and_stay_silent(capsys):
    bar = progress_bar(None, show=False, desc="hidden", total=4)
    bar.update(2)
    bar.set_postfix(loss="0.5")
    bar.close()
    assert bar.disable  # a hidden bar takes the calls and draws nothing
    wrapped = progress_bar(range(2), show=False, updates=True)
    assert list(wrapped) == [0, 1] and wrapped.disable
    assert "hidden" not in capsys.readouterr().err
    shown = progress_bar(None, show=True, desc="by hand", total=2, initial=1)
    shown.update(1)
    shown.close()
    assert "by hand" in capsys.readouterr().err and shown.n == 2
