"""`WeightReport`: what a load did not use and what it did not find, said once per load.

transformers lists unused and newly initialised weights on every `from_pretrained`; users rely
on that list to notice a wrong checkpoint. Every bertcls `from_preset` (backbones and tasks)
fills one report and finishes it with one log record on the `bertcls.models.checkpoints`
logger:

- checkpoint tensors it did not use, each with why: the family's pre-training head or a task
  head when only a backbone is loaded, buffers transformers recomputes (`position_ids`), or
  nothing known (*unexpected*);
- model weights the checkpoint did not provide (newly initialised), each with why: a new task
  head the caller asked for, a pooler nothing reads, or nothing known (*missing*).

Expected entries are named as such and logged at INFO; anything unexpected or missing makes
the record a WARNING, and with `strict=True` an error naming them.
"""

import logging

from bertcls.models.errors import CheckpointError

# The one logger loads report on (the backbones' loading module's).
logger = logging.getLogger("bertcls.models.checkpoints")


class WeightReport:
    """The unused and newly initialised weights of one load.

    Args:
        source: the checkpoint named in the record (its directory).

    Example:

    >>> report = WeightReport("ckpt")
    >>> report.unused(["cls.predictions.bias"], "the pre-training head", expected=True)
    >>> report.initialised(["classifier.weight"], "a new task head (num_classes given)",
    ...                    expected=True)
    >>> for sentence in report.message().split(". "):
    ...     print(sentence)
    ckpt: 1 checkpoint tensor not used: the pre-training head (expected): cls.predictions.bias
    1 model weight newly initialised: a new task head (num_classes given) (expected): ...
    >>> report.unused(["extra.weight"])
    >>> report.problems()
    ['not used, unexpected: extra.weight']
    """

    def __init__(self, source):
        self.source = source
        self._unused = {}  # checkpoint name -> (reason, expected)
        self._new = {}  # model weight -> (reason, expected)

    def unused(self, names, reason="unexpected", expected=False):
        """Record checkpoint tensors this load does not use."""
        for name in names:
            self._unused[name] = (reason, expected)

    def claim(self, names):
        """Checkpoint tensors a later step (a task head) does use after all."""
        for name in names:
            self._unused.pop(name, None)

    def reclassify(self, prefixes, reason="unexpected", expected=False):
        """Unused tensors under `prefixes` get a new reason (a task head's leftovers)."""
        for name in self._unused:
            if name.startswith(tuple(prefixes)):
                self._unused[name] = (reason, expected)

    def initialised(self, names, reason="missing from the checkpoint", expected=False):
        """Record model weights the checkpoint did not provide (left at their initial value)."""
        for name in names:
            self._new[name] = (reason, expected)

    @property
    def unused_names(self):
        return sorted(self._unused)

    @property
    def initialised_names(self):
        return sorted(self._new)

    def problems(self):
        """The unexpected and missing entries, one string per reason."""
        found = []
        for what, entries in (("not used", self._unused), ("newly initialised", self._new)):
            for reason, names in _by_reason(entries, expected=False):
                found.append(f"{what}, {reason}: {', '.join(names)}")
        return found

    def message(self):
        """The record's text ('' when the load used everything and found everything)."""
        parts = []
        for what, entries in (("checkpoint tensor{} not used", self._unused),
                              ("model weight{} newly initialised", self._new)):
            if not entries:
                continue
            groups = [f"{reason}{' (expected)' if expected else ''}: {', '.join(names)}"
                      for expected in (False, True)
                      for reason, names in _by_reason(entries, expected)]
            count = len(entries)
            parts.append(f"{count} {what.format('' if count == 1 else 's')}: "
                         + "; ".join(groups) + ".")
        return f"{self.source}: " + " ".join(parts) if parts else ""

    def finish(self, strict=False):
        """Log the record (WARNING if anything is unexpected or missing, else INFO).

        Raises:
            CheckpointError: with `strict`, when a tensor is unexpected or a weight missing.
        """
        problems = self.problems()
        if strict and problems:
            raise CheckpointError(
                f"{self.source} does not match the model exactly (strict=True): "
                + "; ".join(problems) + ". Pass strict=False to load it with a warning.")
        message = self.message()
        if message:
            logger.log(logging.WARNING if problems else logging.INFO, "%s", message)


def _by_reason(entries, expected):
    groups = {}
    for name, (reason, is_expected) in sorted(entries.items()):
        if is_expected == expected:
            groups.setdefault(reason, []).append(name)
    return sorted(groups.items())
