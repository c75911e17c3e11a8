"""A run that collapsed is flagged (advkd.evaluate.health): at chance, or a loss that diverged."""

from advkd.evaluate import collapse_flags


def epochs(*losses):
    return [{"epoch": i + 1, "train_loss": loss} for i, loss in enumerate(losses)]


def test_a_healthy_run_has_no_flags():
    assert collapse_flags(epochs(2.3, 0.9, 0.4), 0.88, [0, 1, 2, 3] * 25) == []


def test_chance_accuracy_is_flagged_against_the_most_common_class():
    labels = [0] * 30 + [1] * 70
    assert collapse_flags(epochs(1.0, 0.5), 0.70, labels) == [
        "test accuracy 70.00% is at chance (70.00%, always the most common class)"
    ]
    assert collapse_flags(epochs(1.0, 0.5), 0.72, labels) == []


def test_a_diverged_loss_is_flagged():
    """The Fashion-MNIST KD student at lr 0.1: loss 10 after one epoch, 36 at the end."""
    (flag,) = collapse_flags(epochs(10.27, 52.2, 36.0), 0.5, list(range(10)) * 10)
    assert flag.startswith("training loss ended at 36, 3.5x its first epoch's 10.27")
    assert collapse_flags(epochs(1.0), 0.5, list(range(10))) == []  # one epoch: nothing to compare
