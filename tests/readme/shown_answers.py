"""How the doc checkers compare an answer a document shows with what its command printed: every shown line must
match a printed line of its own, in any order ("..." in a shown line stands for any text)."""
import re


def line_pattern(shown):
    return re.compile("^" + ".*".join(re.escape(part) for part in shown.split("...")) + "$")


def missing_lines(shown, printed):
    """The shown lines that match no printed line (each printed line matches at most one shown line)."""
    unused = [l.rstrip("\r") for l in printed.splitlines()]
    missing = []
    for line in shown:
        pattern = line_pattern(line)
        hit = next((i for i, p in enumerate(unused) if pattern.match(p)), None)
        if hit is None:
            missing.append(line)
        else:
            del unused[hit]
    return missing
