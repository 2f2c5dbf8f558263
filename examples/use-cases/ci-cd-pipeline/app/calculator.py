"""The sample application the pipeline checks out, tests and deploys."""


def add(a: float, b: float) -> float:
    return a + b


def percent(part: float, whole: float) -> float:
    if whole == 0:
        raise ValueError("whole must not be zero")
    return 100 * part / whole
