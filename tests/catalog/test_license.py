from __future__ import annotations

import pytest

from modelport.catalog.license import normalize_license, spdx_from_name


@pytest.mark.parametrize(
    ("expression", "canonical"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("apache-2.0", "Apache-2.0"),
        ("GPL-3.0", "GPL-3.0"),  # deprecated id, still what the GitHub API reports
        ("GPL-2.0+", "GPL-2.0+"),
        ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
        ("CC-BY-4.0 and MIT", "CC-BY-4.0 AND MIT"),
        (
            "(MIT AND BSD-3-Clause) OR GPL-3.0-or-later",
            "(MIT AND BSD-3-Clause) OR GPL-3.0-or-later",
        ),
        ("Apache-2.0 WITH LLVM-exception", "Apache-2.0 WITH LLVM-exception"),
        ("LicenseRef-Proprietary-1.0", "LicenseRef-Proprietary-1.0"),
        (
            "DocumentRef-spdx-tool:LicenseRef-MIT-Style-2",
            "DocumentRef-spdx-tool:LicenseRef-MIT-Style-2",
        ),
    ],
)
def test_valid_expressions_are_normalised(expression: str, canonical: str) -> None:
    assert normalize_license(expression) == canonical


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("", "an empty license"),
        ("Foo-1.0", "'Foo-1.0' is not a known SPDX license identifier"),
        ("Apache License 2.0", "'Apache' is not a known SPDX license identifier"),
        ("MIT OR", "the expression ends too early"),
        ("OR MIT", "a license identifier is expected before 'OR'"),
        ("MIT Apache-2.0", "unexpected 'Apache-2.0'"),
        ("(MIT AND BSD-3-Clause", "the expression ends too early"),
        ("MIT)", "unexpected ')'"),
        (
            "GPL-2.0-only WITH Bogus-exception",
            "'Bogus-exception' is not a known SPDX license exception",
        ),
        ("LicenseRef-", "'LicenseRef-' is not a known SPDX license identifier"),
    ],
)
def test_invalid_expressions_say_why_and_state_the_rule(expression: str, why: str) -> None:
    with pytest.raises(ValueError, match="SPDX") as info:
        normalize_license(expression)
    assert why in str(info.value)
    assert "must be an SPDX license identifier or expression" in str(info.value)


def test_a_free_text_name_suggests_the_identifier() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'Apache-2\.0'\?"):
        normalize_license("Apache License 2.0")


@pytest.mark.parametrize(
    ("name", "spdx"),
    [
        ("Apache 2.0", "Apache-2.0"),
        ("  Apache   License 2.0 ", "Apache-2.0"),
        ("MIT License", "MIT"),
        ("GNU General Public License v3.0", "GPL-3.0-only"),
        ("bsd-3-clause", "BSD-3-Clause"),
        ("CC BY-NC-SA 4.0", "CC-BY-NC-SA-4.0"),
        ("Some Custom Licence", None),
    ],
)
def test_spdx_from_name(name: str, spdx: str | None) -> None:
    assert spdx_from_name(name) == spdx
