"""``python -m scratchnet.lessons``: list the lessons, one line each, with the command that runs them."""

from __future__ import annotations

from scratchnet.lessons import LESSONS


def main() -> None:
    print("Lessons: the lecture's numbers, computed from the real models.\n")
    width = max(len(name) for name in LESSONS)
    for name, summary in LESSONS.items():
        print(f"  {name:<{width}}  {summary}")
    print("\nRun one:  python -m scratchnet.lessons.<name>   (add --json for data, --plot FILE.png for a figure)")
    print("Start with:  python -m scratchnet.lessons.vgg_params")


if __name__ == "__main__":
    main()
