"""``python -m scratchnet.lessons``: the lessons, one entry each, and the command that runs them."""

from __future__ import annotations

from scratchnet.lessons import LESSONS
from scratchnet.lessons._common import wrap


def main() -> None:
    print("Lessons: the lecture's numbers, computed from the real models.\n")
    width = max(len(name) for name in LESSONS)
    for (
        name,
        summary,
    ) in LESSONS.items():  # a long summary continues under itself, within 100 columns
        print(wrap(summary, f"  {name:<{width}}  ", " " * (width + 4)))
    print("\nRun one:  python -m scratchnet.lessons.<name>")
    print("          (add --json for data, --plot FILE.png for a figure)")
    print("Start with:  python -m scratchnet.lessons.vgg_params")


if __name__ == "__main__":
    main()
