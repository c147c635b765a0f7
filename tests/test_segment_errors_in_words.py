"""The segment builder names a problem at the rule a marketer sees, never at a JSON path."""

import pytest

from crm.services.errors import InvalidInput
from crm.web.audiences import in_words


@pytest.mark.parametrize(
    ("path", "problem", "said"),
    [
        ("rules[0].value", "Must not be empty.", "Rule 1: value must not be empty."),
        ("rules[1].rules[2].operator", "Must be =.", "Group 2, rule 3: operator must be =."),
        ("rules[1].rules", "Must be a non-empty list.", "Group 2: rules must be a non-empty list."),
        ("rules[3]", "Expected a rule.", "Rule 4: Expected a rule."),
        ("rules", "At most 200 rules.", "At most 200 rules."),
    ],
)  # fmt: skip
def test_a_problem_is_said_at_its_rule(path, problem, said):
    error = InvalidInput("The audience rules are invalid.", {path: [problem]})
    assert in_words(error) == f"The audience rules are invalid. {said}"
